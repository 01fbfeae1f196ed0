// A container's inspect `HostConfig` with every key Docker's has, in Docker's order, so a
// script's `{{.HostConfig.CapAdd}}` or `{{json .HostConfig}}` finds what it finds under Docker
// (a missing key is a template error, exit 1). What minid knows comes from the record; the rest
// is Docker's value for a container that did not ask for it.
import type { ContainerState } from "./state.ts";
import { CAP_NAMES, DEFAULT_CAPS } from "../linux/capabilities.ts";
import { MASKED_PATHS, READONLY_PATHS } from "./options.ts";

/** Docker 20.10's HostConfig keys in its daemon's JSON order, with the value of an unset option. */
const DOCKER_HOST_CONFIG: [key: string, unset: unknown][] = [
  ["Binds", null], ["ContainerIDFile", ""], ["LogConfig", { Type: "json-file", Config: {} }], ["NetworkMode", "none"],
  ["PortBindings", {}], ["RestartPolicy", { Name: "no", MaximumRetryCount: 0 }], ["AutoRemove", false],
  ["VolumeDriver", ""], ["VolumesFrom", null], ["CapAdd", null], ["CapDrop", null],
  // Every minid container has its own cgroup namespace.
  ["CgroupnsMode", "private"], ["Dns", []], ["DnsOptions", []], ["DnsSearch", []], ["ExtraHosts", null],
  ["GroupAdd", null], ["IpcMode", "private"], ["Cgroup", ""], ["Links", null], ["OomScoreAdj", 0], ["PidMode", ""],
  ["Privileged", false], ["PublishAllPorts", false], ["ReadonlyRootfs", false], ["SecurityOpt", null],
  // omitempty in Docker: present only when set
  ["Tmpfs", undefined], ["UTSMode", ""], ["UsernsMode", ""], ["ShmSize", 67108864], ["Sysctls", undefined], ["Runtime", "minid"],
  ["ConsoleSize", [0, 0]], ["Isolation", ""], ["CpuShares", 0], ["Memory", 0], ["NanoCpus", 0], ["CgroupParent", ""], ["BlkioWeight", 0],
  ["BlkioWeightDevice", []], ["BlkioDeviceReadBps", null], ["BlkioDeviceWriteBps", null], ["BlkioDeviceReadIOps", null],
  ["BlkioDeviceWriteIOps", null], ["CpuPeriod", 0], ["CpuQuota", 0], ["CpuRealtimePeriod", 0], ["CpuRealtimeRuntime", 0],
  ["CpusetCpus", ""], ["CpusetMems", ""], ["Devices", []], ["DeviceCgroupRules", null], ["DeviceRequests", null],
  ["KernelMemory", 0], ["KernelMemoryTCP", 0], ["MemoryReservation", 0], ["MemorySwap", 0], ["MemorySwappiness", null], ["OomKillDisable", false],
  ["PidsLimit", null], ["Ulimits", null], ["CpuCount", 0], ["CpuPercent", 0], ["IOMaximumIOps", 0],
  ["IOMaximumBandwidth", 0], ["Mounts", undefined], ["MaskedPaths", null], ["ReadonlyPaths", null], ["Init", undefined],
];

/** What the record says about the options Docker shows but minid keeps in another form. */
function derived(st: ContainerState): Record<string, unknown> {
  const sec = st.security;
  const out: Record<string, unknown> = {};
  if (!sec) return out;
  if (sec.asGiven) {
    // What the user typed, as Docker keeps it.
    if (sec.asGiven.capAdd) out.CapAdd = sec.asGiven.capAdd;
    if (sec.asGiven.capDrop) out.CapDrop = sec.asGiven.capDrop;
    if (sec.asGiven.securityOpt) out.SecurityOpt = sec.asGiven.securityOpt;
  }
  if (!sec.privileged) {
    out.MaskedPaths = MASKED_PATHS;
    out.ReadonlyPaths = READONLY_PATHS;
  }
  if (sec.asGiven) return out;
  if (!sec.privileged) {
    // Records made before the lists were kept: what was added to and dropped from the default.
    const held = new Set(sec.capabilities.map((n) => `CAP_${CAP_NAMES[n]}`));
    const dflt = new Set(DEFAULT_CAPS.map((c) => `CAP_${c}`));
    const add = [...held].filter((c) => !dflt.has(c));
    const drop = [...dflt].filter((c) => !held.has(c));
    if (add.length) out.CapAdd = add;
    if (drop.length) out.CapDrop = drop.length === dflt.size ? ["ALL"] : drop;
  }
  const opts = [...(sec.noNewPrivileges ? ["no-new-privileges"] : []), ...(sec.seccomp === false && !sec.privileged ? ["seccomp=unconfined"] : [])];
  if (opts.length) out.SecurityOpt = opts;
  return out;
}

/**
 * `known` (inspect.ts's own HostConfig fields) completed to Docker's full HostConfig: its keys
 * win, then what the record implies, then Docker's unset values; keys Docker lacks stay at the end.
 */
export function dockerHostConfig(st: ContainerState, known: Record<string, unknown>): Record<string, unknown> {
  const more = derived(st);
  const out: Record<string, unknown> = {};
  for (const [k, unset] of DOCKER_HOST_CONFIG) {
    const v = k in known && known[k] !== null ? known[k] : k in more ? more[k] : k in known ? known[k] : unset;
    // An omitempty key (unset undefined) is left out of the JSON when empty, yet a template
    // still finds it (Docker's CLI runs templates on its Go struct, where the field is nil):
    // a non-enumerable null is both.
    if (v !== undefined && !(unset === undefined && v === null)) out[k] = v;
    else if (unset === undefined) Object.defineProperty(out, k, { value: null, enumerable: false });
  }
  for (const [k, v] of Object.entries(known)) if (!(k in out) && v !== undefined && !DOCKER_HOST_CONFIG.some(([d]) => d === k)) out[k] = v;
  return out;
}
