// linux.cgroupsPath and linux.resources on cgroupfs, v1 (one hierarchy per controller, as on
// this project's hybrid hosts) and v2. An absolute cgroupsPath is taken from each hierarchy's
// root, a relative one from the runtime's own cgroup, as runc's cgroupfs driver does. With
// --systemd-cgroup the "slice:prefix:name" form is mapped onto cgroupfs as
// /<slice>/<prefix>-<name>.scope (there is no systemd to ask; see README).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Device, DeviceRule, Resources } from "./config.ts";
import type { CgroupDirs } from "./store.ts";
import { RuntimeError } from "./errors.ts";

const ROOT = "/sys/fs/cgroup";

interface Hierarchy {
  mount: string;
  /** Controllers (and name=… for named hierarchies) of a v1 hierarchy; "" for cgroup2. */
  key: string;
  controllers: string[];
}

function hierarchies(): { version: "v1" | "v2"; list: Hierarchy[] } {
  if (existsSync(join(ROOT, "cgroup.controllers"))) return { version: "v2", list: [{ mount: ROOT, key: "", controllers: [] }] };
  const list: Hierarchy[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const [fstype, , superOpts] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup") continue;
    const mount = line.split(" ")[4]!;
    const controllers = superOpts!.split(",").filter((o) => o !== "rw" && o !== "ro" && !o.startsWith("release_agent") && o !== "clone_children" && o !== "noprefix" && o !== "xattr");
    if (!mount.startsWith(ROOT + "/")) continue;
    if (list.some((h) => h.mount === mount)) continue;
    list.push({ mount, key: controllers.join(","), controllers });
  }
  return { version: "v1", list };
}

/** The runtime's own cgroup in each hierarchy (for relative cgroupsPath). */
function ownCgroups(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").trim().split("\n")) {
    const [id, ctrls, path] = line.split(":");
    m.set(id === "0" ? "" : ctrls!, path!);
  }
  return m;
}

/** "slice:prefix:name" → cgroupfs path, for --systemd-cgroup. */
export function systemdToFs(path: string): string {
  const parts = path.split(":");
  if (parts.length !== 3) throw new RuntimeError(`expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "${path}" instead`);
  const [slice, prefix, name] = parts;
  const s = slice || "system.slice";
  return `/${s}/${prefix ? `${prefix}-` : ""}${name}${name!.endsWith(".slice") ? "" : ".scope"}`;
}

/** Make the container's cgroup directories (nothing is applied yet). */
export function createCgroups(cgroupsPath: string | undefined, id: string, systemd: boolean): CgroupDirs {
  let path = cgroupsPath || (systemd ? `system.slice:minid-runtime:${id}` : `/minid-runtime/${id}`);
  if (systemd) path = systemdToFs(path);
  const { version, list } = hierarchies();
  const own = path.startsWith("/") ? undefined : ownCgroups();
  const dirs: Record<string, string> = {};
  const created: string[] = [];
  try {
    for (const h of list) {
      const base = own ? (own.get(h.key) ?? "/") : "/";
      const rel = join(base, path);
      if (rel === "/" ) throw new RuntimeError(`cgroupsPath ${JSON.stringify(cgroupsPath)} names the root cgroup`);
      let cur = h.mount;
      for (const seg of rel.split("/").filter(Boolean)) {
        const parent = cur;
        cur = join(cur, seg);
        try {
          mkdirSync(cur);
          created.push(cur);
          // A new v1 cpuset has no CPUs or memory nodes: a task cannot join it until they are set.
          if (h.controllers.includes("cpuset")) for (const f of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(join(cur, f), readFileSync(join(parent, f), "utf8").trim() || "\n");
        } catch (e: any) {
          if (e?.code !== "EEXIST") throw e;
        }
      }
      dirs[h.key] = cur;
      for (const c of h.controllers) dirs[c] = cur;
    }
  } catch (e) {
    removeCgroups({ version, dirs, created });
    if (e instanceof RuntimeError) throw e;
    throw new RuntimeError(`cannot create cgroup ${path}: ${(e as Error).message}`);
  }
  if (version === "v2") enableControllersV2(dirs[""]!);
  return { version, dirs, created };
}

function enableControllersV2(dir: string): void {
  // Each ancestor must delegate the controllers to its children.
  const rel = dir.slice(ROOT.length).split("/").filter(Boolean);
  let cur = ROOT;
  for (const seg of rel) {
    try {
      const avail = readFileSync(join(cur, "cgroup.controllers"), "utf8").trim().split(/\s+/).filter(Boolean);
      for (const c of avail) {
        try {
          writeFileSync(join(cur, "cgroup.subtree_control"), `+${c}`);
        } catch {}
      }
    } catch {}
    cur = join(cur, seg);
  }
}

/** The cgroup.procs files init writes "0" into to join. */
export function procsFiles(cg: CgroupDirs): string[] {
  return [...new Set(Object.values(cg.dirs))].map((d) => join(d, "cgroup.procs"));
}

export function cgroupPids(cg: CgroupDirs): number[] {
  const dir = cg.version === "v2" ? cg.dirs[""] : (cg.dirs.pids ?? cg.dirs.memory ?? cg.dirs.freezer ?? Object.values(cg.dirs)[0]);
  if (!dir) return [];
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function removeCgroups(cg: CgroupDirs): void {
  for (const d of [...cg.created].reverse()) {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(d);
        break;
      } catch (e: any) {
        if (e?.code === "ENOENT") break;
        if (e?.code !== "EBUSY") break;
        Bun.sleepSync(10);
      }
    }
  }
}

