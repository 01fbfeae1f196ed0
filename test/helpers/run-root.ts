// The shared setup of the `minid run` feature files (run-namespaces, run-argv-env, exit-codes,
// run-basics, volumes, run-errors, cli): one TestRoot per file and the `run --rm` shorthand.
import { afterAll, beforeAll } from "bun:test";
import { TestRoot, ensureBuilt } from "./minid.ts";
import { have } from "./requires.ts";

/** A TestRoot for this file (made at once, used only as root) and `run` bound to it. */
export function useRunRoot(label: string) {
  const r = new TestRoot(label);
  beforeAll(() => {
    if (have("root")) ensureBuilt();
  });
  afterAll(() => r.cleanup());
  /** `run --rm [flags] busybox CMD...`: flags are the words up to the first non-flag. */
  function run(...args: string[]) {
    let i = 0;
    while (i < args.length && args[i]!.startsWith("-")) i += 2;
    return r.run(["run", "--rm", ...args.slice(0, i), "busybox", ...args.slice(i)]);
  }
  return { r, run };
}
