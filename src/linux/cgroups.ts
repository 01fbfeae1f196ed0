// Container cgroups for both cgroup v1 (one hierarchy per controller) and v2 (unified),
// detected at run time. Everything here is synchronous: callers are a CLI and an init that
// run one container operation at a time, and the waits (freeze, empty-before-rmdir) are short.
import {
  closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmdirSync,
  statSync, writeSync, constants as FS, type Dirent,
} from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { kill } from "./libc.ts";

export const DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup";
const CPU_PERIOD_US = 100_000; // docker's period for --cpus
const MIN_MEMORY = 6 * 1024 * 1024; // docker refuses smaller --memory values
const SIGKILL = 9;

export type CgroupVersion = "v1" | "v2";

export interface CgroupLimits {
  /** --memory, bytes. */
  memory?: number;
  /** --memory-swap, bytes of memory+swap; -1 = unlimited swap. Unset/0 = 2 × memory (docker). */
  memorySwap?: number;
  /** --cpus × 1e9. */
  nanoCpus?: number;
  /** --cpu-shares (v1 scale 2..262144; converted to cpu.weight on v2). */
  cpuShares?: number;
  /** --cpuset-cpus, e.g. "0-2,4". */
  cpusetCpus?: string;
  /** --pids-limit; 0 or negative = unlimited. */
  pidsLimit?: number;
  /** --oom-kill-disable (v1 only; docker discards it on v2 with a warning, so do we). */
  oomKillDisable?: boolean;
  /** v2 memory.oom.group: an OOM kill takes down the whole container, not one process. */
  oomGroup?: boolean;
  /**
   * --privileged: no device restrictions. Otherwise v1 gets docker's default device
   * allow-list. (v2 device control needs an eBPF program: not implemented.)
   */
  allowAllDevices?: boolean;
}

export interface CgroupOptions {
  /** Where the cgroup filesystem(s) are mounted. Tests point this at a fake tree. */
  root?: string;
  /** Skip detection (detection looks for <root>/cgroup.controllers). */
  version?: CgroupVersion;
}

/** What to save in the container state so a later `rm` (or a crash cleanup) can find it. */
export type CgroupPaths =
  | { version: "v2"; path: string }
  | { version: "v1"; paths: Record<string, string> /* controller → directory */ };

export interface CgroupStats {
  /** Bytes charged to the group, page cache included (null: memory controller absent). */
  memoryUsage: number | null;
  /** Inactive file cache; `docker stats` shows memoryUsage minus this. */
  memoryInactiveFile: number | null;
  /** null = unlimited or unknown. */
  memoryLimit: number | null;
  cpuUsageNs: number | null;
  pids: number;
  /** Bytes read from and written to block devices (docker stats' BLOCK I/O). */
  blockRead: number;
  blockWrite: number;
}

/** v2 io.stat: one line per device, "MAJ:MIN rbytes=N wbytes=N …". */
function ioV2(file: string): { blockRead: number; blockWrite: number } {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {}
  let blockRead = 0;
  let blockWrite = 0;
  for (const m of text.matchAll(/rbytes=(\d+)\s+wbytes=(\d+)/g)) {
    blockRead += Number(m[1]);
    blockWrite += Number(m[2]);
  }
  return { blockRead, blockWrite };
}

/** v1 blkio.throttle.io_service_bytes: "MAJ:MIN Read N" / "MAJ:MIN Write N" lines. */
function ioV1(dir: string | undefined): { blockRead: number; blockWrite: number } {
  let text = "";
  try {
    if (dir) text = readFileSync(join(dir, "blkio.throttle.io_service_bytes"), "utf8");
  } catch {}
  let blockRead = 0;
  let blockWrite = 0;
  for (const m of text.matchAll(/^\S+ (Read|Write) (\d+)$/gm)) {
    if (m[1] === "Read") blockRead += Number(m[2]);
    else blockWrite += Number(m[2]);
  }
  return { blockRead, blockWrite };
}

