// The peers every benchmark compares with, each set up privately for one benchmark run and
// torn down after: nothing is shared with the host's own daemons or other runs.
//   - Docker: Debian's docker.io daemon with its own data root, exec root, unix socket and
//     cgroup parent, --bridge=none --iptables=false; minid's busybox loaded into it.
//   - Podman: Debian's, with a containers.conf written here (cgroupfs, file events, no
//     default ulimits, no network, runc), its own root, runroot and tmp dir.
//   - runc and crun on an OCI bundle of the same busybox rootfs (crun refuses this host's
//     hybrid cgroups: it runs in a private mount namespace with cgroup2 over /sys/fs/cgroup).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, REPO } from "./lib.ts";

export function have(tool: string): boolean {
  return Bun.spawnSync(["sh", "-c", `command -v ${tool}`], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

function sh(cmd: string, opts: { input?: Uint8Array } = {}): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(["sh", "-c", cmd], { stdin: opts.input ?? "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** minid's own busybox as a docker-archive (what `docker load` and `podman load` read). */
export function busyboxArchive(minidRoot: string): Uint8Array {
  Bun.spawnSync([BIN, "--root", minidRoot, "run", "--rm", "busybox", "true"]); // imports the built-in image
  const r = Bun.spawnSync([BIN, "--root", minidRoot, "save", "busybox"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`minid save busybox: ${r.stderr}`);
  return r.stdout;
}

/** Remove cgroup directories named `name` under every hierarchy, deepest first (they must be empty). */
function removeCgroupParent(name: string): void {
  const root = "/sys/fs/cgroup";
  const tops = existsSync(join(root, "cgroup.controllers")) ? [root] : readdirSync(root).map((c) => join(root, c));
  const rm = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name));
    try {
      rmdirSync(d);
    } catch {}
  };
  for (const t of tops) rm(join(t, name));
}

export interface Daemon {
  /** argv prefix of the client talking to this daemon. */
  cli: string[];
  stop(): void;
}

/** A private dockerd; undefined (with the reason on stderr) when it cannot start here. */
export async function startDocker(work: string, archive: Uint8Array): Promise<Daemon | undefined> {
  if (!have("dockerd") || !have("docker")) return void console.error("docker: not installed");
  const d = join(work, "docker");
  mkdirSync(d, { recursive: true });
  const sock = join(d, "docker.sock");
  const parent = `minid-bench-docker-${process.pid}`;
  const proc = Bun.spawn(
    [
      "dockerd", "--data-root", join(d, "data"), "--exec-root", join(d, "exec"), "-H", `unix://${sock}`,
      "--pidfile", join(d, "docker.pid"), "--bridge=none", "--iptables=false", "--ip6tables=false",
      "--ip-masq=false", "--userland-proxy=false", "--cgroup-parent", `/${parent}`,
      "--exec-opt", "native.cgroupdriver=cgroupfs", "--storage-driver", "overlay2", "--log-level", "error",
    ],
    { stdout: "ignore", stderr: Bun.file(join(d, "dockerd.log")) },
  );
  const cli = ["docker", "-H", `unix://${sock}`];
  const stop = () => {
    sh(`${cli.join(" ")} rm -f $(${cli.join(" ")} ps -aq) 2>/dev/null`);
    proc.kill("SIGTERM");
    const deadline = Date.now() + 15000;
    while (proc.exitCode === null && proc.signalCode === null && Date.now() < deadline) Bun.sleepSync(50);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    // dockerd unmounts its own; anything under the root that is still mounted goes now.
    for (const l of readFileSync("/proc/self/mountinfo", "utf8").split("\n").reverse()) {
      const mp = l.split(" ")[4];
      if (mp?.startsWith(d)) sh(`umount -l '${mp}'`);
    }
    removeCgroupParent(parent);
    rmSync(d, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30000;
  while (sh(`${cli.join(" ")} version --format '{{.Server.Version}}'`).code !== 0) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      console.error(`docker: dockerd did not come up (${join(d, "dockerd.log")}): ${readFileSync(join(d, "dockerd.log"), "utf8").slice(-400)}`);
      stop();
      return undefined;
    }
    await Bun.sleep(100);
  }
  const load = sh(`${cli.join(" ")} load`, { input: archive });
  if (load.code !== 0) {
    console.error(`docker load: ${load.err}`);
    stop();
    return undefined;
  }
  return { cli, stop };
}

/** A private podman (no daemon: the returned cli carries its root, runroot and config). */
export function startPodman(work: string, archive: Uint8Array): Daemon | undefined {
  if (!have("podman")) return void console.error("podman: not installed");
  const p = join(work, "podman");
  mkdirSync(join(p, "tmp"), { recursive: true });
  const conf = join(p, "containers.conf");
  writeFileSync(
    conf,
    [
      "[containers]", 'netns = "none"', "default_ulimits = []", 'cgroups = "enabled"',
      "[engine]", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', `events_logfile_path = "${join(p, "events.log")}"`,
      'runtime = "runc"', `tmp_dir = "${join(p, "tmp")}"`,
      // Locks as files under tmp_dir, not the host-wide /dev/shm/libpod_lock segment.
      'lock_type = "file"', "",
    ].join("\n"),
  );
  const storage = join(p, "storage.conf");
  writeFileSync(storage, `[storage]\ndriver = "overlay"\nrunroot = "${join(p, "run")}"\ngraphroot = "${join(p, "root")}"\n`);
  const parent = `minid-bench-podman-${process.pid}`;
  const cli = [
    "env", `CONTAINERS_CONF=${conf}`, `CONTAINERS_STORAGE_CONF=${storage}`,
    "podman", "--root", join(p, "root"), "--runroot", join(p, "run"), "--storage-driver", "overlay",
  ];
  const stop = () => {
    sh(`${cli.join(" ")} rm -af 2>/dev/null`);
    for (const l of readFileSync("/proc/self/mountinfo", "utf8").split("\n").reverse()) {
      const mp = l.split(" ")[4];
      if (mp?.startsWith(p)) sh(`umount -l '${mp}'`);
    }
    removeCgroupParent(parent);
    rmSync(p, { recursive: true, force: true });
  };
  const load = sh(`${cli.join(" ")} load`, { input: archive });
  if (load.code !== 0) {
    console.error(`podman load: ${load.err.slice(-400)}`);
    stop();
    return undefined;
  }
  return { cli: [...cli], stop, ...{ cgroupParent: `/${parent}` } } as Daemon & { cgroupParent: string };
}

/** An OCI bundle of minid's busybox rootfs running /bin/true, for runc and crun. */
export function makeBundle(work: string): string {
  const bundle = join(work, "bundle");
  const rootfs = join(bundle, "rootfs");
  mkdirSync(rootfs, { recursive: true });
  const image = join(REPO, "images", "build", "busybox.tar.gz");
  if (Bun.spawnSync(["tar", "--numeric-owner", "-xzf", image, "-C", rootfs]).exitCode !== 0) throw new Error("cannot unpack busybox");
  if (Bun.spawnSync(["runc", "spec", "--bundle", bundle]).exitCode !== 0) throw new Error("runc spec failed");
  const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
  spec.process.terminal = false;
  spec.process.args = ["/bin/true"];
  spec.root = { path: "rootfs", readonly: true };
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  return bundle;
}

/**
 * crun, timed by a helper that lives in a private mount namespace with cgroup2 mounted over
 * /sys/fs/cgroup (set up once): `time()` runs one `crun run` there and returns its wall time.
 */
export class CrunTimer {
  private proc;
  private reader;
  private buf = "";
  private constructor(bundle: string) {
    this.proc = Bun.spawn(
      ["unshare", "-m", "sh", "-c", `umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$1" "$2"`, process.execPath, join(import.meta.dir, "crun-server.ts"), bundle],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    this.reader = this.proc.stdout.getReader();
  }
  static start(bundle: string): CrunTimer | undefined {
    return have("crun") && have("unshare") ? new CrunTimer(bundle) : undefined;
  }
  async time(): Promise<number> {
    this.proc.stdin.write("run\n");
    this.proc.stdin.flush();
    for (;;) {
      const nl = this.buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const ms = Number(line);
        if (!Number.isFinite(ms)) throw new Error(`crun: ${line}`);
        return ms;
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error("crun helper exited");
      this.buf += new TextDecoder().decode(value);
    }
  }
  stop(): void {
    this.proc.stdin.end();
  }
}
