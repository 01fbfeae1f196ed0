// `state ID`: the runtime-spec State as JSON, observed now (see store.ts).
import type { Globals, Logger } from "./flags.ts";
import { parseFlags, writeOut } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { Store, stateJson } from "./store.ts";

export default function state(g: Globals, _log: Logger, argv: string[]): number {
  const { args } = parseFlags(argv, {}, "state");
  if (args.length !== 1) throw new RuntimeError(`"state" requires exactly 1 argument(s)`);
  const store = new Store(g.root);
  const r = store.get(args[0]!);
  writeOut(JSON.stringify(stateJson(r, store.status(r)), null, "  ") + "\n");
  return 0;
}
