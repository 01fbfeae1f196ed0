import { afterAll, describe, expect, test } from "bun:test";
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CgroupError, cpuMax, createCgroup, detectCgroupVersion, loadCgroup, parseCpuList, removeCgroup,
  sharesToWeight, swapMax, validateLimits, type Cgroup, type CgroupPaths,
} from "../../src/linux/cgroups.ts";

const read = (p: string) => readFileSync(p, "utf8").trim();
const MiB = 1024 * 1024;

// ------------------------------------------------------------------------------------------
// Pure conversions

describe("conversions", () => {
  test("cpu.shares → cpu.weight (runc/crun 2025 formula)", () => {
    expect(sharesToWeight(0)).toBe(0);
    expect(sharesToWeight(1)).toBe(1);
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(512)).toBe(59);
    expect(sharesToWeight(1024)).toBe(100); // default maps to default
    expect(sharesToWeight(2048)).toBe(174);
    expect(sharesToWeight(262143)).toBe(10000);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(1_000_000)).toBe(10000);
  });

  test("--cpus → cpu.max", () => {
    expect(cpuMax(500_000_000)).toBe("50000 100000");
    expect(cpuMax(1_500_000_000)).toBe("150000 100000");
    expect(cpuMax(10_000_000)).toBe("1000 100000");
    expect(cpuMax(2_000_000_000)).toBe("200000 100000");
    expect(cpuMax(333_333_333)).toBe("33333 100000");
  });

  test("memory-swap → memory.swap.max", () => {
    expect(swapMax(512 * MiB, 1024 * MiB)).toBe(String(512 * MiB));
    expect(swapMax(512 * MiB, 512 * MiB)).toBe("0");
    expect(swapMax(512 * MiB, -1)).toBe("max");
    expect(swapMax(512 * MiB, undefined)).toBe(String(512 * MiB)); // docker: swap = memory
    expect(swapMax(512 * MiB, 0)).toBe(String(512 * MiB));
  });

  test("cpu lists", () => {
    expect(parseCpuList("0-2,4")).toEqual([0, 1, 2, 4]);
    expect(parseCpuList("3")).toEqual([3]);
    expect(parseCpuList("")).toEqual([]);
    expect(parseCpuList("2-1")).toBeNull();
    expect(parseCpuList("a")).toBeNull();
    expect(parseCpuList("1,,2")).toBeNull();
  });

  test("validateLimits uses docker's wording", () => {
    expect(() => validateLimits({ memory: 4 * MiB })).toThrow("Minimum memory limit allowed is 6MB");
    expect(() => validateLimits({ memorySwap: 64 * MiB })).toThrow(
      "You should always set the Memory limit when using Memoryswap limit, see usage",
    );
    expect(() => validateLimits({ memory: 64 * MiB, memorySwap: 32 * MiB })).toThrow(
      "Minimum memoryswap limit should be larger than memory limit, see usage",
    );
    expect(() => validateLimits({ nanoCpus: 3e9 }, 2)).toThrow(
      "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
    );
    expect(() => validateLimits({ nanoCpus: 1e6 }, 2)).toThrow("Range of CPUs is from 0.01");
    expect(() => validateLimits({ cpusetCpus: "0-" })).toThrow("Invalid value 0- for cpuset cpus");
    expect(() => validateLimits({ memory: 64 * MiB, memorySwap: -1, nanoCpus: 2e9, pidsLimit: -1 }, 2)).not.toThrow();
  });
});

// ------------------------------------------------------------------------------------------
// Fake cgroupfs trees. mkdir on a real cgroupfs populates interface files; a fake cannot, so
// the tests pre-create the leaf groups with the files the kernel would provide.

const fakes: string[] = [];
afterAll(() => {
  for (const f of fakes) rmSync(f, { recursive: true, force: true });
});

function fakeTree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "minid-fake-cg-"));
  fakes.push(root);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

const V2_FILES = [
  "cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "cgroup.events", "memory.max",
  "memory.swap.max", "memory.oom.group", "cpu.max", "cpu.weight", "cpuset.cpus", "pids.max",
];

