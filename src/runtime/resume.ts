// `resume ID`: thaw a paused container.
import type { Globals, Logger } from "./flags.ts";
import { setFrozen } from "./pause.ts";

export default function resume(g: Globals, _log: Logger, argv: string[]): number {
  return setFrozen(g, argv, false);
}