function write(dir: string | undefined, file: string, value: string | number, what: string): void {
  if (!dir) throw new RuntimeError(`cannot set ${what}: the ${file.split(".")[0]} cgroup controller is not mounted`);
  try {
    writeFileSync(join(dir, file), String(value));
  } catch (e: any) {
    throw new RuntimeError(`cannot set ${what} (${join(dir, file)} = ${value}): ${e?.code ?? e?.message}`);
  }
}

const DEFAULT_ALLOWED: DeviceRule[] = [
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },
  { allow: true, type: "c", major: 136, minor: null, access: "rwm" },
];

function deviceLine(r: DeviceRule): string {
  const t = r.type ?? "a";
  if (t === "a" && r.major == null && r.minor == null) return `a *:* ${r.access || "rwm"}`;
  const n = (v: number | null | undefined) => (v == null || v < 0 ? "*" : String(v));
  return `${t} ${n(r.major)}:${n(r.minor)} ${r.access || "rwm"}`;
}

/**
 * Apply linux.resources. `update` applies only what is given (runc update); create applies the
 * device rules with the runtime's defaults for the nodes every container gets.
 */
export function applyResources(cg: CgroupDirs, r: Resources | undefined, opts: { devices: boolean; warn: (m: string) => void; nodes?: Device[] }): void {
  if (!r) r = {};
  // linux.devices are usable in the container, as runc adds them to the allow list.
  if (opts.devices && opts.nodes?.length) {
    r = { ...r, devices: [...(r.devices ?? []), ...opts.nodes.filter((d) => d.type !== "p").map((d) => ({ allow: true, type: d.type === "u" ? "c" : d.type, major: d.major, minor: d.minor, access: "rwm" }))] };
  }
  if (cg.version === "v1") applyV1(cg.dirs, r, opts);
  else applyV2(cg.dirs[""]!, r, opts);
}

