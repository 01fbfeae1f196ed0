// The runtime-spec's config.json (opencontainers/runtime-spec config.md, config-linux.md):
// the types minid reads, loading, and the refusals. A field minid cannot honour on this
// host fails `create` with a message naming it; nothing is silently dropped.
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { RuntimeError } from "./errors.ts";
import { checkScheduling } from "./scheduling.ts";

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Mount {
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[]; username?: string };
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: { bounding?: string[]; effective?: string[]; inheritable?: string[]; permitted?: string[]; ambient?: string[] };
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  scheduler?: unknown;
  ioPriority?: unknown;
  execCPUAffinity?: unknown;
}

export interface SeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

export interface Seccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

export interface Device {
  type: string;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface DeviceRule {
  allow: boolean;
  type?: string;
  major?: number | null;
  minor?: number | null;
  access?: string;
}

export interface Resources {
  devices?: DeviceRule[];
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; kernelTCP?: number; swappiness?: number; disableOOMKiller?: boolean; useHierarchy?: boolean; checkBeforeUpdate?: boolean };
  cpu?: { shares?: number; quota?: number; burst?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string; idle?: number };
  blockIO?: {
    weight?: number;
    leafWeight?: number;
    weightDevice?: { major: number; minor: number; weight?: number; leafWeight?: number }[];
    throttleReadBpsDevice?: { major: number; minor: number; rate: number }[];
    throttleWriteBpsDevice?: { major: number; minor: number; rate: number }[];
    throttleReadIOPSDevice?: { major: number; minor: number; rate: number }[];
    throttleWriteIOPSDevice?: { major: number; minor: number; rate: number }[];
  };
  hugepageLimits?: { pageSize: string; limit: number }[];
  network?: { classID?: number; priorities?: { name: string; priority: number }[] };
  pids?: { limit: number };
  rdma?: Record<string, unknown>;
  unified?: Record<string, string>;
}

export interface Namespace {
  type: string;
  path?: string;
}

/** One range of a user namespace's uid or gid map. */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  timeOffsets?: Record<string, { secs?: number; nanosecs?: number }>;
  devices?: Device[];
  cgroupsPath?: string;
  resources?: Resources;
  rootfsPropagation?: string;
  seccomp?: Seccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: { domain: string; flags?: string[] };
  intelRdt?: unknown;
}

export interface Config {
  ociVersion: string;
  process?: Process;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Partial<Record<HookName, Hook[]>>;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export const HOOK_NAMES = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export const NAMESPACE_FLAGS: Record<string, number> = {
  pid: 0x20000000,
  network: 0x40000000,
  mount: 0x20000,
  ipc: 0x8000000,
  uts: 0x4000000,
  user: 0x10000000,
  cgroup: 0x2000000,
  time: 0x80,
};
/**
 * With a user namespace, the namespaces given by path that create joins on its own thread
 * (setns of these is per thread) for the clone to inherit: from the host's user namespace,
 * where it may, before the container's user namespace is made or entered (runc joins them
 * first too). Init does not join them again.
 */
export const JOINED_BEFORE_CLONE = ["network", "ipc", "uts"];
/**
 * With a user namespace, the new namespaces of these types exist before init runs: made by
 * the clone with a new user namespace, or unshared by the child in a joined one. Init, a Bun
 * process whose first moments are open to whoever holds every capability of that user
 * namespace, then never stands in the host's network or mount namespace.
 */
export const MADE_BEFORE_INIT = ["mount", "network", "ipc", "uts"];

/** /proc/PID/ns/<name> for each spec namespace type. */
export const NAMESPACE_PROC: Record<string, string> = {
  pid: "pid", network: "net", mount: "mnt", ipc: "ipc", uts: "uts", user: "user", cgroup: "cgroup", time: "time",
};

export function loadConfig(bundle: string): Config {
  const path = resolve(bundle, "config.json");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e: any) {
    if (e?.code === "ENOENT") throw new RuntimeError(`JSON specification file ${path} not found`);
    throw new RuntimeError(`cannot read ${path}: ${e?.message ?? e}`);
  }
  let c: Config;
  try {
    c = JSON.parse(text);
  } catch (e) {
    throw new RuntimeError(`cannot parse ${path}: ${(e as Error).message}`);
  }
  if (!c || typeof c !== "object") throw new RuntimeError(`${path}: not a JSON object`);
  return c;
}

