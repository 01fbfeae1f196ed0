// Exercises the cgroup v2 code path against a real cgroup2 mounted at /sys/fs/cgroup. On a
// hybrid host the test runs this inside `unshare -m` after mounting cgroup2 there. Prints one
// JSON object: { controllers, checks: [{ name, status: "pass" | "fail" | "skip", detail }] }.
// Controllers that are bound to v1 hierarchies on the host are absent from cgroup2; for those
// the check verifies the clear error instead and reports "skip" with the reason.
// Usage: bun cgroup-v2-check.ts <unique-prefix>
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CgroupError, createCgroup, detectCgroupVersion, loadCgroup, removeCgroup, type CgroupLimits,
} from "../../src/linux/cgroups.ts";

const ROOT = "/sys/fs/cgroup";
const prefix = process.argv[2]!;
if (!/^minid-test-/.test(prefix ?? "")) throw new Error("prefix must start with minid-test-");

type Check = { name: string; status: "pass" | "fail" | "skip"; detail?: string };
const checks: Check[] = [];
const procs: ReturnType<typeof Bun.spawn>[] = [];
// Children must not hold the parent test's stdout/stderr pipes open if this helper dies.
const QUIET = { stdin: "ignore", stdout: "ignore", stderr: "ignore" } as const;
const read = (p: string) => readFileSync(p, "utf8").trim();
const controllers = read(join(ROOT, "cgroup.controllers")).split(/\s+/).filter(Boolean);

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

async function check(name: string, fn: () => Promise<string | void> | string | void, skip?: string) {
  try {
    const detail = await fn();
    checks.push(skip ? { name, status: "skip", detail: skip } : { name, status: "pass", detail: detail || undefined });
  } catch (e) {
    checks.push({ name, status: "fail", detail: (e as Error).stack ?? String(e) });
  }
}

