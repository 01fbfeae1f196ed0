// Resource and security flags of `run`/`create`, parsed and checked before anything exists.
import type { CgroupLimits } from "../linux/cgroups.ts";
import type { SecurityConfig } from "./state.ts";
import { UserError } from "../util/errors.ts";

export interface ResourceFlags {
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  oomKillDisable?: boolean;
}

export interface SecurityFlags {
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  securityOpt: string[];
  readOnly: boolean;
  /** --group-add: checked against the image's /etc/group when the container starts. */
  groupAdd?: string[];
}

function integer(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw new UserError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

/** Docker's units and checks; an InvalidFlagError or CgroupError becomes a UserError. */
export async function parseResources(f: ResourceFlags): Promise<CgroupLimits> {
  const { parseBytes, parseMemorySwap, parseCpus } = await import("../util/units.ts");
  const { validateLimits } = await import("../linux/cgroups.ts");
  const l: CgroupLimits = {};
  try {
    if (f.memory !== undefined) l.memory = parseBytes(f.memory, "-m, --memory");
    if (f.memorySwap !== undefined) l.memorySwap = parseMemorySwap(f.memorySwap, "--memory-swap");
    if (f.cpus !== undefined) l.nanoCpus = parseCpus(f.cpus, "--cpus");
    if (f.cpuShares !== undefined) l.cpuShares = integer(f.cpuShares, "-c, --cpu-shares");
    if (f.cpusetCpus !== undefined) l.cpusetCpus = f.cpusetCpus;
    if (f.pidsLimit !== undefined) l.pidsLimit = integer(f.pidsLimit, "--pids-limit");
    if (f.oomKillDisable) l.oomKillDisable = true;
    validateLimits(l);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError((e as Error).message);
  }
  return l;
}

export async function parseSecurity(f: SecurityFlags): Promise<SecurityConfig> {
  const { resolveCaps } = await import("../linux/capabilities.ts");
  // Off by default as in Docker: setuid tools (ping, su) work; the option turns it on.
  let noNewPrivileges = false;
  let seccomp = !f.privileged;
  for (const o of f.securityOpt) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/.exec(o);
    const key = m?.[1];
    const value = m?.[2];
    if (key === "no-new-privileges") {
      if (value === undefined || value === "true") noNewPrivileges = true;
      else if (value === "false") noNewPrivileges = false;
      else throw new UserError(`invalid --security-opt ${o}: no-new-privileges takes true or false`);
    } else if (key === "seccomp" && value === "unconfined") {
      seccomp = false;
    } else if (key === "seccomp" && value === "default") {
      seccomp = !f.privileged;
    } else {
      throw new UserError(`invalid --security-opt "${o}": supported are no-new-privileges[=true|false] and seccomp=unconfined|default`);
    }
  }
  let capabilities: number[];
  try {
    capabilities = resolveCaps({ add: f.capAdd, drop: f.capDrop, privileged: f.privileged });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const groupAdd = f.groupAdd?.length ? { groupAdd: f.groupAdd } : {};
  const given = Object.fromEntries(
    ([["capAdd", f.capAdd], ["capDrop", f.capDrop], ["securityOpt", f.securityOpt]] as const).filter(([, v]) => v.length),
  );
  const asGiven = Object.keys(given).length ? { asGiven: given } : {};
  return { capabilities, noNewPrivileges, privileged: f.privileged, readOnlyRootfs: f.readOnly, seccomp, ...groupAdd, ...asGiven };
}

/** Docker's defaults: kernel files a container must not read, and trees it must not write. */
export const MASKED_PATHS = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

/**
 * Docker's sysctls for a container with its own network namespace (since 20.10): any user may
 * bind ports below 1024 and send ICMP echo through datagram sockets (ping without CAP_NET_RAW).
 * Docker sets them only when it creates the network namespace: a container joining the
 * host's or another container's must not get them (they would change that namespace).
 */
export const DEFAULT_SYSCTLS: Record<string, string> = {
  "net.ipv4.ip_unprivileged_port_start": "0",
  "net.ipv4.ping_group_range": "0 2147483647",
};

export const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
