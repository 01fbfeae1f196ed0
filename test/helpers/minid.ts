// Integration-test harness: runs the real minid (compiled by default, or from source with
// MINID_TEST_SOURCE=1) against a private --root, and checks that nothing is left mounted.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";

export const REPO = resolve(import.meta.dir, "..", "..");
export const BIN = join(REPO, "dist", "minid");
export const BUN = process.execPath;

let built = false;
/** Build dist/minid once per test process if it is missing or older than the sources. */
export function ensureBuilt(): void {
  if (built) return;
  const r = Bun.spawnSync([BUN, join(REPO, "build.ts")], { cwd: REPO, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error("build.ts failed");
  built = true;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function minidCommand(source = process.env.MINID_TEST_SOURCE === "1"): string[] {
  return source ? [BUN, join(REPO, "src", "cli.ts")] : [BIN];
}

export class TestRoot {
  readonly dir: string;
  constructor(label = "t") {
    this.dir = mkdtempSync(join(tmpdir(), `minid-test-${label}-`));
  }

  /** Run minid synchronously with this root. */
  run(args: string[], opts: { input?: string | Uint8Array; env?: Record<string, string>; source?: boolean; timeout?: number } = {}): Result {
    const r = Bun.spawnSync([...minidCommand(opts.source), "--root", this.dir, ...args], {
      stdin: opts.input !== undefined ? Buffer.from(opts.input) : "ignore",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
      timeout: opts.timeout ?? 60_000,
    });
    return {
      code: r.exitCode ?? 128 + (r.signalCode ? 9 : 0),
      stdout: r.stdout.toString(),
      stderr: r.stderr.toString(),
    };
  }

  /** Start minid without waiting (for signal tests). */
  spawn(args: string[], opts: { env?: Record<string, string> } = {}) {
    return Bun.spawn([...minidCommand(), "--root", this.dir, ...args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
    });
  }

  /** Mount points under this root that are still visible on the host. */
  leakedMounts(): string[] {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => l.includes(this.dir));
  }

  /** Ids of every container this root still holds. */
  containerIds(): string[] {
    const dir = join(this.dir, "containers");
    return existsSync(dir) ? readdirSync(dir).filter((n) => /^[a-f0-9]{64}$/.test(n)) : [];
  }

  /**
   * Remove every container the tests left (through minid, so processes and cgroups go too),
   * then the root; fail if a mount, a cgroup or a container process survived.
   */
  cleanup(): void {
    const ids = this.containerIds();
    if (ids.length) this.run(["rm", "-f", ...ids]);
    removeStoreNetworking(this.dir);
    const leftovers = this.containerIds();
    const cgroups = ids.flatMap((id) => cgroupDirsOf(id));
    const leaks = this.leakedMounts();
    rmSync(this.dir, { recursive: true, force: true });
    if (leaks.length) throw new Error(`mounts left behind:\n${leaks.join("\n")}`);
    if (leftovers.length) throw new Error(`containers minid could not remove: ${leftovers.join(", ")}`);
    if (cgroups.length) throw new Error(`cgroups left behind:\n${cgroups.join("\n")}`);
  }
}

/** Host cgroup directories of a container (v1 hierarchies and the v2/unified one). */
export function cgroupDirsOf(id: string): string[] {
  const root = "/sys/fs/cgroup";
  const dirs = existsSync(join(root, "cgroup.controllers")) ? [root] : readdirSync(root).map((c) => join(root, c));
  return dirs.map((d) => join(d, "minid", id)).filter((d) => existsSync(d));
}

/**
 * `minid rm -f` every container a --root still holds (processes and cgroups go with them);
 * returns the ids whose cgroups survived, for the caller to fail on.
 */
export function removeAllContainers(root: string): string[] {
  const dir = join(root, "containers");
  const ids = existsSync(dir) ? readdirSync(dir).filter((n) => /^[a-f0-9]{64}$/.test(n)) : [];
  if (ids.length) Bun.spawnSync([...minidCommand(), "--root", root, "rm", "-f", ...ids], { stdout: "ignore", stderr: "ignore" });
  removeStoreNetworking(root);
  return ids.flatMap((id) => cgroupDirsOf(id));
}

/**
 * Every bridge and firewall rule a --root's networks put on the host (the default bridge
 * stays between runs, as docker0 does, so a test root must take it away itself).
 */
export function removeStoreNetworking(root: string): void {
  if (!existsSync(join(root, "networks"))) return;
  const { removeHostNetworking } = require("../../src/network/networks.ts") as typeof import("../../src/network/networks.ts");
  removeHostNetworking(root);
}

export function hostMountsMentioning(s: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(s));
}

export { existsSync };
