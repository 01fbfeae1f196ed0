// Shared by the build feature files (build, build-run-mount): one store and scratch directory
// per file (from useImageRoot), contexts written from a file map, builds and runs that throw
// on failure, and the "nothing left behind" check every build test ends with.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "bun:test";
import { useImageRoot } from "./images.ts";

export function useBuildRoot(label: string) {
  const { r, work, ok } = useImageRoot(label);
  /** A context directory under the scratch dir with these files (Dockerfile among them). */
  const context = (name: string, files: Record<string, string>): string => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(dir, p, ".."), { recursive: true });
      writeFileSync(join(dir, p), c);
    }
    return dir;
  };
  const build = (dir: string, extra: string[] = [], env?: Record<string, string>) => ok(["build", ...extra, dir], { env });
  const inspectConfig = (ref: string) => JSON.parse(ok(["image", "inspect", ref]).stdout)[0].Config;
  /** A script in a throwaway container of the image, its entrypoint cleared; its stdout. */
  const runIn = (image: string, script: string): string => ok(["run", "--rm", "--entrypoint", "", image, "sh", "-c", script]).stdout;
  /** No container, mount or scratch entry (but this process's pins) is left. */
  const assertClean = () => {
    expect(r.containerIds()).toEqual([]);
    expect(r.leakedMounts()).toEqual([]);
    const tmp = join(r.dir, "image", "tmp");
    const left = existsSync(tmp) ? readdirSync(tmp).filter((n) => !n.startsWith("pin-")) : [];
    expect(left).toEqual([]);
  };
  return { r, work, ok, context, build, inspectConfig, runIn, assertClean };
}