/** The container's root directory on the host (root.path is relative to the bundle). */
export function rootfsPath(bundle: string, c: Config): string {
  const p = c.root?.path;
  if (!p) throw new RuntimeError("config.json: root.path is required");
  return isAbsolute(p) ? p : resolve(bundle, p);
}

const unsupported = (what: string, why: string) => new RuntimeError(`config.json: ${what} is not supported by minid: ${why}`);

/** Refuse what this runtime cannot honour, with the reason; check shapes create relies on. */
export function validateConfig(c: Config, forExec = false): void {
  if (typeof c.ociVersion !== "string" || !/^1\.\d+\.\d+/.test(c.ociVersion)) {
    throw new RuntimeError(`config.json: unsupported ociVersion ${JSON.stringify(c.ociVersion)} (minid implements runtime-spec 1.x)`);
  }
  const p = c.process;
  if (!forExec && !p) throw new RuntimeError("config.json: process is required for create");
  if (p) {
    if (!p.args?.length && !p.commandLine) throw new RuntimeError("config.json: process.args must not be empty");
    if (typeof p.cwd !== "string" || !p.cwd.startsWith("/")) throw new RuntimeError(`config.json: process.cwd must be an absolute path (got ${JSON.stringify(p.cwd)})`);
    if (!p.user || typeof p.user.uid !== "number" || typeof p.user.gid !== "number") throw new RuntimeError("config.json: process.user.uid and gid are required");
    if (p.user.username) throw unsupported("process.user.username", "it is for Windows");
    if (p.commandLine) throw unsupported("process.commandLine", "it is for Windows");
    if (p.apparmorProfile && !hostHas("/sys/kernel/security/apparmor")) throw unsupported("process.apparmorProfile", "AppArmor is not enabled on this host");
    if (p.apparmorProfile) throw unsupported("process.apparmorProfile", "AppArmor profiles are not applied by minid");
    if (p.selinuxLabel) throw unsupported("process.selinuxLabel", "SELinux is not enabled on this host");
    checkScheduling(p);
    for (const r of p.rlimits ?? []) rlimitNumber(r.type);
  }
  const l = c.linux ?? {};
  if (l.mountLabel) throw unsupported("linux.mountLabel", "SELinux is not enabled on this host");
  if (l.intelRdt) throw unsupported("linux.intelRdt", "Intel RDT is not available");
  const l2 = l as { memoryPolicy?: unknown; netDevices?: unknown };
  if (l2.memoryPolicy) throw unsupported("linux.memoryPolicy", "set_mempolicy is not implemented");
  if (l2.netDevices && Object.keys(l2.netDevices).length) throw unsupported("linux.netDevices", "moving host interfaces into the container is not implemented");
  checkUserNamespace(l);
  if (l.timeOffsets) timeOffsetsText(l);
  const seen = new Set<string>();
  for (const ns of l.namespaces ?? []) {
    if (!(ns.type in NAMESPACE_FLAGS)) throw new RuntimeError(`config.json: unknown namespace type ${JSON.stringify(ns.type)}`);
    if (seen.has(ns.type)) throw new RuntimeError(`config.json: namespace ${ns.type} listed twice`);
    seen.add(ns.type);
    if (ns.path !== undefined && !isAbsolute(ns.path)) throw new RuntimeError(`config.json: namespace ${ns.type} path must be absolute`);
  }
  for (const m of c.mounts ?? []) {
    if (typeof m.destination !== "string" || !m.destination.startsWith("/")) {
      throw new RuntimeError(`config.json: mount destination ${JSON.stringify(m.destination)} must be an absolute path`);
    }
    checkIdmappedMount(m, l);
  }
  if (l.personality) personalityValue(l.personality);
  if (l.rootfsPropagation && !(l.rootfsPropagation in PROPAGATION)) throw new RuntimeError(`config.json: invalid rootfsPropagation ${JSON.stringify(l.rootfsPropagation)}`);
  for (const k of Object.keys(c.hooks ?? {})) {
    if (!(HOOK_NAMES as readonly string[]).includes(k)) throw new RuntimeError(`config.json: unknown hook kind ${JSON.stringify(k)}`);
    for (const h of c.hooks![k as HookName] ?? []) {
      if (!h.path || !isAbsolute(h.path)) throw new RuntimeError(`config.json: hook path ${JSON.stringify(h.path)} must be absolute`);
      if (h.timeout !== undefined && !(h.timeout > 0)) throw new RuntimeError("config.json: hook timeout must be positive");
    }
  }
  const sc = l.seccomp;
  if (sc?.defaultAction === "SCMP_ACT_NOTIFY") {
    // Every call the runtime makes after loading the filter would wait for a listener that has not got the fd yet.
    throw new RuntimeError("config.json: SCMP_ACT_NOTIFY cannot be seccomp's defaultAction");
  }
  const notified = notifiedSyscalls(sc);
  if (notified.length) {
    if (!sc?.listenerPath || !isAbsolute(sc.listenerPath)) throw new RuntimeError("config.json: SCMP_ACT_NOTIFY needs an absolute linux.seccomp.listenerPath (the agent's unix socket)");
    // The notification fd reaches the listener by sendmsg, after the filter is loaded.
    if (notified.includes("sendmsg")) throw new RuntimeError("config.json: SCMP_ACT_NOTIFY cannot be used for sendmsg (the runtime sends the listener its fd with it)");
    // The kernel refuses a listener on a filter synchronised to every thread.
    if (sc?.flags?.includes("SECCOMP_FILTER_FLAG_TSYNC")) throw new RuntimeError("config.json: SCMP_ACT_NOTIFY cannot be combined with SECCOMP_FILTER_FLAG_TSYNC");
  }
}