function fakeV2(controllers = "cpuset cpu io memory pids"): string {
  const files: Record<string, string> = {
    "cgroup.controllers": controllers,
    "cgroup.subtree_control": "",
    "minid/cgroup.controllers": controllers,
    "minid/cgroup.subtree_control": "",
    "minid/cgroup.events": "populated 0\nfrozen 0\n",
    "minid/c1/cpuset.cpus.effective": "0-3",
  };
  for (const f of V2_FILES) files[`minid/c1/${f}`] ??= "";
  files["minid/c1/cgroup.controllers"] = controllers;
  return fakeTree(files);
}

describe("cgroup v2 on a fake cgroupfs", () => {
  test("detection", () => {
    expect(detectCgroupVersion(fakeV2())).toBe("v2");
    expect(detectCgroupVersion(fakeTree({ "memory/cgroup.procs": "" }))).toBe("v1");
  });

  test("writes converted limits and enables controllers along the path", () => {
    const root = fakeV2();
    const cg = createCgroup(
      "minid/c1",
      { memory: 512 * MiB, memorySwap: 1024 * MiB, nanoCpus: 1_500_000_000, cpuShares: 512, cpusetCpus: "1-2", pidsLimit: 100, oomGroup: true },
      { root },
    );
    const d = join(root, "minid/c1");
    expect(cg.paths).toEqual({ version: "v2", path: d });
    expect(read(join(d, "memory.max"))).toBe(String(512 * MiB));
    expect(read(join(d, "memory.swap.max"))).toBe(String(512 * MiB));
    expect(read(join(d, "cpu.max"))).toBe("150000 100000");
    expect(read(join(d, "cpu.weight"))).toBe("59");
    expect(read(join(d, "cpuset.cpus"))).toBe("1-2");
    expect(read(join(d, "pids.max"))).toBe("100");
    expect(read(join(d, "memory.oom.group"))).toBe("1");
    expect(read(join(root, "cgroup.subtree_control"))).toBe("+cpuset +cpu +io +memory +pids");
    expect(read(join(root, "minid/cgroup.subtree_control"))).toBe("+cpuset +cpu +io +memory +pids");
    expect(cg.warnings).toEqual([]);
  });

  test("swap defaults to docker's 2×memory, -1 is max; pids <= 0 is max; oomKillDisable warns", () => {
    const root = fakeV2();
    let cg = createCgroup("minid/c1", { memory: 64 * MiB, pidsLimit: 0, oomKillDisable: true }, { root });
    const d = join(root, "minid/c1");
    expect(read(join(d, "memory.swap.max"))).toBe(String(64 * MiB));
    expect(read(join(d, "pids.max"))).toBe("max");
    expect(cg.warnings).toEqual(["Your kernel does not support OomKillDisable. OomKillDisable discarded."]);
    cg = createCgroup("minid/c1", { memory: 64 * MiB, memorySwap: -1 }, { root });
    expect(read(join(d, "memory.swap.max"))).toBe("max");
  });

  test("no swap accounting: explicit --memory-swap is a warning, not an error", () => {
    const root = fakeV2();
    rmSync(join(root, "minid/c1/memory.swap.max"));
    const cg = createCgroup("minid/c1", { memory: 64 * MiB, memorySwap: 128 * MiB }, { root });
    expect(cg.warnings[0]).toContain("Memory limited without swap");
  });

  test("a missing controller is a one-line error naming the flag, and nothing is created", () => {
    const root = fakeTree({ "cgroup.controllers": "cpu pids", "cgroup.subtree_control": "" });
    let err: unknown;
    try {
      createCgroup("minid/c2", { memory: 64 * MiB }, { root });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CgroupError);
    expect((err as Error).message).toBe(
      `cannot apply --memory: cgroup v2 controller "memory" is not available in ${root} (available: cpu pids)`,
    );
    expect(existsSync(join(root, "minid"))).toBe(false);
  });

  test("cpuset outside the parent's effective CPUs is refused", () => {
    const root = fakeV2();
    expect(() => createCgroup("minid/c1", { cpusetCpus: "5" }, { root })).toThrow(
      "Requested CPUs are not available - requested 5, available: 0-3",
    );
  });

  test("bad names are refused", () => {
    const root = fakeV2();
    for (const n of ["", "/abs", "a/../b", "a//b", "."]) {
      expect(() => createCgroup(n, {}, { root })).toThrow("invalid cgroup name");
    }
  });

  test("addProcess, stats and oomKilled read the v2 files", () => {
    const root = fakeV2();
    const d = join(root, "minid/c1");
    writeFileSync(join(d, "memory.current"), "1048576\n");
    writeFileSync(join(d, "memory.max"), "max\n");
    writeFileSync(join(d, "memory.stat"), "anon 100\nfile 200\ninactive_file 4096\n");
    writeFileSync(join(d, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
    writeFileSync(join(d, "pids.current"), "3\n");
    writeFileSync(join(d, "memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n");
    writeFileSync(join(d, "io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n");
    const cg = loadCgroup({ version: "v2", path: d });
    cg.addProcess(0);
    expect(read(join(d, "cgroup.procs"))).toBe("0");
    expect(cg.stats()).toEqual({
      memoryUsage: 1048576, memoryInactiveFile: 4096, memoryLimit: null, cpuUsageNs: 1_500_000, pids: 3,
      blockRead: 4097, blockWrite: 8194,
    });
    expect(cg.oomKilled()).toBe(false);
    writeFileSync(join(d, "memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
    expect(cg.oomKilled()).toBe(true);
  });

  test("removeCgroup refuses a hierarchy root and tolerates missing directories", () => {
    const root = fakeV2();
    expect(() => removeCgroup({ version: "v2", path: root })).toThrow("is a cgroup hierarchy root");
    expect(() => removeCgroup({ version: "v2", path: join(root, "gone") })).not.toThrow();
    const v1root = fakeTree({ "memory/cgroup.procs": "", "memory/release_agent": "" });
    expect(() => removeCgroup({ version: "v1", paths: { memory: join(v1root, "memory") } })).toThrow(
      "is a cgroup hierarchy root",
    );
  });
});

describe("cgroup v1 on a fake cgroupfs", () => {
  function fakeV1(): string {
    const files: Record<string, string> = {};
    const h = (ctrl: string, leafFiles: string[], rootFiles: Record<string, string> = {}) => {
      files[`${ctrl}/cgroup.procs`] = "";
      for (const [f, v] of Object.entries(rootFiles)) files[`${ctrl}/${f}`] = v;
      for (const lvl of ["minid", "minid/c1"]) {
        files[`${ctrl}/${lvl}/cgroup.procs`] = "";
        for (const f of leafFiles) files[`${ctrl}/${lvl}/${f}`] = "";
      }
    };
    h("memory", ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.oom_control"]);
    h("cpu,cpuacct", ["cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares"]);
    h("cpuset", ["cpuset.cpus", "cpuset.mems"], { "cpuset.cpus": "0-3\n", "cpuset.mems": "0\n" });
    h("pids", ["pids.max"]);
    h("devices", ["devices.allow", "devices.deny"]);
    const root = fakeTree(files);
    symlinkSync("cpu,cpuacct", join(root, "cpu"));
    symlinkSync("cpu,cpuacct", join(root, "cpuacct"));
    return root;
  }

  test("co-mounted hierarchies share one directory; limits land in the right files", () => {
    const root = fakeV1();
    const cg = createCgroup(
      "minid/c1",
      { memory: 64 * MiB, nanoCpus: 500_000_000, cpuShares: 512, pidsLimit: 10, oomKillDisable: true },
      { root },
    );
    const real = realpathSync(root);
    const p = (cg.paths as Extract<CgroupPaths, { version: "v1" }>).paths;
    expect(p.cpu).toBe(join(real, "cpu,cpuacct/minid/c1"));
    expect(p.cpuacct).toBe(p.cpu);
    expect(p.freezer).toBeUndefined(); // not mounted in this fake
    expect(cg.dirs.length).toBe(5);
    expect(read(join(p.memory!, "memory.limit_in_bytes"))).toBe(String(64 * MiB));
    expect(read(join(p.memory!, "memory.memsw.limit_in_bytes"))).toBe(String(128 * MiB));
    expect(read(join(p.memory!, "memory.oom_control"))).toBe("1");
    expect(read(join(p.cpu!, "cpu.cfs_period_us"))).toBe("100000");
    expect(read(join(p.cpu!, "cpu.cfs_quota_us"))).toBe("50000");
    expect(read(join(p.cpu!, "cpu.shares"))).toBe("512");
    expect(read(join(p.pids!, "pids.max"))).toBe("10");
    // Empty cpuset groups inherit the parent's CPUs and memory nodes, at every level.
    for (const lvl of ["minid", "minid/c1"]) {
      expect(read(join(real, "cpuset", lvl, "cpuset.cpus"))).toBe("0-3");
      expect(read(join(real, "cpuset", lvl, "cpuset.mems"))).toBe("0");
    }
    // The last device rule written is the last allow; the deny-all went first.
    expect(read(join(p.devices!, "devices.deny"))).toBe("a");
    expect(read(join(p.devices!, "devices.allow"))).toBe("c 10:200 rwm");
  });

  test("a controller that is not mounted is a clear error", () => {
    const root = fakeTree({ "memory/cgroup.procs": "" });
    expect(() => createCgroup("minid/c1", { pidsLimit: 5 }, { root })).toThrow(
      `cannot apply --pids-limit: cgroup v1 controller "pids" is not mounted under ${root}`,
    );
    expect(existsSync(join(root, "memory/minid"))).toBe(false);
  });

  test("freeze without a freezer hierarchy says so", () => {
    const root = fakeV1();
    const cg = createCgroup("minid/c1", {}, { root });
    expect(() => cg.freeze()).toThrow("cannot pause: the cgroup v1 freezer hierarchy is not mounted");
  });
});

// ------------------------------------------------------------------------------------------
// Real cgroups. Everything lives under minid-test-<random> and is swept afterwards.

const CG = "/sys/fs/cgroup";
const isRoot = process.getuid?.() === 0;
const hostVersion = detectCgroupVersion(CG);
const PREFIX = `minid-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const spawned: ReturnType<typeof Bun.spawn>[] = [];

/** Remove every PREFIX directory in every hierarchy, killing what runs there. */
function sweep(): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(CG);
  } catch {
    return;
  }
  const v1: Record<string, string> = {};
  for (const e of entries) {
    const d = join(CG, e, PREFIX);
    if (!existsSync(d)) continue;
    if (existsSync(join(CG, e, "cgroup.controllers"))) removeCgroup({ version: "v2", path: d });
    else v1[e] = d;
  }
  if (existsSync(join(CG, PREFIX))) removeCgroup({ version: "v2", path: join(CG, PREFIX) });
  if (Object.keys(v1).length) removeCgroup({ version: "v1", paths: v1 });
}

afterAll(() => {
  for (const p of spawned) p.kill(9);
  if (isRoot) sweep();
});

function spawn(cmd: string[]): ReturnType<typeof Bun.spawn> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  spawned.push(p);
  return p;
}

function cpuTicks(pid: number): number {
  const f = read(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
}

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await Bun.sleep(20);
  }
  return cond();
}

describe.skipIf(!isRoot || hostVersion !== "v1")("cgroup v1, real (this host)", () => {
  const v1 = (cg: Cgroup) => (cg.paths as Extract<CgroupPaths, { version: "v1" }>).paths;

  test("limits are written and read back; processes join; stats; remove", async () => {
    const cg = createCgroup(`${PREFIX}/limits`, {
      memory: 64 * MiB, memorySwap: 96 * MiB, nanoCpus: 500_000_000, cpuShares: 512, cpusetCpus: "0", pidsLimit: 20,
    });
    const p = v1(cg);
    try {
      for (const c of ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio", "devices"]) {
        if (!existsSync(join(CG, c))) continue; // not every v1 host mounts all of them
        expect(p[c]).toBe(join(realpathSync(join(CG, c)), PREFIX, "limits"));
        expect(existsSync(p[c]!)).toBe(true);
      }
      expect(read(join(p.memory!, "memory.limit_in_bytes"))).toBe(String(64 * MiB));
      if (existsSync(join(p.memory!, "memory.memsw.limit_in_bytes"))) {
        expect(read(join(p.memory!, "memory.memsw.limit_in_bytes"))).toBe(String(96 * MiB));
      }
      expect(read(join(p.cpu!, "cpu.cfs_quota_us"))).toBe("50000");
      expect(read(join(p.cpu!, "cpu.cfs_period_us"))).toBe("100000");
      expect(read(join(p.cpu!, "cpu.shares"))).toBe("512");
      expect(read(join(p.cpuset!, "cpuset.cpus"))).toBe("0");
      expect(read(join(p.cpuset!, "cpuset.mems"))).toBe(read(join(CG, "cpuset/cpuset.mems")));
      expect(read(join(CG, "cpuset", PREFIX, "cpuset.cpus"))).toBe(read(join(CG, "cpuset/cpuset.cpus")));
      expect(read(join(p.pids!, "pids.max"))).toBe("20");
      const devices = read(join(p.devices!, "devices.list"));
      expect(devices).toContain("c 1:3 rwm");
      expect(devices).toContain("c 136:* rwm");
      expect(devices).not.toContain("a *:* rwm");

      // Allocates only after joining, so the memory is charged to this group.
      const proc = spawn(["sh", "-c", "sleep 0.3; x=$(head -c 8000000 /dev/zero | tr '\\0' a); exec sleep 100"]);
      cg.addProcess(proc.pid);
      const own = read(`/proc/${proc.pid}/cgroup`);
      for (const c of ["memory", "cpu", "cpuset", "pids", "freezer"]) {
        expect(own).toMatch(new RegExp(`:${c}:/${PREFIX}/limits$`, "m"));
      }
      expect(cg.procs()).toContain(proc.pid);
      expect(await until(() => (cg.stats().memoryUsage ?? 0) > 4_000_000)).toBe(true);
      const s = cg.stats();
      expect(s.memoryLimit).toBe(64 * MiB);
      expect(s.pids).toBeGreaterThanOrEqual(1);
      expect(s.cpuUsageNs).toBeGreaterThan(0);
      expect(cg.oomKilled()).toBe(false);

      cg.remove();
      await proc.exited;
      expect(proc.signalCode).toBe("SIGKILL");
      for (const d of cg.dirs) expect(existsSync(d)).toBe(false);
      cg.remove(); // idempotent
    } finally {
      removeCgroup(cg.paths);
    }
  });

  test("a group without limits has no memory limit and an unlimited pids.max", () => {
    const cg = createCgroup(`${PREFIX}/nolimits`, {});
    try {
      expect(cg.stats().memoryLimit).toBeNull();
      expect(read(join(v1(cg).pids!, "pids.max"))).toBe("max");
    } finally {
      cg.remove();
    }
  });

  test("addProcess(0) moves the calling process (what the init does)", () => {
    const cg = createCgroup(`${PREFIX}/self`, {});
    try {
      const helper = join(import.meta.dir, "../helpers/cgroup-self-add.ts");
      const r = Bun.spawnSync([process.execPath, helper, JSON.stringify(cg.paths)], { timeout: 30_000 });
      expect(r.stderr.toString()).toBe("");
      const out = r.stdout.toString();
      for (const c of ["memory", "pids", "freezer", "cpuset"]) {
        expect(out).toMatch(new RegExp(`:${c}:/${PREFIX}/self$`, "m"));
      }
    } finally {
      cg.remove();
    }
  });

  test("freeze stops a busy loop, thaw resumes it", async () => {
    const cg = createCgroup(`${PREFIX}/freeze`, {});
    try {
      const busy = spawn(["sh", "-c", "while :; do :; done"]);
      cg.addProcess(busy.pid);
      await Bun.sleep(100);
      cg.freeze();
      expect(cg.isFrozen()).toBe(true);
      expect(read(join(v1(cg).freezer!, "freezer.state"))).toBe("FROZEN");
      const a = cpuTicks(busy.pid);
      const u = cg.stats().cpuUsageNs!;
      await Bun.sleep(300);
      expect(cpuTicks(busy.pid)).toBe(a);
      expect(cg.stats().cpuUsageNs).toBe(u);
      cg.thaw();
      expect(cg.isFrozen()).toBe(false);
      await Bun.sleep(300);
      expect(cpuTicks(busy.pid)).toBeGreaterThan(a);
      // Removing a frozen group must still kill it (v1 needs a thaw first).
      cg.freeze();
      cg.remove();
      await busy.exited;
      expect(busy.signalCode).toBe("SIGKILL");
    } finally {
      removeCgroup(cg.paths);
    }
  });

  test("pids.max is enforced", async () => {
    const cg = createCgroup(`${PREFIX}/pids`, { pidsLimit: 3 });
    try {
      const p = spawn(["sh", "-c", "sleep 0.2; for i in 1 2 3 4 5 6; do sleep 100 & done; wait"]);
      cg.addProcess(p.pid);
      await Bun.sleep(800);
      // dash gives up at the first failed fork, so fewer than 3 may be left running.
      expect(cg.stats().pids).toBeLessThanOrEqual(3);
      expect(cg.stats().pids).toBeGreaterThanOrEqual(1);
      expect(read(join(v1(cg).pids!, "pids.events"))).toMatch(/^max [1-9]/);
      cg.remove();
      await p.exited;
      expect(await new Response(p.stderr as ReadableStream).text()).toMatch(/fork/i);
    } finally {
      removeCgroup(cg.paths);
    }
  });

  test("an OOM kill is detected", async () => {
    const cg = createCgroup(`${PREFIX}/oom`, { memory: 16 * MiB, memorySwap: 16 * MiB });
    try {
      const p = spawn(["sh", "-c", "sleep 0.2; x=$(head -c 64000000 /dev/zero | tr '\\0' a)"]);
      cg.addProcess(p.pid);
      await p.exited;
      expect(cg.oomKilled()).toBe(true);
    } finally {
      cg.remove();
    }
  });

  test("impossible limits fail with one line and leave nothing behind", () => {
    const cpus = read(join(CG, "cpuset/cpuset.cpus"));
    expect(() => createCgroup(`${PREFIX}/bad`, { cpusetCpus: "63" })).toThrow(
      `Requested CPUs are not available - requested 63, available: ${cpus}`,
    );
    for (const c of ["memory", "cpu", "cpuset", "pids"]) expect(existsSync(join(CG, c, PREFIX, "bad"))).toBe(false);
  });

  test("loadCgroup from saved state reattaches", async () => {
    const cg = createCgroup(`${PREFIX}/reload`, {});
    const saved = JSON.parse(JSON.stringify(cg.paths));
    const p = spawn(["sleep", "100"]);
    cg.addProcess(p.pid);
    const again = loadCgroup(saved);
    expect(again.procs()).toEqual([p.pid]);
    again.remove();
    await p.exited;
    for (const d of cg.dirs) expect(existsSync(d)).toBe(false);
  });
});

// v2 is exercised in a private mount namespace with cgroup2 mounted over /sys/fs/cgroup (on a
// pure-v2 host, directly). The helper prints which checks passed and which were impossible.
describe.skipIf(!isRoot)("cgroup v2, real", () => {
  test("helper checks in a cgroup2 mount", () => {
    if (hostVersion !== "v2" && !Bun.which("unshare")) {
      console.log("SKIP cgroup v2: host is not v2 and unshare(1) is missing, so cgroup2 cannot be mounted privately");
      return;
    }
    const v2root = hostVersion === "v2" ? CG : existsSync(join(CG, "unified/cgroup.controllers")) ? join(CG, "unified") : null;
    const subtree = () => (v2root ? read(join(v2root, "cgroup.subtree_control")).split(/\s+/).filter(Boolean) : []);
    const before = subtree();
    const prefix = `${PREFIX}-v2`;
    const helper = join(import.meta.dir, "../helpers/cgroup-v2-check.ts");
    const bun = process.execPath;
    const cmd = hostVersion === "v2"
      ? [bun, helper, prefix]
      : ["unshare", "-m", "sh", "-c",
         `umount -l ${CG} && mount -t cgroup2 none ${CG} && exec "$0" "$1" "$2"`, bun, helper, prefix];
    let r: { stdout: Buffer; stderr: Buffer; exitCode: number | null };
    try {
      r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", timeout: 60_000, killSignal: "SIGKILL" });
    } finally {
      // Leave the host's cgroup2 as found: our groups gone, root controllers as they were.
      if (v2root && existsSync(join(v2root, prefix))) removeCgroup({ version: "v2", path: join(v2root, prefix) });
      for (const c of subtree()) if (!before.includes(c)) writeFileSync(join(v2root!, "cgroup.subtree_control"), `-${c}`);
    }
    const out = r.stdout.toString();
    if (r.exitCode !== 0) throw new Error(`helper exited ${r.exitCode}: ${out}${r.stderr.toString()}`);
    const res = JSON.parse(out.trim().split("\n").pop()!) as {
      controllers: string[];
      checks: { name: string; status: string; detail?: string }[];
    };
    console.log(`cgroup2 controllers available here: ${res.controllers.join(" ") || "none"}`);
    for (const c of res.checks) {
      if (c.status !== "pass") console.log(`  ${c.status.toUpperCase()} ${c.name}: ${c.detail}`);
    }
    expect(res.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(res.checks.filter((c) => c.status === "pass").length).toBeGreaterThanOrEqual(8);
    expect(subtree()).toEqual(before);
  });
});
