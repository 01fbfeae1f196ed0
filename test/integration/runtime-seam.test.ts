// `minid run --runtime runc|crun` goes through the same seam as minid's own init: the flags
// become one container spec, and whichever runtime builds the container, the container is the
// same. Each case runs one probe under minid's init, runc and crun, checks minid's answer
// against what the flags ask for, and the two runtimes' answers against minid's, all read from
// inside the container with busybox tools.
import { describe, expect, afterAll } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt, TestRoot } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";

const RUNTIMES = ["runc", "crun"] as const;
const V1 = !existsSync("/sys/fs/cgroup/cgroup.controllers");
const it = requires("root", "busybox", ...RUNTIMES);

describe("minid run --runtime: the same container as minid's own init", () => {
  let r: TestRoot | undefined;
  const root = () => (r ??= new TestRoot("runtime-seam"));
  const work = mkdtempSync(join(tmpdir(), "minid-seam-"));
  afterAll(() => {
    r?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** The probe's output under minid's init and each runtime (exit status checked). */
  function under(flags: string[], script: string, runtimes: readonly string[] = RUNTIMES): Record<string, string> {
    ensureBuilt();
    const out: Record<string, string> = {};
    for (const rt of ["minid", ...runtimes]) {
      const res = root().run(["run", "--rm", "--network", "none", "--runtime", rt, ...flags, "busybox", "sh", "-c", script]);
      expect(`${rt}: ${res.stderr}`).toBe(`${rt}: `);
      expect(res.code).toBe(0);
      out[rt] = res.stdout;
    }
    return out;
  }

  it("ulimits, OOM score, groups, devices, /dev/shm's size, sysctls, tmpfs flags, caps, workdir", () => {
    const out = under(
      [
        "--ulimit", "nofile=1234:2345", "--ulimit", "core=-1", "--oom-score-adj", "300", "--shm-size", "10m",
        "--sysctl", "kernel.msgmax=9999", "--group-add", "123", "--device", "/dev/zero:/dev/myzero", "--tmpfs", "/t:size=1m,exec",
        "--cap-add", "SYS_NICE", "-w", "/work",
      ],
      [
        "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj; grep Groups /proc/self/status",
        "head -c 3 /dev/myzero | wc -c; df -k /dev/shm | tail -1 | awk '{print $2}'; cat /proc/sys/kernel/msgmax",
        "grep ' /t ' /proc/mounts | cut -d' ' -f4; grep -E 'CapEff|Seccomp:|NoNewPrivs' /proc/self/status; pwd; echo $HOME",
      ].join("; "),
    );
    expect(out.minid).toBe(
      "1234\n2345\nunlimited\n300\nGroups:\t0 10 123 \n3\n10240\n9999\nrw,nosuid,nodev,relatime,size=1024k\n" +
        "CapEff:\t00000000a88425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n/work\n/root\n",
    );
    for (const rt of RUNTIMES) expect(`${rt}:\n${out[rt]}`).toBe(`${rt}:\n${out.minid}`);
  });

  it("namespaces shared with the host and another container, user, read-only root, no_new_privs", () => {
    const donor = `seam-donor-${process.pid}`;
    expect(root().run(["run", "-d", "--name", donor, "--ipc", "shareable", "--network", "none", "busybox", "sh", "-c", "echo shared > /dev/shm/x; exec sleep 600"]).code).toBe(0);
    try {
      const out = under(
        ["--ipc", `container:${donor}`, "--pid", `container:${donor}`, "--uts", "host", "-u", "nobody", "--read-only", "--security-opt", "no-new-privileges"],
        // The runtime's own process lives in the shared PID namespace too: only sleep is asked for.
        "cat /dev/shm/x; hostname; ps -o pid,comm | grep -w sleep; id; touch /x 2>&1; grep NoNewPrivs /proc/self/status",
      );
      const host = Bun.spawnSync(["hostname"]).stdout.toString();
      expect(out.minid).toBe(`shared\n${host}    1 sleep\nuid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\ntouch: /x: Read-only file system\nNoNewPrivs:\t1\n`);
      for (const rt of RUNTIMES) expect(`${rt}:\n${out[rt]}`).toBe(`${rt}:\n${out.minid}`);
    } finally {
      root().run(["rm", "-f", donor]);
    }
  });

  it("--privileged: every capability minid holds, no seccomp filter, writable /sys", () => {
    const out = under(["--privileged"], "grep -E 'CapEff|Seccomp:' /proc/self/status; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1");
    const held = /CapEff:\t(\w+)/.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"))![1];
    expect(out.minid).toBe(`CapEff:\t${held}\nSeccomp:\t0\nrw\n`);
    for (const rt of RUNTIMES) expect(`${rt}:\n${out[rt]}`).toBe(`${rt}:\n${out.minid}`);
  });

  // crun on a v1 host runs with its cgroup manager off and a cgroup2 view (design.md): its
  // container reads no v1 limit files, though minid's limits on the group it runs in hold.
  it("the container reads its own limits in its cgroup (memory, pids, cpu quota and shares)", () => {
    const files = V1
      ? "memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.shares"
      : "memory.max pids.max cpu.max cpu.weight";
    const out = under(["-m", "64m", "--pids-limit", "50", "--cpus", "0.5", "--cpu-shares", "512"], `cd /sys/fs/cgroup && cat ${files}`, V1 ? ["runc"] : RUNTIMES);
    expect(out.minid).toBe(V1 ? "67108864\n50\n50000\n512\n" : expect.any(String));
    expect(`runc:\n${out.runc}`).toBe(`runc:\n${out.minid}`);
    if (!V1) expect(`crun:\n${out.crun}`).toBe(`crun:\n${out.minid}`);
  });

  it("--init: PID 1 reaps what the command orphans (minid's reaper, or the runtime itself)", () => {
    // The inner shell leaves a sleep behind and exits: its orphan is PID 1's to reap. The
    // command then becomes `sleep`, which reaps nothing: without a reaper above it the orphan
    // stays a zombie, which the watching subshell (forked before) counts.
    const out = under(["--init"], "(sleep 1; ps -o stat,comm | grep -c '^Z') & sh -c 'sleep 0.2 & exit'; exec sleep 2");
    for (const rt of ["minid", ...RUNTIMES]) expect(`${rt}: ${out[rt]}`).toBe(`${rt}: 0\n`);
  });

  it("a bind with slave propagation is a slave of the host's mount under every runtime", () => {
    const src = join(work, "prop");
    mkdirSync(src, { recursive: true });
    // Made shared on the host, so the container's rslave bind is its slave.
    Bun.spawnSync(["mount", "--bind", "--make-shared", src, src]);
    try {
      const out = under(["--mount", `type=bind,src=${src},dst=/pv,bind-propagation=rslave`], "grep ' /pv ' /proc/self/mountinfo | grep -c master:");
      for (const rt of ["minid", ...RUNTIMES]) expect(`${rt}: ${out[rt]}`).toBe(`${rt}: 1\n`);
    } finally {
      Bun.spawnSync(["umount", "-l", src]);
    }
  });
});
