// Docker's runtime defaults, checked from inside the container (each expected value below was
// measured on Docker 20.10 with the same busybox; docker-diff.test.ts compares live when a
// Docker daemon is available): signal dispositions and mask, supplementary groups for run and
// exec, no_new_privs off (a setuid program raises its euid) and on by option, /dev, the
// cgroup view, and -t without a terminal.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt } from "../helpers/minid.ts";
import { have, requires } from "../helpers/requires.ts";

const it = requires("root");
let r: TestRoot;

beforeAll(() => {
  if (!have("root")) return;
  ensureBuilt();
  r = new TestRoot("rtdef");
  for (const [name, flags] of [["plain", []], ["nnp", ["--security-opt", "no-new-privileges"]], ["added", ["--group-add", "1234"]], ["nobody", ["-u", "nobody"]]] as const) {
    const res = r.run(["run", "-d", "--name", name, ...flags, "busybox", "sleep", "600"]);
    if (res.code !== 0) throw new Error(`run ${name}: ${res.stderr}`);
  }
});
afterAll(() => {
  r?.run(["rm", "-f", "plain", "nnp", "added", "nobody"]);
  r?.cleanup();
});

const status = (text: string, key: string) => new RegExp(`^${key}:\\s*(.*?)\\s*$`, "m").exec(text)?.[1];
function out(args: string[]): string {
  const res = r.run(args);
  if (res.code !== 0) throw new Error(`minid ${args.join(" ")}: ${res.code} ${res.stderr}`);
  return res.stdout;
}

describe("signals", () => {
  it("PID 1 starts with no signal ignored or blocked (Bun ignores SIGPIPE and SIGXFSZ)", () => {
    const s = out(["run", "--rm", "busybox", "cat", "/proc/1/status"]);
    expect([status(s, "SigIgn"), status(s, "SigBlk")]).toEqual(["0000000000000000", "0000000000000000"]);
    const e = out(["exec", "plain", "cat", "/proc/self/status"]);
    expect([status(e, "SigIgn"), status(e, "SigBlk")]).toEqual(["0000000000000000", "0000000000000000"]);
  });
  it("yes | head -1 ends, and a trap on PIPE fires", () => {
    const res = r.run(["run", "--rm", "busybox", "sh", "-c", "yes | head -1; trap 'echo trapped' PIPE; kill -PIPE $$; echo after"], { timeout: 20_000 });
    expect([res.code, res.stdout]).toEqual([0, "y\ntrapped\nafter\n"]);
  });
});

