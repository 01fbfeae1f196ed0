// minid's init spec as a runtime-spec config: the container's one description below the
// engine. minid's own init builds every `minid run` container from it through the runtime
// layer (runtime/rootfs.ts, the plan `minid-runtime create --bundle` runs), and `minid run
// --runtime runc|crun|PATH` writes it as a bundle for another OCI runtime: the same mounts,
// masks, capabilities, no_new_privs, seccomp deny list, ulimits, OOM score, devices, groups,
// /dev/shm size. minid's init has already made or joined the UTS, IPC and network namespaces
// (hostname set, loopback up, sysctls written) and joined the cgroup: the config leaves those
// to be inherited and asks the runtime for the mount namespace and, unless --pid shares one,
// the PID namespace. test/integration/runtime-seam.test.ts holds the three runtimes to the
// same container.
import type { InitSpec } from "./init-spec.ts";
import { parseTmpfsOptions, MS } from "../linux/tmpfs-options.ts";
import type { CgroupLimits } from "../linux/cgroup-common.ts";

export interface OciRuntimeChoice {
  /** What the user gave (--runtime): shown by inspect as HostConfig.Runtime. */
  name: string;
  /** The executable. */
  path: string;
}

export interface BundleOptions {
  /**
   * The resolved user (the image's /etc/passwd read by the caller). None for minid's own
   * init, which resolves it after the pivot through the container's view (a volume over
   * /etc/passwd counts) and applies the process half of the config itself.
   */
  user?: { uid: number; gid: number; additionalGids: number[] };
  env: string[];
  /** Capability names (CAP_…) the container holds. */
  capabilities?: string[];
  /** The seccomp profile (runtime-spec linux.seccomp) or none. */
  seccomp?: object;
  /** Absolute cgroupsPath (from the cgroup root) of the cgroup minid made, or none. */
  cgroupsPath?: string;
  /** Mount cgroupfs in the container (off when the runtime cannot see minid's hierarchy). */
  cgroupMount: boolean;
  /** A directory (in init's mount namespace) holding another container's /dev/shm (--ipc container:). */
  sharedShm?: string;
}

// Flag bits back to the words every runtime reads (parseTmpfsOptions made the final set).
const FLAG_WORD: [number, string][] = [
  [MS.RDONLY, "ro"], [MS.NOSUID, "nosuid"], [MS.NODEV, "nodev"], [MS.NOEXEC, "noexec"], [MS.SYNCHRONOUS, "sync"],
  [MS.DIRSYNC, "dirsync"], [MS.NOATIME, "noatime"], [MS.NODIRATIME, "nodiratime"], [MS.RELATIME, "relatime"], [MS.STRICTATIME, "strictatime"],
  [MS.LAZYTIME, "lazytime"], [MS.MANDLOCK, "mand"],
];

/** A tmpfs's options as one unambiguous list: runtimes differ on whether a later "exec" undoes "noexec". */
export function tmpfsOptionWords(options: string | undefined, readOnly: boolean): string[] {
  const { flags, data } = parseTmpfsOptions(options || "mode=1777");
  const words = FLAG_WORD.filter(([bit]) => flags & bit).map(([, w]) => w);
  if (readOnly && !words.includes("ro")) words.push("ro");
  return [...words, ...data.split(",").filter(Boolean)];
}

/** Docker's `--ulimit nofile=…` as an OCI rlimit; -1 (unlimited) is RLIM_INFINITY, written as text (see bundleJson). */
const RLIM_INFINITY = "18446744073709551615";
const limit = (n: number) => (n < 0 ? RLIM_INFINITY : n);

/** config.json's text: RLIM_INFINITY is above 2^53, so it goes in as a bare number, not through a double. */
export function bundleJson(config: object): string {
  return JSON.stringify(config).replace(new RegExp(`"${RLIM_INFINITY}"`, "g"), RLIM_INFINITY);
}

const ro = (on: boolean) => (on ? ["ro"] : []);

/** Docker's --memory, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit as linux.resources. */
export function ociResources(r: CgroupLimits | undefined): object {
  if (!r) return {};
  const PERIOD = 100000;
  const cpu = {
    ...(r.cpuShares ? { shares: r.cpuShares } : {}),
    ...(r.nanoCpus ? { quota: Math.round((r.nanoCpus / 1e9) * PERIOD), period: PERIOD } : {}),
    ...(r.cpusetCpus ? { cpus: r.cpusetCpus } : {}),
  };
  return {
    ...(r.memory ? { memory: { limit: r.memory, ...(r.oomKillDisable ? { disableOOMKiller: true } : {}) } } : {}),
    ...(Object.keys(cpu).length ? { cpu } : {}),
    ...(r.pidsLimit && r.pidsLimit > 0 ? { pids: { limit: r.pidsLimit } } : {}),
  };
}