/** One range of an id map (the container's or an idmapped mount's); `where` prefixes the message. */
function checkIdMapping(m: IdMapping, where = ""): void {
  if (![m?.containerID, m?.hostID, m?.size].every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) || m.size === 0) {
    throw new RuntimeError(`config.json: ${where}invalid id mapping ${JSON.stringify(m)} (containerID, hostID and a non-zero size are required)`);
  }
}

/** An idmapped mount (idmap.ts): a bind, with maps of its own or the container's new user namespace's. */
function checkIdmappedMount(m: Mount, l: Linux): void {
  const words = (m.options ?? []).filter((o) => o === "idmap" || o === "ridmap");
  const own = Boolean(m.uidMappings?.length || m.gidMappings?.length);
  if (!own && !words.length) return;
  const bind = m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
  if (!bind) throw new RuntimeError(`config.json: mount ${m.destination}: only bind mounts can be idmapped (type ${JSON.stringify(m.type ?? "")})`);
  if (!m.source) throw new RuntimeError(`config.json: mount ${m.destination}: an idmapped bind needs a source`);
  if (new Set(words).size > 1) throw new RuntimeError(`config.json: mount ${m.destination}: give idmap or ridmap, not both`);
  if (own) {
    if (!m.uidMappings?.length || !m.gidMappings?.length) throw new RuntimeError(`config.json: mount ${m.destination}: an idmapped mount needs both uidMappings and gidMappings`);
    for (const x of [...m.uidMappings, ...m.gidMappings]) checkIdMapping(x, `mount ${m.destination}: `);
    return;
  }
  const user = (l.namespaces ?? []).find((n) => n.type === "user");
  if (!user || user.path || !l.uidMappings?.length || !l.gidMappings?.length) {
    throw new RuntimeError(`config.json: mount ${m.destination}: the ${words[0]} option without uidMappings/gidMappings takes the container's maps, and needs a new user namespace with linux.uidMappings and linux.gidMappings`);
  }
}

/**
 * A user namespace: a new one is made by the clone that starts init, with these maps; one
 * given by path is joined by that clone (spawn-fork.ts).
 */