/** One-line, user-facing failure to set up or operate a cgroup. */
export class CgroupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CgroupError";
  }
}

export function detectCgroupVersion(root = DEFAULT_CGROUP_ROOT): CgroupVersion {
  return existsSync(join(root, "cgroup.controllers")) ? "v2" : "v1";
}

// ---------------------------------------------------------------------------------------------
// Pure conversions (exported for tests and for `inspect`-style display)

/**
 * cpu.shares → cpu.weight, with the formula runc (opencontainers/cgroups) and crun adopted in
 * 2025: a quadratic in log2 space mapping 2→1, 1024→100 (the defaults match), 262144→10000.
 * The older linear formula mapped the default 1024 to 39, under-weighting every container.
 */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(Math.pow(10, exponent));
}

/** --cpus as nano-CPUs → "quota period" for v2 cpu.max (v1 writes the same two numbers). */
export function cpuMax(nanoCpus: number, periodUs = CPU_PERIOD_US): string {
  return `${cpuQuotaUs(nanoCpus, periodUs)} ${periodUs}`;
}

function cpuQuotaUs(nanoCpus: number, periodUs = CPU_PERIOD_US): number {
  return Math.floor((nanoCpus * periodUs) / 1e9); // docker: NanoCPUs * period / 1e9
}

/** Docker's memory+swap semantics → v2 memory.swap.max ("max" or bytes of swap alone). */
export function swapMax(memory: number, memorySwap: number | undefined): string {
  const total = memorySwap === undefined || memorySwap === 0 ? memory * 2 : memorySwap;
  return total === -1 ? "max" : String(total - memory);
}

/** "0-2,4" → [0,1,2,4]; null when malformed. */
export function parseCpuList(s: string): number[] | null {
  const out = new Set<number>();
  if (s.trim() === "") return [];
  for (const part of s.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 65536) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * Docker's daemon-side checks, runnable before anything is created (the run command can call
 * it right after parsing flags). Throws CgroupError with docker's wording.
 */
export function validateLimits(l: CgroupLimits, cpuCount = availableParallelism()): void {
  if (l.memory !== undefined && l.memory > 0 && l.memory < MIN_MEMORY) {
    throw new CgroupError("Minimum memory limit allowed is 6MB");
  }
  if (l.memorySwap !== undefined && l.memorySwap !== 0) {
    if (!l.memory || l.memory <= 0) {
      throw new CgroupError(
        "You should always set the Memory limit when using Memoryswap limit, see usage",
      );
    }
    if (l.memorySwap !== -1 && l.memorySwap < l.memory) {
      throw new CgroupError(
        "Minimum memoryswap limit should be larger than memory limit, see usage",
      );
    }
  }
  if (l.nanoCpus !== undefined && l.nanoCpus !== 0) {
    if (l.nanoCpus < 0 || l.nanoCpus < 10_000_000 || l.nanoCpus > cpuCount * 1e9) {
      throw new CgroupError(
        `Range of CPUs is from 0.01 to ${cpuCount}.00, as there are only ${cpuCount} CPUs available`,
      );
    }
  }
  if (l.cpuShares !== undefined && l.cpuShares < 0) {
    throw new CgroupError(`invalid CPU shares ${l.cpuShares}: must be positive`);
  }
  if (l.cpusetCpus !== undefined && l.cpusetCpus !== "" && parseCpuList(l.cpusetCpus) === null) {
    throw new CgroupError(`Invalid value ${l.cpusetCpus} for cpuset cpus`);
  }
}

// ---------------------------------------------------------------------------------------------
// Small file helpers. Writes never create files: on cgroupfs a missing file means a missing
// controller or kernel feature, which must surface as such instead of as an odd EACCES.

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? String(e);
}