describe("supplementary groups from the image, as Docker's daemon sets them", () => {
  // flags → the Groups line of /proc/self/status (the kernel sorts it)
  const RUN: [string[], string][] = [
    [[], "0 10"],
    [["-u", "root"], "0 10"],
    [["-u", "nobody"], "65534"],
    [["-u", "0:0"], "0"],
    [["-u", "1000"], "0"],
    [["-u", "1000:1000"], "1000"],
    [["-u", "nobody:wheel"], "10"],
    [["--group-add", "1234", "-u", "nobody"], "1234 65534"],
    [["--group-add", "1234", "--group-add", "wheel", "--group-add", "10", "-u", "0:33"], "10 33 1234"],
    [["--group-add", "0"], "0 10"],
    [["--group-add", "5", "-u", "root"], "0 5 10"],
  ];
  it("run", () => {
    for (const [flags, want] of RUN) {
      expect(`${flags.join(" ")} → ${status(out(["run", "--rm", ...flags, "busybox", "cat", "/proc/self/status"]), "Groups")}`).toBe(`${flags.join(" ")} → ${want}`);
    }
    // busybox's id, as Docker prints it for root
    expect(out(["run", "--rm", "busybox", "id"])).toBe("uid=0(root) gid=0(root) groups=0(root),10(wheel)\n");
  });
  it("exec: the container's user and --group-add, or exec -u's user with them", () => {
    const EXEC: [string, string[], string][] = [
      ["added", [], "0 10 1234"],
      ["added", ["-u", "0:0"], "0 1234"],
      ["added", ["-u", "nobody"], "1234 65534"],
      ["nobody", [], "65534"],
      ["nobody", ["-u", "root"], "0 10"],
      ["nobody", ["-u", "5:5"], "5"],
    ];
    for (const [c, flags, want] of EXEC) {
      expect(`${c} ${flags.join(" ")} → ${status(out(["exec", ...flags, c, "cat", "/proc/self/status"]), "Groups")}`).toBe(`${c} ${flags.join(" ")} → ${want}`);
    }
  });
  it("an unknown --group-add name is Docker's error, exit 125, nothing left", () => {
    const before = out(["ps", "-aq"]);
    const res = r.run(["run", "--rm", "--group-add", "nosuch", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("Unable to find group nosuch: no matching entries in group file");
    expect(out(["ps", "-aq"])).toBe(before);
    expect(out(["inspect", "--format", "{{json .HostConfig.GroupAdd}}", "added", "plain"])).toBe('["1234"]\nnull\n');
  });
});

describe("no_new_privs", () => {
  it("off by default and for exec; --security-opt no-new-privileges turns it on for both", () => {
    expect(status(out(["run", "--rm", "busybox", "cat", "/proc/self/status"]), "NoNewPrivs")).toBe("0");
    expect(status(out(["exec", "plain", "cat", "/proc/self/status"]), "NoNewPrivs")).toBe("0");
    expect(status(out(["exec", "nnp", "cat", "/proc/self/status"]), "NoNewPrivs")).toBe("1");
    expect(status(out(["exec", "-u", "nobody", "nnp", "cat", "/proc/self/status"]), "NoNewPrivs")).toBe("1");
  });

  requires("root", "gcc")("a setuid-root program raises a user's euid, unless no-new-privileges", () => {
    const src = join(r.dir, "euid.c");
    const bin = join(r.dir, "euid");
    writeFileSync(src, `#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("euid=%d\\n", (int)geteuid()); return 0; }\n`);
    const cc = Bun.spawnSync(["gcc", "-static", "-O", "-o", bin, src], { stderr: "pipe" });
    expect(cc.exitCode).toBe(0);
    // Copied into the container's own layer (not a bind mount, whose host mount may be nosuid).
    for (const c of ["plain", "nnp"]) {
      const res = r.run(["exec", "-i", c, "sh", "-c", "mkdir -p /usr/local && cat > /usr/local/euid && chmod 4755 /usr/local/euid"], { input: readFileSync(bin) });
      expect(res.code).toBe(0);
    }
    expect(out(["exec", "-u", "nobody", "plain", "/usr/local/euid"])).toBe("euid=0\n");
    expect(out(["exec", "-u", "nobody", "nnp", "/usr/local/euid"])).toBe("euid=65534\n");
  });
});

describe("the container's filesystem view", () => {
  it("/dev as Docker's: no core, nosuid but exec allowed, nodes root:root", () => {
    expect(out(["run", "--rm", "busybox", "ls", "/dev"]).trim().split("\n")).toEqual(
      ["fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"],
    );
    expect(out(["run", "--rm", "busybox", "sh", "-c", "grep ' /dev ' /proc/mounts; stat -c '%U:%G' /dev/tty"])).toBe(
      "tmpfs /dev tmpfs rw,nosuid,size=65536k,mode=755 0 0\nroot:root\n",
    );
  });
  it("--tmpfs defaults rw,nosuid,nodev,noexec; read-only /proc paths keep proc's nosuid,nodev,noexec", () => {
    const m = out(["run", "--rm", "--tmpfs", "/x", "--tmpfs", "/y:size=1m,exec", "busybox", "sh", "-c", "grep -E ' /(x|y|proc/sys) ' /proc/mounts"]);
    expect(m.trim().split("\n").sort()).toEqual([
      "proc /proc/sys proc ro,nosuid,nodev,noexec,relatime 0 0",
      "tmpfs /x tmpfs rw,nosuid,nodev,noexec,relatime 0 0",
      "tmpfs /y tmpfs rw,nosuid,nodev,relatime,size=1024k 0 0",
    ]);
  });
  it("/sys/fs/cgroup lists what Docker's does for this host's cgroup version", () => {
    const got = out(["run", "--rm", "busybox", "ls", "/sys/fs/cgroup"]).trim().split("\n");
    if (existsSync("/sys/fs/cgroup/cgroup.controllers")) {
      // v2: the container's own cgroup2 root
      expect(got).toContain("cgroup.procs");
    } else {
      // v1/hybrid: one directory per v1 hierarchy the host mounts (the hybrid's unified one
      // not shown, as under Docker), joint ones (cpu,cpuacct) also under each name.
      const names = readFileSync("/proc/self/cgroup", "utf8").trim().split("\n").map((l) => l.split(":")[1]!).filter(Boolean);
      const want = new Set<string>();
      for (const n of names) {
        const d = n.startsWith("name=") ? n.slice(5) : n;
        want.add(d);
        if (!n.startsWith("name=")) for (const c of d.split(",")) want.add(c);
      }
      expect(got).toEqual([...want].sort());
    }
  });
  // minid is not Docker: a script keying on /.dockerenv would assume Docker's socket and
  // daemon; and with no separate init layer the file would leak into commit/export/diff.
  it("no /.dockerenv", () => {
    expect(r.run(["run", "--rm", "busybox", "test", "-e", "/.dockerenv"]).code).toBe(1);
  });
});

describe("network sysctls", () => {
  it("any user may bind a port below 1024 and ping through datagram sockets; the host's stay as they were", () => {
    const host = ["ip_unprivileged_port_start", "ping_group_range"].map((k) => readFileSync(`/proc/sys/net/ipv4/${k}`, "utf8"));
    const res = r.run(["run", "--rm", "-u", "nobody", "busybox", "sh", "-c",
      "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range; nc -l -p 80 & i=0; until netstat -ltn | grep -q ':80 ' || [ $i -gt 100 ]; do i=$((i+1)); sleep 0.02; done; netstat -ltn | grep -c ':80 '; kill %1"]);
    expect([res.code, res.stdout]).toEqual([0, "0\n0\t2147483647\n1\n"]);
    expect(["ip_unprivileged_port_start", "ping_group_range"].map((k) => readFileSync(`/proc/sys/net/ipv4/${k}`, "utf8"))).toEqual(host);
  });
});

describe("-t without a terminal", () => {
  it("exec -t runs with a terminal of its own; exec -it is refused with exit 1", () => {
    const t = r.run(["exec", "-t", "plain", "sh", "-c", "test -t 0 && test -t 1 && echo tty"]);
    expect([t.code, t.stdout]).toEqual([0, "tty\r\n"]);
    const it = r.run(["exec", "-it", "plain", "true"]);
    expect([it.code, it.stderr]).toEqual([1, "minid: the input device is not a TTY\n"]);
  });
});