function checkUserNamespace(l: Linux): void {
  const user = (l.namespaces ?? []).find((n) => n.type === "user");
  const maps = [...(l.uidMappings ?? []), ...(l.gidMappings ?? [])];
  for (const m of maps) checkIdMapping(m);
  if (!user) {
    if (maps.length) throw new RuntimeError("config.json: linux.uidMappings/gidMappings need a user namespace in linux.namespaces");
    return;
  }
  if (user.path) {
    if (maps.length) throw new RuntimeError("config.json: linux.uidMappings/gidMappings cannot be given with a user namespace path (the joined namespace has its maps)");
    return;
  }
  if (!l.uidMappings?.length || !l.gidMappings?.length) throw new RuntimeError("config.json: a new user namespace needs linux.uidMappings and linux.gidMappings");
  // The clone that makes the user namespace makes the PID one with it; a network, IPC or UTS
  // namespace given by path is joined by create before the clone (userns.ts); the others would
  // be joined by init from inside, where a namespace of the host's is not ours to join.
  for (const n of l.namespaces ?? []) {
    if (n.path && n.type !== "user" && !JOINED_BEFORE_CLONE.includes(n.type)) {
      throw unsupported(`joining the ${n.type} namespace ${n.path} together with a new user namespace`, "the container's root has no capability over a namespace of the host's user namespace");
    }
  }
}

/** The host uid (or gid) that id `id` of the container's user namespace maps to, if any. */
export function hostId(maps: IdMapping[] | undefined, id: number): number | undefined {
  const m = (maps ?? []).find((m) => id >= m.containerID && id - m.containerID < m.size);
  return m && m.hostID + (id - m.containerID);
}

function hostHas(path: string): boolean {
  try {
    readFileSync(path + "/profiles");
    return true;
  } catch {
    return false;
  }
}

export const PROPAGATION: Record<string, number> = {
  shared: 1 << 20, rshared: (1 << 20) | 16384,
  slave: 1 << 19, rslave: (1 << 19) | 16384,
  private: 1 << 18, rprivate: (1 << 18) | 16384,
  unbindable: 1 << 17, runbindable: (1 << 17) | 16384,
};

const RLIMITS = ["CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"];

/** The syscalls a profile hands to its listener (SCMP_ACT_NOTIFY). */
export function notifiedSyscalls(s: Seccomp | undefined): string[] {
  return (s?.syscalls ?? []).filter((r) => r.action === "SCMP_ACT_NOTIFY").flatMap((r) => r.names ?? []);
}

/**
 * linux.timeOffsets as /proc/self/timens_offsets takes them ("monotonic S N" lines). They need
 * a new time namespace of the container's own: offsets are fixed before anyone enters it.
 */
export function timeOffsetsText(l: Linux): string {
  const ns = (l.namespaces ?? []).find((n) => n.type === "time");
  if (!ns || ns.path) throw new RuntimeError("config.json: linux.timeOffsets needs a new time namespace in linux.namespaces (not a path to join)");
  const lines: string[] = [];
  for (const [clock, o] of Object.entries(l.timeOffsets ?? {})) {
    if (clock !== "monotonic" && clock !== "boottime") throw new RuntimeError(`config.json: linux.timeOffsets.${clock}: only monotonic and boottime clocks have offsets`);
    const secs = o?.secs ?? 0, nanosecs = o?.nanosecs ?? 0;
    if (!Number.isInteger(secs)) throw new RuntimeError(`config.json: linux.timeOffsets.${clock}.secs must be an integer`);
    if (!Number.isInteger(nanosecs) || nanosecs < 0 || nanosecs > 999_999_999) throw new RuntimeError(`config.json: linux.timeOffsets.${clock}.nanosecs must be 0 to 999999999`);
    lines.push(`${clock} ${secs} ${nanosecs}`);
  }
  return lines.join("\n");
}

export function rlimitNumber(type: string): number {
  const i = RLIMITS.indexOf(type.replace(/^RLIMIT_/, ""));
  if (!type.startsWith("RLIMIT_") || i < 0) throw new RuntimeError(`config.json: unknown rlimit type ${JSON.stringify(type)}`);
  return i;
}

export function personalityValue(p: { domain: string; flags?: string[] }): number {
  if (p.flags?.length) throw unsupported("linux.personality.flags", "no flags are defined by the runtime-spec");
  if (p.domain === "LINUX") return 0;
  if (p.domain === "LINUX32") return 8;
  throw new RuntimeError(`config.json: unknown personality domain ${JSON.stringify(p.domain)}`);
}