export function bundleConfig(spec: InitSpec, o: BundleOptions): object {
  const privileged = spec.privileged ?? false;
  const ro_ = spec.runOptions;
  const shmSize = ro_?.shmSize ? `${Math.max(1, Math.ceil(ro_.shmSize / 1024))}k` : "65536k";
  const mounts: object[] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    // nosuid and strictatime but not noexec, as Docker's /dev (runc's default mount).
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    o.sharedShm
      ? { destination: "/dev/shm", type: "bind", source: o.sharedShm, options: ["rbind", "rprivate"] }
      : { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${shmSize}`] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", ...ro(!privileged)] },
  ];
  if (o.cgroupMount) mounts.push({ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", ...ro(!privileged)] });
  for (const f of spec.etcFiles) mounts.push({ destination: f.destination, type: "bind", source: f.source, options: ["rbind", "rprivate"] });
  for (const m of spec.mounts) {
    if (m.type === "tmpfs") {
      // Docker's defaults first; the user's words after them win (tmpfs-options.ts rules).
      mounts.push({ destination: m.destination, type: "tmpfs", source: "tmpfs", options: tmpfsOptionWords(m.options, m.readOnly) });
    } else {
      mounts.push({ destination: m.destination, type: "bind", source: m.source, options: ["rbind", m.propagation ?? "rprivate", ...ro(m.readOnly)] });
    }
  }
  const caps = o.capabilities;
  // --pid host|container:NAME: init already lives in that PID namespace, and so will the container.
  // --init: the runtime stays PID 1 of the namespace init made and reaps what the command orphans.
  const namespaces: { type: string }[] = [...(ro_?.pid || ro_?.init ? [] : [{ type: "pid" }]), { type: "mount" }];
  const devices = (ro_?.devices ?? []).map((d) => ({ path: d.container, type: d.type, major: d.major, minor: d.minor, fileMode: d.mode & 0o7777, uid: d.uid, gid: d.gid }));
  const deviceRules = [
    { allow: privileged, access: "rwm" },
    ...(ro_?.devices ?? []).map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions })),
  ];
  // A slave or shared bind needs a root that receives from the host (as minid's own init does);
  // a shared one also a root that stays shared once entered (Docker's "shared"), or the final
  // rslave of the root would turn the bind into a slave that sends nothing back.
  const receive = spec.mounts.some((m) => m.propagation && !/private$/.test(m.propagation));
  const shares = spec.mounts.some((m) => m.propagation === "shared" || m.propagation === "rshared");
  if (o.cgroupsPath && o.cgroupMount) namespaces.push({ type: "cgroup" });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: spec.tty,
      ...(o.user ? { user: o.user } : {}),
      args: spec.args,
      env: o.env,
      cwd: spec.cwd,
      ...(caps ? { capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] } } : {}),
      noNewPrivileges: spec.noNewPrivileges ?? false,
      ...(ro_?.ulimits?.length ? { rlimits: ro_.ulimits.map((u) => ({ type: `RLIMIT_${u.name.toUpperCase()}`, soft: limit(u.soft), hard: limit(u.hard) })) } : {}),
      ...(ro_?.oomScoreAdj !== undefined ? { oomScoreAdj: ro_.oomScoreAdj } : {}),
    },
    root: { path: spec.rootfs.target, readonly: spec.readonlyRootfs },
    mounts,
    linux: {
      namespaces,
      ...(o.cgroupsPath ? { cgroupsPath: o.cgroupsPath } : {}),
      ...(devices.length ? { devices } : {}),
      // The limits minid set on the container's cgroup, again on the runtime's (v1: a group
      // under it), so that what the container reads of its cgroup is its limits.
      resources: { devices: deviceRules, ...(o.cgroupsPath ? ociResources(spec.runtime?.resources) : {}) },
      ...(shares ? { rootfsPropagation: "shared" } : receive ? { rootfsPropagation: "rslave" } : {}),
      ...(o.seccomp ? { seccomp: o.seccomp } : {}),
      maskedPaths: spec.maskedPaths ?? [],
      readonlyPaths: spec.readonlyPaths ?? [],
    },
    annotations: { "io.github.minid.container": spec.id },
  };
}