function writeValue(file: string, value: string): void {
  const fd = openSync(file, FS.O_WRONLY | FS.O_TRUNC);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

function readValue(file: string): string | null {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

function readInt(file: string): number | null {
  const v = readValue(file);
  if (v === null || v === "" || v === "max") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control, ...). */
function readKeyed(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (readValue(file) ?? "").split("\n")) {
    const [k, v] = line.split(/\s+/);
    if (k && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

function readPids(dir: string): number[] {
  const v = readValue(join(dir, "cgroup.procs"));
  return v ? v.split("\n").filter(Boolean).map(Number) : [];
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Validate a cgroup name such as "minid/<id>" and split it into path segments. */
function segments(name: string): string[] {
  const segs = name.split("/");
  if (!name || segs.some((s) => s === "" || s === "." || s === "..")) {
    throw new CgroupError(`invalid cgroup name "${name}"`);
  }
  return segs;
}

/** mkdir that reports whether it created the directory (an existing one is fine: mkdir -p). */
function mkdirOnce(dir: string): boolean {
  try {
    mkdirSync(dir); // cgroupfs populates the new directory with its interface files
    return true;
  } catch (e) {
    if (errCode(e) === "EEXIST") return false;
    throw new CgroupError(`cannot create cgroup ${dir}: ${errCode(e)}`);
  }
}

function rollback(created: string[]): void {
  for (const d of [...created].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // Best effort: a concurrent sibling may have made a shared parent non-empty.
    }
  }
}

// Which user-facing flag a limit came from, for error messages.
const FLAG: Record<keyof CgroupLimits, string> = {
  memory: "--memory",
  memorySwap: "--memory-swap",
  nanoCpus: "--cpus",
  cpuShares: "--cpu-shares",
  cpusetCpus: "--cpuset-cpus",
  pidsLimit: "--pids-limit",
  oomKillDisable: "--oom-kill-disable",
  oomGroup: "oom group",
  allowAllDevices: "--privileged",
};

/** The limits that were actually given, with the controller each one needs. */
function requestedControllers(l: CgroupLimits, v: CgroupVersion): Map<string, keyof CgroupLimits> {
  const need = new Map<string, keyof CgroupLimits>();
  const set = (ctrl: string, key: keyof CgroupLimits) => {
    if (!need.has(ctrl)) need.set(ctrl, key);
  };
  if (l.memory) set("memory", "memory");
  if (l.memorySwap) set("memory", "memorySwap");
  if (l.oomGroup && v === "v2") set("memory", "oomGroup");
  if (l.oomKillDisable && v === "v1") set("memory", "oomKillDisable");
  if (l.nanoCpus) set("cpu", "nanoCpus");
  if (l.cpuShares) set("cpu", "cpuShares");
  if (l.cpusetCpus) set("cpuset", "cpusetCpus");
  if (l.pidsLimit !== undefined && l.pidsLimit > 0) set("pids", "pidsLimit");
  return need;
}

/** Write one limit file, turning failure into "cannot apply --flag: ..." */
function applyValue(dir: string, file: string, value: string, key: keyof CgroupLimits): void {
  try {
    writeValue(join(dir, file), value);
  } catch (e) {
    const code = errCode(e);
    const why =
      code === "ENOENT"
        ? `${join(dir, file)} does not exist (controller or kernel feature missing)`
        : `writing "${value}" to ${join(dir, file)} failed: ${code}`;
    throw new CgroupError(`cannot apply ${FLAG[key]}: ${why}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Creation

/**
 * Create the cgroup `name` (relative to the hierarchy root, e.g. "minid/<id>") and apply
 * `limits`. Validates first (validateLimits) and removes what it created if anything fails.
 * Warnings (limits the host cannot enforce but docker would merely warn about) are returned
 * in `cgroup.warnings` for the CLI to print.
 */
export function createCgroup(name: string, limits: CgroupLimits, opts: CgroupOptions = {}): Cgroup {
  validateLimits(limits);
  const root = opts.root ?? DEFAULT_CGROUP_ROOT;
  const version = opts.version ?? detectCgroupVersion(root);
  const segs = segments(name);
  return version === "v2" ? createV2(root, segs, limits) : createV1(root, segs, limits);
}

// Enabled on every level when available, even without a limit, so `stats` can report them.
const V2_WANTED = ["cpuset", "cpu", "io", "memory", "pids", "hugetlb"];

function createV2(root: string, segs: string[], l: CgroupLimits): Cgroup {
  const need = requestedControllers(l, "v2");
  const created: string[] = [];
  const warnings: string[] = [];
  let parent = root;
  try {
    for (const seg of segs) {
      enableV2Controllers(parent, need);
      const dir = join(parent, seg);
      if (mkdirOnce(dir)) created.push(dir);
      parent = dir;
    }
    const dir = parent;
    if (l.memory) applyValue(dir, "memory.max", String(l.memory), "memory");
    if (l.memory && l.memory > 0) {
      if (existsSync(join(dir, "memory.swap.max"))) {
        applyValue(dir, "memory.swap.max", swapMax(l.memory, l.memorySwap), "memorySwap");
      } else if (l.memorySwap) {
        warnings.push(
          "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
        );
      }
    }
    if (l.oomGroup) applyValue(dir, "memory.oom.group", "1", "oomGroup");
    if (l.oomKillDisable) {
      warnings.push("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
    }
    if (l.nanoCpus) applyValue(dir, "cpu.max", cpuMax(l.nanoCpus), "nanoCpus");
    if (l.cpuShares) applyValue(dir, "cpu.weight", String(sharesToWeight(l.cpuShares)), "cpuShares");
    if (l.cpusetCpus) {
      checkCpusAvailable(l.cpusetCpus, readValue(join(dir, "cpuset.cpus.effective")));
      applyValue(dir, "cpuset.cpus", l.cpusetCpus, "cpusetCpus");
    }
    if (l.pidsLimit !== undefined) {
      if (l.pidsLimit > 0) applyValue(dir, "pids.max", String(l.pidsLimit), "pidsLimit");
      else if (existsSync(join(dir, "pids.max"))) applyValue(dir, "pids.max", "max", "pidsLimit");
    }
    return new Cgroup({ version: "v2", path: dir }, warnings);
  } catch (e) {
    rollback(created);
    throw e;
  }
}

/**
 * Make the controllers available to `parent`'s children. Required ones (for a requested limit)
 * must succeed; the rest are best effort (they may be bound to a v1 hierarchy on hybrid hosts).
 */
function enableV2Controllers(parent: string, need: Map<string, keyof CgroupLimits>): void {
  const available = (readValue(join(parent, "cgroup.controllers")) ?? "").split(/\s+/).filter(Boolean);
  for (const [ctrl, key] of need) {
    if (!available.includes(ctrl)) {
      throw new CgroupError(
        `cannot apply ${FLAG[key]}: cgroup v2 controller "${ctrl}" is not available in ${parent} ` +
          `(available: ${available.join(" ") || "none"})`,
      );
    }
  }
  const enabled = (readValue(join(parent, "cgroup.subtree_control")) ?? "").split(/\s+/);
  const todo = V2_WANTED.filter((c) => available.includes(c) && !enabled.includes(c));
  if (todo.length === 0) return;
  const file = join(parent, "cgroup.subtree_control");
  try {
    writeValue(file, todo.map((c) => `+${c}`).join(" "));
    return;
  } catch {
    // One refused controller fails the whole write; retry one by one to learn which.
  }
  for (const ctrl of todo) {
    try {
      writeValue(file, `+${ctrl}`);
    } catch (e) {
      const key = need.get(ctrl);
      if (key) {
        const hint = errCode(e) === "EBUSY" ? " (the parent cgroup has processes of its own)" : "";
        throw new CgroupError(
          `cannot apply ${FLAG[key]}: enabling cgroup v2 controller "${ctrl}" in ${file} failed: ${errCode(e)}${hint}`,
        );
      }
    }
  }
}

function checkCpusAvailable(requested: string, available: string | null): void {
  if (available === null || available === "") return;
  const have = new Set(parseCpuList(available) ?? []);
  const want = parseCpuList(requested) ?? [];
  if (want.some((c) => !have.has(c))) {
    throw new CgroupError(
      `Requested CPUs are not available - requested ${requested}, available: ${available}`,
    );
  }
}

// v1: created in every mounted hierarchy among these so freeze/stats/rm work without limits.
const V1_CONTROLLERS = ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio", "devices"];

// Docker/runc's default device allow-list (everything else denied): mknod of anything,
// and use of the null/zero/full/random/urandom/tty/console/ptmx/pts/tun devices.
const V1_DEFAULT_DEVICES = [
  "c *:* m", "b *:* m",
  "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
  "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
];

/** controller → hierarchy root directory, for the v1 hierarchies mounted under `root`. */
function v1Hierarchies(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const ctrl of V1_CONTROLLERS) {
    const p = join(root, ctrl);
    // Co-mounted controllers ("cpu,cpuacct" plus cpu/cpuacct symlinks) share one realpath.
    if (isDir(p) && existsSync(join(p, "cgroup.procs"))) out.set(ctrl, realpathSync(p));
  }
  return out;
}

function createV1(root: string, segs: string[], l: CgroupLimits): Cgroup {
  const hier = v1Hierarchies(root);
  for (const [ctrl, key] of requestedControllers(l, "v1")) {
    if (!hier.has(ctrl)) {
      throw new CgroupError(
        `cannot apply ${FLAG[key]}: cgroup v1 controller "${ctrl}" is not mounted under ${root}`,
      );
    }
  }
  const created: string[] = [];
  const warnings: string[] = [];
  const paths: Record<string, string> = {};
  const done = new Map<string, string>(); // hierarchy root → leaf, to create each only once
  try {
    for (const [ctrl, h] of hier) {
      let leaf = done.get(h);
      if (!leaf) {
        let dir = h;
        for (const seg of segs) {
          const parent = dir;
          dir = join(dir, seg);
          if (mkdirOnce(dir)) created.push(dir);
          // A new cpuset group starts with no CPUs and no memory nodes, and refuses tasks.
          if (existsSync(join(dir, "cpuset.cpus"))) inheritCpuset(parent, dir);
        }
        leaf = dir;
        done.set(h, leaf);
      }
      paths[ctrl] = leaf;
    }

    const mem = paths.memory;
    if (mem && l.memory) {
      applyValue(mem, "memory.limit_in_bytes", String(l.memory), "memory");
      if (existsSync(join(mem, "memory.memsw.limit_in_bytes"))) {
        // memsw must stay >= limit_in_bytes, which is why it is written second.
        const total = !l.memorySwap ? l.memory * 2 : l.memorySwap;
        applyValue(mem, "memory.memsw.limit_in_bytes", String(total), "memorySwap");
      } else if (l.memorySwap) {
        warnings.push(
          "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
        );
      }
    }
    if (mem && l.oomKillDisable) applyValue(mem, "memory.oom_control", "1", "oomKillDisable");
    if (l.oomGroup) warnings.push("memory.oom.group is a cgroup v2 feature; ignored on cgroup v1.");
    if (l.nanoCpus) {
      applyValue(paths.cpu!, "cpu.cfs_period_us", String(CPU_PERIOD_US), "nanoCpus");
      applyValue(paths.cpu!, "cpu.cfs_quota_us", String(cpuQuotaUs(l.nanoCpus)), "nanoCpus");
    }
    if (l.cpuShares) applyValue(paths.cpu!, "cpu.shares", String(l.cpuShares), "cpuShares");
    if (l.cpusetCpus) {
      const parent = join(paths.cpuset!, "..");
      checkCpusAvailable(l.cpusetCpus, readValue(join(parent, "cpuset.cpus")));
      applyValue(paths.cpuset!, "cpuset.cpus", l.cpusetCpus, "cpusetCpus");
    }
    if (l.pidsLimit !== undefined && paths.pids) {
      applyValue(paths.pids, "pids.max", l.pidsLimit > 0 ? String(l.pidsLimit) : "max", "pidsLimit");
    }
    if (paths.devices && !l.allowAllDevices) {
      applyValue(paths.devices, "devices.deny", "a", "allowAllDevices");
      for (const rule of V1_DEFAULT_DEVICES) {
        applyValue(paths.devices, "devices.allow", rule, "allowAllDevices");
      }
    }
    return new Cgroup({ version: "v1", paths }, warnings);
  } catch (e) {
    rollback(created);
    throw e;
  }
}

function inheritCpuset(parent: string, dir: string): void {
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    if ((readValue(join(dir, f)) ?? "") !== "") continue;
    const v = readValue(join(parent, f)) ?? "";
    try {
      writeValue(join(dir, f), v);
    } catch (e) {
      throw new CgroupError(`cannot initialise ${join(dir, f)} from its parent ("${v}"): ${errCode(e)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// An existing cgroup

/** Reattach to a cgroup from saved state (no checks: operations report what is missing). */
export function loadCgroup(paths: CgroupPaths): Cgroup {
  return new Cgroup(paths, []);
}

export class Cgroup {
  constructor(
    readonly paths: CgroupPaths,
    /** Limits that were requested but cannot be enforced here (docker-style warnings). */
    readonly warnings: string[],
  ) {}

  get version(): CgroupVersion {
    return this.paths.version;
  }

  /** Each distinct directory (v1 co-mounted controllers share one). */
  get dirs(): string[] {
    return uniqueDirs(this.paths);
  }

  private dir(ctrl: string): string | undefined {
    return this.paths.version === "v2" ? this.paths.path : this.paths.paths[ctrl];
  }

  /**
   * Move a process (all its threads) into the group; 0 means the calling process, which is
   * how the init joins before execve. The paths are host paths, so the init must do this
   * before pivot_root. Retries EINVAL briefly: a just-forked task may still be in TASK_NEW
   * (runc does the same).
   */
  addProcess(pid: number): void {
    for (const d of this.dirs) {
      const file = join(d, "cgroup.procs");
      for (let attempt = 0; ; attempt++) {
        try {
          writeValue(file, String(pid));
          break;
        } catch (e) {
          if (errCode(e) === "EINVAL" && attempt < 5) {
            Bun.sleepSync(30);
            continue;
          }
          throw new CgroupError(`cannot move process ${pid} into ${d}: ${errCode(e)}`);
        }
      }
    }
  }

  /** Pids of the group's processes (not including child cgroups). */
  procs(): number[] {
    const d = this.dir("pids") ?? this.dir("freezer") ?? this.dir("memory") ?? this.dirs[0];
    return d ? readPids(d) : [];
  }

  /** Stop every process (docker pause). Returns once the kernel reports the group frozen. */
  freeze(timeoutMs = 5000): void {
    if (this.paths.version === "v2") {
      const d = this.paths.path;
      writeOrThrow(join(d, "cgroup.freeze"), "1", "pause");
      if (!waitFor(() => readKeyed(join(d, "cgroup.events")).get("frozen") === 1, timeoutMs)) {
        tryWrite(join(d, "cgroup.freeze"), "0");
        throw new CgroupError(`cannot pause: ${d} did not freeze within ${timeoutMs} ms`);
      }
      return;
    }
    const d = this.requireV1("freezer", "pause");
    const state = join(d, "freezer.state");
    // v1 can stay in FREEZING when a task is mid-fork; rewriting FROZEN retries, as runc does.
    const ok = waitFor(() => {
      writeOrThrow(state, "FROZEN", "pause");
      return readValue(state) === "FROZEN";
    }, timeoutMs);
    if (!ok) {
      tryWrite(state, "THAWED");
      throw new CgroupError(`cannot pause: ${d} did not freeze within ${timeoutMs} ms`);
    }
  }

  thaw(timeoutMs = 5000): void {
    if (this.paths.version === "v2") {
      const d = this.paths.path;
      writeOrThrow(join(d, "cgroup.freeze"), "0", "unpause");
      if (!waitFor(() => readKeyed(join(d, "cgroup.events")).get("frozen") === 0, timeoutMs)) {
        throw new CgroupError(`cannot unpause: ${d} did not thaw within ${timeoutMs} ms`);
      }
      return;
    }
    const state = join(this.requireV1("freezer", "unpause"), "freezer.state");
    if (!waitFor(() => (writeOrThrow(state, "THAWED", "unpause"), readValue(state) === "THAWED"), timeoutMs)) {
      throw new CgroupError(`cannot unpause: ${state} did not reach THAWED within ${timeoutMs} ms`);
    }
  }

  isFrozen(): boolean {
    if (this.paths.version === "v2") {
      return readKeyed(join(this.paths.path, "cgroup.events")).get("frozen") === 1;
    }
    const d = this.dir("freezer");
    return d ? readValue(join(d, "freezer.state")) === "FROZEN" : false;
  }

  stats(): CgroupStats {
    if (this.paths.version === "v2") {
      const d = this.paths.path;
      const cpu = readKeyed(join(d, "cpu.stat")).get("usage_usec");
      return {
        memoryUsage: readInt(join(d, "memory.current")),
        memoryInactiveFile: readKeyed(join(d, "memory.stat")).get("inactive_file") ?? null,
        memoryLimit: readInt(join(d, "memory.max")),
        cpuUsageNs: cpu === undefined ? null : cpu * 1000,
        pids: readInt(join(d, "pids.current")) ?? readPids(d).length,
        ...ioV2(join(d, "io.stat")),
      };
    }
    const mem = this.dir("memory");
    const cpuacct = this.dir("cpuacct");
    const pids = this.dir("pids");
    const limit = mem ? readInt(join(mem, "memory.limit_in_bytes")) : null;
    return {
      memoryUsage: mem ? readInt(join(mem, "memory.usage_in_bytes")) : null,
      memoryInactiveFile: mem ? readKeyed(join(mem, "memory.stat")).get("total_inactive_file") ?? null : null,
      // v1 spells "unlimited" as a huge page-aligned number (0x7ffffffffffff000 on x86_64).
      memoryLimit: limit !== null && limit >= 2 ** 62 ? null : limit,
      cpuUsageNs: cpuacct ? readInt(join(cpuacct, "cpuacct.usage")) : null,
      pids: (pids ? readInt(join(pids, "pids.current")) : null) ?? this.procs().length,
      ...ioV1(this.dir("blkio")),
    };
  }

  /** Whether the kernel OOM-killed a process of this group (docker inspect's OOMKilled). */
  oomKilled(): boolean {
    if (this.paths.version === "v2") {
      return (readKeyed(join(this.paths.path, "memory.events")).get("oom_kill") ?? 0) > 0;
    }
    const mem = this.dir("memory");
    if (!mem) return false;
    const kills = readKeyed(join(mem, "memory.oom_control")).get("oom_kill");
    if (kills !== undefined) return kills > 0;
    // Kernels before 4.13 have no oom_kill counter: hitting the limit is the best hint left.
    return (readInt(join(mem, "memory.failcnt")) ?? 0) > 0;
  }

  /** Kill what is left and delete the group. See removeCgroup. */
  remove(timeoutMs?: number): void {
    removeCgroup(this.paths, timeoutMs);
  }

  private requireV1(ctrl: string, what: string): string {
    const d = this.dir(ctrl);
    if (!d) throw new CgroupError(`cannot ${what}: the cgroup v1 ${ctrl} hierarchy is not mounted`);
    return d;
  }
}

function writeOrThrow(file: string, value: string, what: string): void {
  try {
    writeValue(file, value);
  } catch (e) {
    throw new CgroupError(`cannot ${what}: writing "${value}" to ${file} failed: ${errCode(e)}`);
  }
}

function tryWrite(file: string, value: string): boolean {
  try {
    writeValue(file, value);
    return true;
  } catch {
    return false;
  }
}

/** Poll `cond` with a growing sleep (1 ms → 50 ms) until true or `timeoutMs` has passed. */
function waitFor(cond: () => boolean, timeoutMs: number): boolean {
  const end = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    Bun.sleepSync(delay);
    delay = Math.min(delay * 2, 50);
  }
}

// ---------------------------------------------------------------------------------------------
// Removal

function uniqueDirs(paths: CgroupPaths): string[] {
  return paths.version === "v2" ? [paths.path] : [...new Set(Object.values(paths.paths))];
}

/** A group and its descendants, deepest first (the order rmdir needs). */
function subtree(dir: string): string[] {
  const out: string[] = [];
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isDirectory()) out.push(...subtree(join(dir, e.name)));
  out.push(dir);
  return out;
}

// A wrong path in saved state must not make `rm` SIGKILL every process on the host.
function refuseRoot(dir: string): void {
  const v1Root = existsSync(join(dir, "release_agent")) || existsSync(join(dir, "cgroup.sane_behavior"));
  const v2Root = existsSync(join(dir, "cgroup.controllers")) && !existsSync(join(dir, "cgroup.events"));
  if (v1Root || v2Root) throw new CgroupError(`refusing to remove ${dir}: it is a cgroup hierarchy root`);
}

/**
 * Delete a container's cgroup after killing whatever still runs in it (and in any child
 * groups the container made). Idempotent: directories that are already gone are fine.
 * v2 uses cgroup.kill when the kernel has it (5.14+); otherwise every pid gets SIGKILL,
 * repeatedly, until the groups are empty (a forking process can add pids while we kill).
 */
export function removeCgroup(paths: CgroupPaths, timeoutMs = 5000): void {
  const tops = uniqueDirs(paths).filter(isDir);
  for (const d of tops) refuseRoot(d);
  const all = tops.flatMap(subtree);
  if (all.length === 0) return;

  // A v1-frozen task would not act on SIGKILL until thawed.
  for (const d of all) if (existsSync(join(d, "freezer.state"))) tryWrite(join(d, "freezer.state"), "THAWED");
  const useKill = paths.version === "v2" && tops.every((d) => existsSync(join(d, "cgroup.kill")));
  if (useKill) for (const d of tops) tryWrite(join(d, "cgroup.kill"), "1");

  let left: number[] = [];
  const empty = waitFor(() => {
    left = [...new Set(all.flatMap(readPids))];
    if (left.includes(process.pid)) {
      throw new CgroupError(`refusing to empty ${tops.join(", ")}: minid itself (pid ${process.pid}) is in it`);
    }
    if (!useKill) for (const pid of left) kill(pid, SIGKILL);
    return left.length === 0;
  }, timeoutMs);
  if (!empty) {
    throw new CgroupError(
      `cannot remove cgroup ${tops.join(", ")}: processes ${left.join(" ")} still alive after ${timeoutMs} ms`,
    );
  }

  for (const d of all) {
    let last = "";
    // rmdir can fail with EBUSY for a moment after the last task exits (v1 memory notably).
    const gone = waitFor(() => {
      try {
        rmdirSync(d);
        return true;
      } catch (e) {
        last = errCode(e);
        if (last === "ENOENT") return true;
        if (last === "EBUSY") return false;
        throw new CgroupError(`cannot remove cgroup ${d}: ${last}`);
      }
    }, 2000);
    if (!gone) throw new CgroupError(`cannot remove cgroup ${d}: ${last}`);
  }
}