function applyV1(d: Record<string, string>, r: Resources, opts: { devices: boolean; warn: (m: string) => void }): void {
  if (r.unified && Object.keys(r.unified).length) throw new RuntimeError("linux.resources.unified needs cgroup v2; this host uses cgroup v1");
  const m = r.memory;
  if (m) {
    if (m.limit !== undefined) {
      // Raising the limit above memsw's needs memsw raised first; lowering, the other way.
      try {
        write(d.memory, "memory.limit_in_bytes", m.limit, "memory.limit");
      } catch (e) {
        if (m.swap === undefined) throw e;
        write(d.memory, "memory.memsw.limit_in_bytes", m.swap, "memory.swap");
        write(d.memory, "memory.limit_in_bytes", m.limit, "memory.limit");
      }
    }
    if (m.swap !== undefined) {
      if (!existsSync(join(d.memory ?? "/nonexistent", "memory.memsw.limit_in_bytes"))) opts.warn("memory.swap: swap accounting is off on this host (memory.memsw.* absent); not applied");
      else write(d.memory, "memory.memsw.limit_in_bytes", m.swap, "memory.swap");
    }
    if (m.reservation !== undefined) write(d.memory, "memory.soft_limit_in_bytes", m.reservation, "memory.reservation");
    if (m.kernel !== undefined) {
      const f = join(d.memory ?? "/nonexistent", "memory.kmem.limit_in_bytes");
      if (existsSync(f)) {
        write(d.memory, "memory.kmem.limit_in_bytes", m.kernel, "memory.kernel");
        // Linux >= 5.16 accepts the write and ignores it: say so rather than pretend.
        if (readFileSync(f, "utf8").trim() !== String(m.kernel)) opts.warn("memory.kernel: this kernel ignores kernel-memory limits (deprecated since Linux 5.16); not applied");
      } else opts.warn("memory.kernel: this kernel has no kernel-memory limit; not applied");
    }
    if (m.kernelTCP !== undefined) write(d.memory, "memory.kmem.tcp.limit_in_bytes", m.kernelTCP, "memory.kernelTCP");
    if (m.swappiness !== undefined && m.swappiness !== null) {
      if (m.swappiness > 100) throw new RuntimeError(`invalid memory swappiness ${m.swappiness}: must be 0..100`);
      write(d.memory, "memory.swappiness", m.swappiness, "memory.swappiness");
    }
    if (m.disableOOMKiller) write(d.memory, "memory.oom_control", 1, "memory.disableOOMKiller");
    if (m.useHierarchy !== undefined) {
      try {
        write(d.memory, "memory.use_hierarchy", m.useHierarchy ? 1 : 0, "memory.useHierarchy");
      } catch (e) {
        opts.warn((e as Error).message);
      }
    }
  }
  const c = r.cpu;
  if (c) {
    if (c.shares) write(d.cpu, "cpu.shares", c.shares, "cpu.shares");
    if (c.period) write(d.cpu, "cpu.cfs_period_us", c.period, "cpu.period");
    if (c.quota !== undefined && c.quota !== 0) write(d.cpu, "cpu.cfs_quota_us", c.quota, "cpu.quota");
    if (c.burst !== undefined) write(d.cpu, "cpu.cfs_burst_us", c.burst, "cpu.burst");
    if (c.realtimePeriod) write(d.cpu, "cpu.rt_period_us", c.realtimePeriod, "cpu.realtimePeriod");
    if (c.realtimeRuntime) write(d.cpu, "cpu.rt_runtime_us", c.realtimeRuntime, "cpu.realtimeRuntime");
    if (c.idle !== undefined) write(d.cpu, "cpu.idle", c.idle, "cpu.idle");
    if (c.cpus) write(d.cpuset, "cpuset.cpus", c.cpus, "cpu.cpus");
    if (c.mems) write(d.cpuset, "cpuset.mems", c.mems, "cpu.mems");
  }
  const b = r.blockIO;
  if (b) {
    const dir = d.blkio;
    const weightFile = dir && existsSync(join(dir, "blkio.weight")) ? "blkio.weight" : "blkio.bfq.weight";
    if (b.weight) write(dir, weightFile, b.weight, "blockIO.weight");
    if (b.leafWeight) write(dir, "blkio.leaf_weight", b.leafWeight, "blockIO.leafWeight");
    for (const w of b.weightDevice ?? []) {
      if (w.weight) write(dir, weightFile === "blkio.weight" ? "blkio.weight_device" : "blkio.bfq.weight_device", `${w.major}:${w.minor} ${w.weight}`, "blockIO.weightDevice");
      if (w.leafWeight) write(dir, "blkio.leaf_weight_device", `${w.major}:${w.minor} ${w.leafWeight}`, "blockIO.weightDevice.leafWeight");
    }
    const t: [keyof NonNullable<Resources["blockIO"]>, string][] = [
      ["throttleReadBpsDevice", "blkio.throttle.read_bps_device"],
      ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device"],
      ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device"],
      ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"],
    ];
    for (const [k, f] of t) for (const x of (b[k] as { major: number; minor: number; rate: number }[] | undefined) ?? []) write(dir, f, `${x.major}:${x.minor} ${x.rate}`, `blockIO.${k}`);
  }
  for (const h of r.hugepageLimits ?? []) write(d.hugetlb, `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit, `hugepageLimits ${h.pageSize}`);
  const n = r.network;
  if (n) {
    if (n.classID !== undefined) write(d.net_cls, "net_cls.classid", n.classID, "network.classID");
    for (const p of n.priorities ?? []) write(d.net_prio, "net_prio.ifpriomap", `${p.name} ${p.priority}`, "network.priorities");
  }
  if (r.pids) write(d.pids, "pids.max", r.pids.limit > 0 ? r.pids.limit : "max", "pids.limit");
  for (const [dev, lim] of Object.entries(r.rdma ?? {}) as [string, { hcaHandles?: number; hcaObjects?: number }][]) {
    const parts = [lim.hcaHandles !== undefined ? `hca_handle=${lim.hcaHandles}` : "", lim.hcaObjects !== undefined ? `hca_object=${lim.hcaObjects}` : ""].filter(Boolean);
    write(d.rdma, "rdma.max", `${dev} ${parts.join(" ")}`, "rdma");
  }
  if (opts.devices && d.devices) {
    const rules = [...(r.devices ?? []), ...DEFAULT_ALLOWED];
    for (const rule of rules) write(d.devices, rule.allow ? "devices.allow" : "devices.deny", deviceLine(rule), "devices");
  } else if (r.devices?.length && d.devices) {
    for (const rule of r.devices) write(d.devices, rule.allow ? "devices.allow" : "devices.deny", deviceLine(rule), "devices");
  }
}

function applyV2(dir: string, r: Resources, opts: { devices: boolean; warn: (m: string) => void }): void {
  const m = r.memory;
  if (m) {
    if (m.limit !== undefined) write(dir, "memory.max", m.limit < 0 ? "max" : m.limit, "memory.limit");
    if (m.swap !== undefined) write(dir, "memory.swap.max", m.swap < 0 ? "max" : m.limit !== undefined && m.limit >= 0 ? Math.max(0, m.swap - m.limit) : m.swap, "memory.swap");
    if (m.reservation !== undefined) write(dir, "memory.low", m.reservation, "memory.reservation");
    if (m.kernel !== undefined || m.kernelTCP !== undefined) opts.warn("memory.kernel/kernelTCP have no cgroup v2 equivalent; not applied");
    if (m.swappiness !== undefined && m.swappiness !== null) opts.warn("memory.swappiness has no cgroup v2 equivalent; not applied");
    if (m.disableOOMKiller) throw new RuntimeError("memory.disableOOMKiller is not available on cgroup v2");
  }
  const c = r.cpu;
  if (c) {
    if (c.shares) write(dir, "cpu.weight", Math.round(1 + ((c.shares - 2) * 9999) / 262142), "cpu.shares");
    if (c.quota !== undefined || c.period) write(dir, "cpu.max", `${c.quota && c.quota > 0 ? c.quota : "max"} ${c.period || 100000}`, "cpu.quota");
    if (c.burst !== undefined) write(dir, "cpu.max.burst", c.burst, "cpu.burst");
    if (c.idle !== undefined) write(dir, "cpu.idle", c.idle, "cpu.idle");
    if (c.cpus) write(dir, "cpuset.cpus", c.cpus, "cpu.cpus");
    if (c.mems) write(dir, "cpuset.mems", c.mems, "cpu.mems");
    if (c.realtimeRuntime || c.realtimePeriod) throw new RuntimeError("cpu.realtimeRuntime/realtimePeriod are not available on cgroup v2");
  }
  const b = r.blockIO;
  if (b) {
    if (b.weight) write(dir, existsSync(join(dir, "io.bfq.weight")) ? "io.bfq.weight" : "io.weight", existsSync(join(dir, "io.bfq.weight")) ? b.weight : Math.round(1 + ((b.weight - 10) * 9999) / 990), "blockIO.weight");
    const lines: [string, { major: number; minor: number; rate: number }[] | undefined][] = [
      ["rbps", b.throttleReadBpsDevice], ["wbps", b.throttleWriteBpsDevice], ["riops", b.throttleReadIOPSDevice], ["wiops", b.throttleWriteIOPSDevice],
    ];
    for (const [k, list] of lines) for (const x of list ?? []) write(dir, "io.max", `${x.major}:${x.minor} ${k}=${x.rate}`, "blockIO throttle");
  }
  for (const h of r.hugepageLimits ?? []) write(dir, `hugetlb.${h.pageSize}.max`, h.limit, `hugepageLimits ${h.pageSize}`);
  if (r.pids) write(dir, "pids.max", r.pids.limit > 0 ? r.pids.limit : "max", "pids.limit");
  if (r.network && (r.network.classID !== undefined || r.network.priorities?.length)) throw new RuntimeError("linux.resources.network (net_cls/net_prio) is not available on cgroup v2");
  for (const [k, v] of Object.entries(r.unified ?? {})) {
    if (k.includes("/") || k.startsWith("cgroup.")) throw new RuntimeError(`linux.resources.unified: invalid key ${JSON.stringify(k)}`);
    write(dir, k, v, `unified ${k}`);
  }
  if (r.devices?.length && opts.devices) opts.warn("device cgroup rules are not enforced on cgroup v2 (that needs an eBPF program minid does not load)");
}

export function freeze(cg: CgroupDirs, on: boolean): void {
  if (cg.version === "v2") {
    write(cg.dirs[""], "cgroup.freeze", on ? 1 : 0, "freeze");
    return;
  }
  write(cg.dirs.freezer, "freezer.state", on ? "FROZEN" : "THAWED", on ? "pause" : "resume");
  for (let i = 0; i < 500; i++) {
    const s = readFileSync(join(cg.dirs.freezer!, "freezer.state"), "utf8").trim();
    if (s === (on ? "FROZEN" : "THAWED")) return;
    Bun.sleepSync(2);
  }
  throw new RuntimeError(`cannot ${on ? "pause" : "resume"}: the freezer did not settle`);
}

export function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
