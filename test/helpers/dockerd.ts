// A private Docker daemon for differential tests and benchmarks: Debian's docker.io (20.10)
// with its own data root, exec root, pid file and unix socket, no bridge and no iptables, so
// it touches nothing another run (or the host's own Docker, if any) uses. dockerd starts its
// own containerd under the exec root; stop() ends both by PID and removes what they left.
//
// The client is Debian's /usr/bin/docker (same API version as the daemon). A machine may
// also have a newer CLI earlier on PATH; it is never used here, so results don't depend on it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { tmpdir } from "node:os";

export const DOCKERD = "/usr/sbin/dockerd";
export const DOCKER_CLI = "/usr/bin/docker";

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Dockerd {
  /** The daemon's socket, for `docker -H`. */
  host: string;
  /** Its temp directory (data root, exec root, logs). */
  dir: string;
  docker(args: string[], opts?: { input?: string | Uint8Array; timeout?: number; env?: Record<string, string> }): Promise<DockerResult>;
  /** `minid save busybox | docker load`: the daemon gets minid's own built-in image. */
  loadMinidImage(minidBinary: string, minidRoot: string, image?: string): Promise<void>;
  stop(): Promise<void>;
}

export function haveDockerd(): boolean {
  return existsSync(DOCKERD) && existsSync(DOCKER_CLI);
}

async function collect(p: ReturnType<typeof Bun.spawn>): Promise<DockerResult> {
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout as ReadableStream).text(),
    new Response(p.stderr as ReadableStream).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}

/** Start a daemon and wait until it answers (up to `timeoutMs`). */
export async function startDockerd(timeoutMs = 60_000): Promise<Dockerd> {
  // Short paths: the exec root holds unix sockets, whose paths are limited to 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), "dkd-"));
  const sock = join(dir, "d.sock");
  const host = `unix://${sock}`;
  const log = Bun.file(join(dir, "dockerd.log"));
  const proc = Bun.spawn(
    [
      DOCKERD,
      "--data-root", join(dir, "data"),
      "--exec-root", join(dir, "x"),
      "--pidfile", join(dir, "dockerd.pid"),
      "-H", host,
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      "--ip-masq=false",
      "--userland-proxy=false",
      "--storage-driver=overlay2",
      // Its own cgroup parent, removed by stop(): the default /docker would stay behind and
      // be shared by every private daemon on the machine.
      "--cgroup-parent", `/${basename(dir)}`,
      "--log-level=warn",
    ],
    { stdin: "ignore", stdout: log, stderr: log, env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" } },
  );

  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", DOCKER_HOST: host, DOCKER_CONFIG: join(dir, "cli") };
  const docker: Dockerd["docker"] = async (args, opts = {}) => {
    const p = Bun.spawn([DOCKER_CLI, ...args], {
      stdin: opts.input !== undefined ? Buffer.from(opts.input) : "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...env, ...opts.env },
      timeout: opts.timeout ?? 120_000,
    });
    return collect(p);
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Containers first, so their shims go with the daemon; then the daemon by its PID.
    const ps = await docker(["ps", "-aq"], { timeout: 10_000 }).catch(() => null);
    if (ps?.code === 0 && ps.stdout.trim()) await docker(["rm", "-f", ...ps.stdout.trim().split(/\s+/)], { timeout: 30_000 }).catch(() => {});
    proc.kill("SIGTERM");
    const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
    if (!done) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    // dockerd's containerd and shims normally exit with it; anything whose cwd or argv
    // still names our directory is ours to kill.
    killUnder(dir);
    unmountUnder(dir);
    removeCgroupParent(basename(dir));
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) {
      const text = existsSync(join(dir, "dockerd.log")) ? readFileSync(join(dir, "dockerd.log"), "utf8") : "";
      await stop();
      throw new Error(`dockerd exited with ${proc.exitCode}:\n${text.slice(-2000)}`);
    }
    const r = await docker(["version", "--format", "{{.Server.Version}}"], { timeout: 5_000 }).catch(() => null);
    if (r?.code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error("dockerd did not answer in time");
    }
    await Bun.sleep(200);
  }

  const loadMinidImage: Dockerd["loadMinidImage"] = async (minidBinary, minidRoot, image = "busybox") => {
    const save = Bun.spawnSync([minidBinary, "--root", minidRoot, "save", image], { stdout: "pipe", stderr: "pipe" });
    if (save.exitCode !== 0) throw new Error(`minid save ${image}: ${save.stderr.toString()}`);
    const r = await docker(["load"], { input: save.stdout });
    if (r.code !== 0) throw new Error(`docker load: ${r.stderr}`);
  };

  return { host, dir, docker, loadMinidImage, stop };
}

function killUnder(dir: string): void {
  for (const pid of require("node:fs").readdirSync("/proc") as string[]) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(dir)) process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m && m.startsWith(dir))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
}

/** The daemon's cgroup parent in every hierarchy (empty once its containers are gone). */
function removeCgroupParent(name: string): void {
  const root = "/sys/fs/cgroup";
  const fs = require("node:fs") as typeof import("node:fs");
  const dirs = fs.existsSync(join(root, "cgroup.controllers")) ? [root] : fs.readdirSync(root).map((c) => join(root, c));
  for (const d of dirs) {
    const p = join(d, name);
    if (!fs.existsSync(p)) continue;
    // Leaf cgroups of containers that outlived the daemon first, then the parent.
    for (const child of fs.readdirSync(p, { withFileTypes: true })) if (child.isDirectory()) try { fs.rmdirSync(join(p, child.name)); } catch {}
    try {
      fs.rmdirSync(p);
    } catch {}
  }
}