function cpuTime(pid: number): number {
  const f = read(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks
}

// Each limit: the controller it needs, the file, the expected content.
const LIMITS: [string, CgroupLimits, string, string, string][] = [
  ["memory.max", { memory: 64 << 20 }, "memory", "memory.max", String(64 << 20)],
  ["memory.swap.max", { memory: 64 << 20, memorySwap: 96 << 20 }, "memory", "memory.swap.max", String(32 << 20)],
  ["memory.oom.group", { oomGroup: true }, "memory", "memory.oom.group", "1"],
  ["cpu.max", { nanoCpus: 500_000_000 }, "cpu", "cpu.max", "50000 100000"],
  ["cpu.weight", { cpuShares: 512 }, "cpu", "cpu.weight", "59"],
  ["cpuset.cpus", { cpusetCpus: "0" }, "cpuset", "cpuset.cpus", "0"],
  ["pids.max", { pidsLimit: 7 }, "pids", "pids.max", "7"],
];

try {
  await check("detect", () => {
    assert(detectCgroupVersion(ROOT) === "v2", "detectCgroupVersion did not say v2");
  });

  for (const [name, limits, ctrl, file, want] of LIMITS) {
    const cgName = `${prefix}/lim-${file}`;
    const dir = join(ROOT, cgName);
    if (controllers.includes(ctrl)) {
      await check(name, () => {
        const cg = createCgroup(cgName, limits);
        const got = read(join(dir, file));
        cg.remove();
        assert(got === want, `${file}: got ${got}, want ${want}`);
      });
    } else {
      await check(
        name,
        () => {
          let err: unknown;
          try {
            createCgroup(cgName, limits);
          } catch (e) {
            err = e;
          }
          assert(err instanceof CgroupError, `expected CgroupError, got ${err}`);
          assert(err.message.includes(`controller "${ctrl}" is not available`), err.message);
          assert(!err.message.includes("\n"), "multi-line error");
          assert(!existsSync(dir), `${dir} left behind after the failure`);
        },
        `${file} not written for real: controller "${ctrl}" is not in cgroup2's cgroup.controllers ` +
          `here (available: ${controllers.join(" ") || "none"}; the others are bound to v1 hierarchies ` +
          `on this host). Verified instead: createCgroup fails with a one-line CgroupError and leaves nothing.`,
      );
    }
  }

  const name = `${prefix}/ctr`;
  const dir = join(ROOT, name);
  const cg = createCgroup(name, {});

  await check("subtree_control enables every available controller along the path", () => {
    const wanted = ["cpuset", "cpu", "io", "memory", "pids", "hugetlb"].filter((c) => controllers.includes(c));
    const got = read(join(dir, "cgroup.controllers")).split(/\s+/).filter(Boolean);
    assert(wanted.every((c) => got.includes(c)), `leaf has [${got}], want [${wanted}]`);
    return `leaf controllers: ${got.join(" ") || "none"}`;
  });

  const busy = Bun.spawn(["sh", "-c", "while :; do :; done"], QUIET);
  procs.push(busy);
  await check("addProcess(pid)", () => {
    cg.addProcess(busy.pid);
    const line = read(`/proc/${busy.pid}/cgroup`).split("\n").find((l) => l.startsWith("0::"));
    assert(line === `0::/${name}`, `got ${line}`);
    assert(cg.procs().includes(busy.pid), "procs() misses the pid");
  });

  await check("addProcess(0) from the process itself", () => {
    const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "cgroup-self-add.ts"), JSON.stringify(cg.paths)]);
    const line = r.stdout.toString().split("\n").find((l) => l.startsWith("0::"));
    assert(r.exitCode === 0, r.stderr.toString());
    assert(line === `0::/${name}`, `got ${line}`);
  });

  await check("stats", async () => {
    await Bun.sleep(300);
    const s = cg.stats();
    assert(s.pids === 1, `pids ${s.pids}`);
    assert(s.cpuUsageNs !== null && s.cpuUsageNs > 50_000_000, `cpuUsageNs ${s.cpuUsageNs}`);
    if (controllers.includes("memory")) assert(s.memoryUsage !== null && s.memoryUsage > 0, "memoryUsage");
    else assert(s.memoryUsage === null && s.memoryLimit === null, "memory stats should be null without the controller");
    return JSON.stringify(s);
  });

  await check("freeze / thaw (cgroup.freeze, cgroup.events)", async () => {
    cg.freeze();
    assert(cg.isFrozen(), "not frozen");
    assert(read(join(dir, "cgroup.events")).includes("frozen 1"), "cgroup.events");
    const a = cpuTime(busy.pid);
    await Bun.sleep(300);
    const b = cpuTime(busy.pid);
    assert(a === b, `a frozen busy loop used CPU: ${a} → ${b} ticks`);
    cg.thaw();
    assert(!cg.isFrozen(), "still frozen");
    await Bun.sleep(300);
    assert(cpuTime(busy.pid) > b, "no CPU used after thaw");
  });

  if (controllers.includes("memory")) {
    await check("oomKilled (memory.events oom_kill)", async () => {
      const oom = createCgroup(`${prefix}/oom`, { memory: 16 << 20, memorySwap: 16 << 20 });
      const p = Bun.spawn(["sh", "-c", "sleep 0.2; x=$(head -c 64000000 /dev/zero | tr '\\0' a)"], QUIET);
      procs.push(p);
      oom.addProcess(p.pid);
      await p.exited;
      const killed = oom.oomKilled();
      oom.remove();
      assert(killed, "oomKilled() false");
    });
  } else {
    await check("oomKilled (memory.events oom_kill)", () => {
      assert(cg.oomKilled() === false, "oomKilled() without memory.events should be false");
    }, `real OOM not tested: no memory controller in cgroup2 here; checked only that oomKilled() is false without memory.events`);
  }

  await check("remove kills the processes (cgroup.kill) and deletes the directory", async () => {
    assert(existsSync(join(dir, "cgroup.kill")), "kernel without cgroup.kill");
    loadCgroup(cg.paths).remove();
    assert(!existsSync(dir), "directory still there");
    const code = await Promise.race([busy.exited, Bun.sleep(2000).then(() => "timeout")]);
    assert(busy.signalCode === "SIGKILL", `busy loop not killed: ${code} ${busy.signalCode}`);
  });

  await check("device allow-list (eBPF program): defaults, --device rules, permissions", () => {
    // In a cgroup of its own, a shell opens devices: null is on Docker's default list, kmsg
    // (1:11) is not, unless a rule allows it (read only here).
    const probe = (cgName: string, script: string) => {
      const g = join(ROOT, cgName);
      const r = Bun.spawnSync(["sh", "-c", `echo $$ > ${g}/cgroup.procs && ${script}`], { stderr: "pipe", stdout: "pipe" });
      return r.stdout.toString() + r.stderr.toString();
    };
    const plain = createCgroup(`${prefix}/dev-default`, {});
    const ruled = createCgroup(`${prefix}/dev-rule`, { deviceRules: ["c 1:11 r"] });
    const open = createCgroup(`${prefix}/dev-privileged`, { allowAllDevices: true });
    try {
      const a = probe(`${prefix}/dev-default`, "cat /dev/null && echo null-ok; (exec 3</dev/kmsg) && echo kmsg-read");
      assert(a.includes("null-ok") && !a.includes("kmsg-read") && a.includes("Operation not permitted"), `default list: ${a}`);
      const b = probe(`${prefix}/dev-rule`, "(exec 3</dev/kmsg) && echo kmsg-read; (exec 3>/dev/kmsg) && echo kmsg-write");
      assert(b.includes("kmsg-read") && !b.includes("kmsg-write"), `c 1:11 r: ${b}`);
      const c = probe(`${prefix}/dev-privileged`, "(exec 3>/dev/kmsg) && echo kmsg-write");
      assert(c.includes("kmsg-write"), `privileged: ${c}`);
    } finally {
      plain.remove();
      ruled.remove();
      open.remove();
    }
  });

  await check("remove is idempotent", () => {
    removeCgroup(cg.paths);
  });

  await check("remove also works after a freeze (frozen tasks still die)", async () => {
    const g = createCgroup(`${prefix}/frozen`, {});
    const p = Bun.spawn(["sleep", "100"], QUIET);
    procs.push(p);
    g.addProcess(p.pid);
    g.freeze();
    g.remove();
    await p.exited;
    assert(p.signalCode === "SIGKILL", `signal ${p.signalCode}`);
    assert(!existsSync(join(ROOT, prefix, "frozen")), "directory left");
  });
} finally {
  for (const p of procs) p.kill(9);
  try {
    removeCgroup({ version: "v2", path: join(ROOT, prefix) });
  } catch (e) {
    checks.push({ name: "cleanup", status: "fail", detail: String(e) });
  }
  console.log(JSON.stringify({ controllers, checks }));
}
