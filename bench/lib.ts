// What every benchmark here needs: where the binary is, a median, a timed command, and the
// preconditions (root, a built dist/minid).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "..");
export const BIN = join(REPO, "dist", "minid");

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall time of one run of `cmd` in ms; throws with its stderr when it fails. */
export function timeCommand(cmd: string[], opts: { cwd?: string } = {}): number {
  const t0 = performance.now();
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "pipe", stdin: "ignore", cwd: opts.cwd });
  const dt = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return dt;
}

/** Exit unless root; build dist/minid when it is missing. */
export function benchPreconditions(name: string): void {
  if (process.getuid?.() !== 0) {
    console.error(`${name} needs root`);
    process.exit(1);
  }
  if (!existsSync(BIN)) Bun.spawnSync([process.execPath, join(REPO, "build.ts")], { stdout: "inherit", stderr: "inherit" });
}

/**
 * Take away the bridges and firewall rules of the minid roots at `dir` or right under it
 * (the default bridge outlives containers, as docker0 does); call before deleting them.
 */
export function dropNetworking(dir: string): void {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  const { removeHostNetworking } = require("../src/network/networks.ts") as typeof import("../src/network/networks.ts");
  let subs: string[] = [];
  try {
    subs = readdirSync(dir).map((n) => join(dir, n));
  } catch {}
  for (const d of [dir, ...subs]) {
    if (!existsSync(join(d, "networks"))) continue;
    try {
      removeHostNetworking(d);
    } catch (e) {
      console.error(`cannot remove the networking of ${d}: ${(e as Error).message}`);
    }
  }
}
