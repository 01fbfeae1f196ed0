// What init applies to the container beyond its root and confinement: --init, ulimits,
// devices, sysctls, /dev/shm's size, namespaces shared with the host or another container,
// the log driver and the OOM score. Parsed here with Docker's rules and messages; kept in the
// record (runOptions) and handed to init in its spec.
import { statSync } from "node:fs";
import { UserError } from "../util/errors.ts";
import { RLIMITS } from "../linux/libc.ts";
import type { DeviceSpec as DeviceMapping, InitRunOptions, NamespaceMode, Ulimit } from "../spec/init-spec.ts";

export type { Ulimit, DeviceSpec as DeviceMapping, NamespaceMode } from "../spec/init-spec.ts";

export interface RunOptions extends InitRunOptions {
  /** --ipc shareable: other containers may join its IPC namespace (--ipc container:NAME). */
  ipcShareable?: boolean;
  logDriver?: "json-file" | "none" | "local";
  logOpts?: Record<string, string>;
}

export { RLIMITS };

export function parseUlimit(v: string): Ulimit {
  const i = v.indexOf("=");
  if (i < 1) throw new UserError(`invalid argument "${v}" for "--ulimit" flag: invalid ulimit argument: ${v}`);
  const name = v.slice(0, i);
  if (!(name in RLIMITS) || name === "as") throw new UserError(`invalid argument "${v}" for "--ulimit" flag: invalid ulimit type: ${name}`);
  const parts = v.slice(i + 1).split(":");
  if (parts.length > 2) throw new UserError(`invalid argument "${v}" for "--ulimit" flag: too many limit value arguments - ${v.slice(i + 1)}, can only have up to two, \`soft[:hard]\``);
  const num = (s: string) => {
    if (!/^-?\d+$/.test(s)) throw new UserError(`invalid argument "${v}" for "--ulimit" flag: strconv.ParseInt: parsing "${s}": invalid syntax`);
    return Number(s);
  };
  const soft = num(parts[0]!);
  const hard = parts.length > 1 ? num(parts[1]!) : soft;
  if (soft > hard && hard !== -1) {
    throw new UserError(`invalid argument "${v}" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  }
  return { name, soft, hard };
}

/** --device HOST[:CONTAINER][:PERMISSIONS]; the host node is looked at now (type, numbers, mode). */
export function parseDevice(v: string): DeviceMapping {
  const parts = v.split(":");
  let perms = "rwm";
  if (parts.length > 1 && /^[rwm]{1,3}$/.test(parts[parts.length - 1]!) && !parts[parts.length - 1]!.startsWith("/")) perms = parts.pop()!;
  if (parts.length > 2 || !parts[0]) throw new UserError(`invalid argument "${v}" for "--device" flag: bad format for path: ${v}`);
  const host = parts[0]!;
  const container = parts[1] ?? host;
  if (!container.startsWith("/")) throw new UserError(`invalid argument "${v}" for "--device" flag: bad format for path: ${v}`);
  if (new Set(perms).size !== perms.length) throw new UserError(`invalid argument "${v}" for "--device" flag: invalid device mode: ${perms}`);
  let st;
  try {
    st = statSync(host);
  } catch {
    // 127, as Docker's CLI answers any "no such file or directory".
    throw new UserError(`error gathering device information while adding custom device "${host}": no such file or directory`, 127);
  }
  const type = st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : undefined;
  if (!type) throw new UserError(`error gathering device information while adding custom device "${host}": not a device node`);
  const rdev = st.rdev;
  const major = Number((BigInt(rdev) >> 8n) & 0xfffn);
  const minor = Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n));
  return { host, container, permissions: perms, type, major, minor, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** `c 1:3 rwm`, `b *:* m`, `a` (cgroup v1's devices.allow syntax). */
export function parseDeviceCgroupRule(v: string): string {
  if (!/^(a|[cb] (\d+|\*):(\d+|\*) [rwm]{1,3})$/.test(v.trim())) {
    throw new UserError(`invalid argument "${v}" for "--device-cgroup-rule" flag: invalid device cgroup format '${v}'`);
  }
  return v.trim();
}

/**
 * Sysctls a container may set: those of namespaces it has its own of (Docker's and runc's list:
 * IPC's kernel.msg*, sem, shm*, fs.mqueue.*; the network namespace's net.*; UTS's domainname
 * and hostname). Anything else would change the host.
 */
export function checkSysctl(key: string, o: { ipcHost: boolean; utsHost: boolean }): void {
  const ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];
  if (ipc.includes(key) || key.startsWith("fs.mqueue.")) {
    if (o.ipcHost) throw new UserError(`sysctl "${key}" not allowed in host IPC namespace`);
    return;
  }
  if (key === "kernel.domainname" || key === "kernel.hostname") {
    if (o.utsHost) throw new UserError(`sysctl "${key}" not allowed in host UTS namespace`);
    if (key === "kernel.hostname") throw new UserError(`sysctl "kernel.hostname" is not allowed: use --hostname`);
    return;
  }
  if (key.startsWith("net.")) return;
  throw new UserError(`sysctl "${key}" is not in a separate kernel namespace: it is not allowed`);
}

/** Docker's words for a refused --sysctl (the reason follows in checkSysctl's message). */
function sysctlRefused(s: string, e: unknown): never {
  throw new UserError(`invalid argument "${s}" for "--sysctl" flag: sysctl '${s}' is not whitelisted (${(e as Error).message})`);
}

function namespaceMode(v: string | undefined, flag: string, allowed: string[]): NamespaceMode | undefined {
  if (v === undefined || v === "" || allowed.includes(v)) return undefined;
  if (v === "host") return { host: true };
  if (v.startsWith("container:") && v.length > "container:".length && flag !== "--uts") return { container: v.slice("container:".length) };
  throw new UserError(`invalid ${flag.slice(2).toUpperCase()} mode: ${v}`);
}

/** The flags this file reads (service-options.ts's ServiceFlags has them all). */
export interface RunFlags {
  init?: boolean;
  ulimits?: string[];
  devices?: string[];
  deviceCgroupRules?: string[];
  sysctls?: string[];
  shmSize?: string;
  ipc?: string;
  pid?: string;
  uts?: string;
  logDriver?: string;
  logOpts?: string[];
  oomScoreAdj?: string;
}

export function parseRunOptions(f: RunFlags): RunOptions | undefined {
  const o: RunOptions = {};
  if (f.init) o.init = true;
  if (f.ulimits?.length) {
    const byName = new Map<string, Ulimit>();
    for (const u of f.ulimits.map(parseUlimit)) byName.set(u.name, u);
    o.ulimits = [...byName.values()];
  }
  if (f.devices?.length) o.devices = f.devices.map(parseDevice);
  if (f.deviceCgroupRules?.length) o.deviceCgroupRules = f.deviceCgroupRules.map(parseDeviceCgroupRule);
  if (f.ipc === "shareable") o.ipcShareable = true;
  if (f.ipc === "none") throw new UserError("IPC mode none (no /dev/shm) is not supported by minid: use private, shareable, host or container:NAME");
  o.ipc = namespaceMode(f.ipc, "--ipc", ["private", "shareable"]);
  o.pid = namespaceMode(f.pid, "--pid", ["private"]);
  o.uts = namespaceMode(f.uts, "--uts", ["private"]);
  if (f.sysctls?.length) {
    o.sysctls = {};
    for (const s of f.sysctls) {
      const i = s.indexOf("=");
      if (i < 1) throw new UserError(`invalid argument "${s}" for "--sysctl" flag: ${s} is not a valid sysctl value`);
      const key = s.slice(0, i).replace(/\//g, ".");
      try {
        checkSysctl(key, { ipcHost: Boolean(o.ipc && "host" in o.ipc), utsHost: Boolean(o.uts && "host" in o.uts) });
      } catch (e) {
        sysctlRefused(s, e);
      }
      o.sysctls[key] = s.slice(i + 1);
    }
  }
  if (f.shmSize !== undefined) {
    const { parseBytes } = require("../util/units.ts") as typeof import("../util/units.ts");
    let n: number;
    try {
      n = parseBytes(f.shmSize, "--shm-size");
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    // 0 is the default (64 MiB), as Docker reads it.
    if (n > 0) o.shmSize = n;
  }
  if (f.logDriver !== undefined) {
    if (!["json-file", "none", "local"].includes(f.logDriver)) {
      throw new UserError(`failed to create container: logger: no log driver named '${f.logDriver}' is registered (minid has json-file, local and none)`);
    }
    o.logDriver = f.logDriver as RunOptions["logDriver"];
  }
  if (f.logOpts?.length) {
    o.logOpts = {};
    for (const s of f.logOpts) {
      const i = s.indexOf("=");
      if (i < 1) throw new UserError(`invalid argument "${s}" for "--log-opt" flag: invalid key value pair format: ${s}`);
      const k = s.slice(0, i);
      if (!["max-size", "max-file", "compress", "mode", "max-buffer-size", "labels", "env", "tag"].includes(k)) {
        throw new UserError(`unknown log opt '${k}' for ${o.logDriver ?? "json-file"} log driver`);
      }
      o.logOpts[k] = s.slice(i + 1);
    }
    if (o.logDriver === "none") throw new UserError(`unknown log opt '${Object.keys(o.logOpts)[0]}' for none log driver`);
    checkLogOpts(o.logOpts);
  }
  if (f.oomScoreAdj !== undefined) {
    if (!/^-?\d+$/.test(f.oomScoreAdj)) {
      throw new UserError(`invalid argument "${f.oomScoreAdj}" for "--oom-score-adj" flag: strconv.ParseInt: parsing "${f.oomScoreAdj}": invalid syntax`);
    }
    const n = Number(f.oomScoreAdj);
    if (n < -1000 || n > 1000) throw new UserError(`Invalid value ${n}, range for oom score adj is [-1000, 1000]`);
    o.oomScoreAdj = n;
  }
  return Object.values(o).some((v) => v !== undefined) ? o : undefined;
}

function checkLogOpts(opts: Record<string, string>): void {
  if (opts["max-size"] !== undefined) {
    const { parseBytes } = require("../util/units.ts") as typeof import("../util/units.ts");
    try {
      if (parseBytes(opts["max-size"]!, "--log-opt max-size") <= 0) throw new Error();
    } catch {
      throw new UserError(`invalid log opt max-size=${opts["max-size"]}: use a size such as 10m`);
    }
  }
  if (opts["max-file"] !== undefined) {
    if (!/^\d+$/.test(opts["max-file"]!) || Number(opts["max-file"]) < 1) throw new UserError(`max-file cannot be less than 1`);
    if (opts["max-size"] === undefined && Number(opts["max-file"]) > 1) throw new UserError(`max-file cannot be set when max-size is not set`);
  }
}
