// `minid run --runtime NAME|PATH` (as `docker run --runtime`): the container is built by
// another OCI runtime (runc, crun) from a bundle, instead of by minid's init.
//
// minid's init still starts first, as PID 1 of the container's PID namespace: it joins the
// cgroup, makes the UTS, IPC and network namespaces (hostname, loopback), mounts the
// container's root filesystem in its own mount namespace, writes the bundle
// (spec/oci-config.ts) and execs `RUNTIME --root DIR run --bundle DIR ID`. The runtime is then
// the process the watcher waits for: `runc run` passes stdio (or its terminal) through,
// forwards signals and exits with the container's status, so logs, attach, stop, kill, wait
// and --rm work unchanged; when it ends, its mount namespace and everything in it go too.
// `minid exec` asks the runtime, in this process's namespaces (oci-exec.ts).
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import type { InitSpec } from "../spec/init-spec.ts";
import { bundleConfig, bundleJson, type OciRuntimeChoice } from "../spec/oci-config.ts";
import { UserError } from "../util/errors.ts";
import { runtimeGlobalArgs } from "./oci-exec.ts";

/** Host side, at create: a name on PATH or an executable path; "minid" is minid's own init. */
export function resolveRuntime(name: string): OciRuntimeChoice | undefined {
  if (name === "" || name === "minid") return undefined;
  const path = isAbsolute(name) || name.includes("/") ? name : Bun.which(name);
  let ok = false;
  try {
    ok = path !== null && statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0;
  } catch {}
  if (!ok || !path) throw new UserError(`unknown or invalid runtime name: ${name}`);
  return { name, path };
}

/** Init side: build the bundle and become the runtime. Never returns. */
/** `beforeExec`: init's wait for the watcher's go (init.ts), which throws when it does not come. */
export function runWithRuntime(spec: InitSpec & { runtime: OciRuntimeChoice & { dir: string } }, statusFd: number, beforeExec: () => void = () => {}): never {
  const libc = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  const { realSyscalls: sys, MNT_DETACH } = libc;
  const { mountImageRoot } = require("../linux/rootfs.ts") as typeof import("../linux/rootfs.ts");
  const { resolveUserInRoot } = require("./security.ts") as typeof import("./security.ts");
  const { capName, capabilityPlan } = require("../linux/capabilities.ts") as typeof import("../linux/capabilities.ts");
  const { enterNamespaces } = require("./init-namespaces.ts") as typeof import("./init-namespaces.ts");
  const rt = spec.runtime;
  const r = spec.rootfs;
  // The same cgroup, namespaces (host's, another container's, or new), hostname, loopback and
  // network sysctls as minid's own init; the runtime inherits them. It makes its own cgroup
  // namespace and terminal.
  const { shmTree } = enterNamespaces(spec, sys, { cgroupNamespace: false, console: false });
  // The root filesystem, in init's own mount namespace only (the runtime inherits it).
  mountImageRoot(spec, sys);
  // A /proc of init's PID namespace: runc reads /proc/<pid> of its children by their numbers here.
  sys.mount("proc", "/proc", "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC);
  // --ipc container:NAME: the donor's /dev/shm, attached where the runtime binds it from.
  let sharedShm: string | undefined;
  if (shmTree >= 0) {
    sharedShm = join(rt.dir, "shm");
    mkdirSync(sharedShm, { recursive: true, mode: 0o700 });
    try {
      sys.moveMount(shmTree, sharedShm);
    } finally {
      sys.close(shmTree);
    }
  }

  // The user and groups (Docker's supplementary ones, --group-add), from the image's own
  // files: what minid's init resolves.
  const u = resolveUserInRoot(spec, r.target, sys);
  const env = spec.env.some((e) => e.startsWith("HOME=")) ? spec.env : [...spec.env, `HOME=${u.home}`];
  const user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };

  // crun refuses cgroup v1 hierarchies: it gets a cgroup2 view and leaves cgroups to us
  // (init already joined the container's cgroup, where its children stay). See design.md.
  const v1 = !existsSync("/sys/fs/cgroup/cgroup.controllers");
  const crunOnV1 = v1 && basename(rt.path) === "crun";
  const globalArgs = runtimeGlobalArgs(rt);
  if (crunOnV1) {
    sys.umount2("/sys/fs/cgroup", MNT_DETACH);
    sys.mount("none", "/sys/fs/cgroup", "cgroup2", 0);
  }
  // v1: a group of its own under the container's (relative paths start at the runtime's own
  // cgroup, which init joined), so the runtime makes and removes it and minid's limits hold.
  // v2 allows no processes in an inner node: the runtime joins the container's group itself.
  const cgroupsPath = crunOnV1 || !spec.cgroupProcs?.length ? undefined : v1 ? "container" : cgroupPathOf(spec);
  const { denyListProfile } = require("../linux/seccomp.ts") as typeof import("../linux/seccomp.ts");
  const config = bundleConfig(spec, {
    user,
    env,
    capabilities: spec.capabilities && heldCapabilities(spec.capabilities, spec.privileged ?? false, capabilityPlan).map(capName),
    seccomp: spec.seccomp ? denyListProfile(spec.capabilities ?? []) : undefined,
    cgroupsPath,
    cgroupMount: Boolean(spec.cgroupProcs?.length) && !crunOnV1,
    sharedShm,
  });
  const bundle = join(rt.dir, "bundle");
  const state = join(rt.dir, "runtime");
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  mkdirSync(state, { recursive: true, mode: 0o700 });
  writeFileSync(join(bundle, "config.json"), bundleJson(config));
  beforeExec();
  libc.closeRangeCloexec(statusFd);
  require("node:fs").writeSync(statusFd, "x"); // INIT_EXEC_MARK: about to exec
  // A previous run that was killed may have left its state: runc refuses a second create.
  const argv = [basename(rt.path), ...globalArgs, "--root", state, "run", "--bundle", bundle, spec.id];
  try {
    require("node:fs").rmSync(join(state, spec.id), { recursive: true, force: true });
  } catch {}
  (require("../linux/signals.ts") as typeof import("../linux/signals.ts")).resetSignalsForExec();
  return libc.execve(rt.path, argv, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
}

/**
 * The capabilities the runtime can grant: those of this kernel and, for --privileged ("all of
 * them"), only the ones minid holds itself, as minid's own init grants (a runtime asked for
 * more fails its capset).
 */
function heldCapabilities(caps: number[], privileged: boolean, plan: typeof import("../linux/capabilities.ts").capabilityPlan): number[] {
  const { mask } = plan(caps, privileged);
  return caps.filter((c) => (mask >> BigInt(c)) & 1n);
}

/** The container's cgroup as a path from the cgroup root (runc's absolute cgroupsPath). */
function cgroupPathOf(spec: InitSpec): string | undefined {
  const f = spec.cgroupProcs?.[0];
  if (!f) return undefined;
  const dir = f.replace(/\/cgroup\.procs$/, "");
  if (spec.cgroupVersion === "v2") return dir.replace(/^\/sys\/fs\/cgroup/, "") || undefined;
  // v1: /sys/fs/cgroup/<hierarchy>/<path>
  const m = /^\/sys\/fs\/cgroup\/[^/]+(\/.+)$/.exec(dir);
  return m?.[1];
}
