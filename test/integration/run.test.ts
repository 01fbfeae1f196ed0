// `minid run` end to end, as root, with the real binary and the built-in busybox image.
// Every fact is checked from inside the container with busybox tools where possible.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { readFileSync, readlinkSync, existsSync, writeFileSync, mkdirSync, readdirSync, statSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, isRoot, BIN } from "../helpers/minid.ts";

const it = isRoot() ? test : test.skip;
let r: TestRoot;

beforeAll(() => {
  if (!isRoot()) return;
  ensureBuilt();
  r = new TestRoot("run");
});
afterAll(() => r?.cleanup());

/** `run --rm [flags] busybox CMD...`: flags are the words up to the first non-flag. */
function run(...args: string[]) {
  let i = 0;
  while (i < args.length && args[i]!.startsWith("-")) i += 2;
  return r.run(["run", "--rm", ...args.slice(0, i), "busybox", ...args.slice(i)]);
}

describe("namespaces, seen from inside", () => {
  it("the command is PID 1 and sees only its own processes", () => {
    const res = run("sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args | wc -l");
    expect(res.code).toBe(0);
    const [pid, cmdline, lines] = res.stdout.trim().split("\n");
    expect(pid).toBe("1");
    expect(cmdline!.trim()).toBe("sh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args | wc -l");
    // header + sh + ps + wc (+ tr is gone); nothing of the host
    expect(Number(lines)).toBeLessThanOrEqual(5);
  });

  it("hostname is the short container id, or --hostname", () => {
    const res = r.run(["run", "--name", "hn", "busybox", "hostname"]);
    expect(res.code).toBe(0);
    const id = r.run(["ps", "-a", "-q", "--no-trunc", "-f", "name=^hn$"]).stdout.trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    expect(res.stdout.trim()).toBe(id.slice(0, 12));
    expect(r.run(["rm", "hn"]).code).toBe(0);
    expect(run("--hostname", "web1", "hostname").stdout.trim()).toBe("web1");
    expect(r.run(["run", "--rm", "--hostname", "web1", "busybox", "cat", "/etc/hostname"]).stdout.trim()).toBe("web1");
  });

  it("network namespace has only loopback, and it is up", () => {
    const res = run("sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags; ping -c1 -W1 127.0.0.1 >/dev/null && echo pingok");
    expect(res.code).toBe(0);
    const [ifaces, flags, ping] = res.stdout.trim().split("\n");
    expect(ifaces).toBe("lo");
    expect(Number(flags) & 1).toBe(1);
    expect(ping).toBe("pingok");
  });

  it("every namespace differs from the host's", () => {
    const res = run("sh", "-c", "for n in pid uts ipc net mnt; do readlink /proc/1/ns/$n; done");
    expect(res.code).toBe(0);
    const inside = res.stdout.trim().split("\n");
    const host = ["pid", "uts", "ipc", "net", "mnt"].map((n) => readlinkSync(`/proc/self/ns/${n}`));
    expect(inside).toHaveLength(5);
    inside.forEach((ns, i) => expect(ns).not.toBe(host[i]));
  });

  it("root is an overlay after pivot_root, with proc, a tmpfs /dev and a read-only /sys", () => {
    const res = run("cat", "/proc/self/mountinfo");
    expect(res.code).toBe(0);
    const mounts = res.stdout.trim().split("\n").map((l) => {
      const f = l.split(" ");
      const sep = f.indexOf("-");
      return { point: f[4]!, opts: f[5]!, type: f[sep + 1]! };
    });
    const at = (p: string) => mounts.find((m) => m.point === p);
    expect(at("/")?.type).toBe("overlay");
    expect(at("/proc")?.type).toBe("proc");
    expect(at("/dev")?.type).toBe("tmpfs");
    expect(at("/dev/pts")?.type).toBe("devpts");
    expect(at("/dev/shm")?.type).toBe("tmpfs");
    expect(at("/sys")?.type).toBe("sysfs");
    expect(at("/sys")?.opts.split(",")).toContain("ro");
    // The old root is detached: no mount of the host's tree is reachable.
    expect(mounts.filter((m) => m.point.startsWith("/work") || m.point.startsWith("/tmp/minid"))).toEqual([]);
  });

  it("/dev holds the standard devices and links", () => {
    const res = run("sh", "-c", "ls /dev | sort | tr '\\n' ' '; echo; stat -c '%t,%T %a' /dev/null /dev/zero /dev/urandom; readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdin; echo x > /sys/kernel/x 2>&1 || echo sysro");
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split("\n");
    for (const d of ["null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd", "stdin", "stdout", "stderr"]) {
      expect(lines[0]!.split(" ")).toContain(d);
    }
    expect(lines[1]).toBe("1,3 666");
    expect(lines[2]).toBe("1,5 666");
    expect(lines[3]).toBe("1,9 666");
    expect(lines.slice(4, 7)).toEqual(["pts/ptmx", "/proc/self/fd", "/proc/self/fd/0"]);
    expect(res.stdout).toContain("sysro");
  });
});

describe("argv, environment and working directory", () => {
  it("arguments after the image arrive byte for byte as separate words", () => {
    expect(run("sh", "-c", "echo $((1+2))").stdout).toBe("3\n");
    const res = run("printf", "[%s]\\n", "a b", "", "c\"d", "$x", "--rm", "-e", "ü");
    expect(res.stdout).toBe('[a b]\n[]\n[c"d]\n[$x]\n[--rm]\n[-e]\n[ü]\n');
  });

  it("no host environment leaks; -e, --env, --env-file and -e NAME work", () => {
    const dir = join(r.dir, "envf");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "list"), "# a comment\nFILEVAR=from file\n");
    const res = r.run(
      ["run", "--rm", "-e", "A=1", "--env", "B=two words", "--env-file", join(dir, "list"), "-e", "PASSED", "busybox", "env"],
      { env: { SECRET_HOST_VAR: "leak", PASSED: "yes" } },
    );
    expect(res.code).toBe(0);
    const env = res.stdout.trim().split("\n").sort();
    expect(env).toContain("A=1");
    expect(env).toContain("B=two words");
    expect(env).toContain("FILEVAR=from file");
    expect(env).toContain("PASSED=yes");
    expect(env).toContain("HOME=/root");
    expect(env).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(env.join("\n")).not.toContain("SECRET_HOST_VAR");
  });

  it("-w sets (and creates) the working directory", () => {
    expect(run("-w", "/etc", "pwd").stdout).toBe("/etc\n");
    expect(run("--workdir", "/new/dir", "pwd").stdout).toBe("/new/dir\n");
  });

  it("without a command the image's CMD (sh) runs, reading stdin with -i", () => {
    const res = r.run(["run", "--rm", "-i", "busybox"], { input: "echo from-stdin; exit 4\n" });
    expect(res.stdout).toBe("from-stdin\n");
    expect(res.code).toBe(4);
  });

  it("works from source as well as compiled", () => {
    const res = r.run(["run", "--rm", "busybox", "echo", "src"], { source: true });
    expect(res.stdout).toBe("src\n");
    expect(res.code).toBe(0);
  });
});

describe("exit codes", () => {
  it("the container's own status", () => {
    expect(run("true").code).toBe(0);
    expect(run("sh", "-c", "exit 3").code).toBe(3);
  });

  it("127 when the command does not exist", () => {
    const res = run("nosuchcmd");
    expect(res.code).toBe(127);
    expect(res.stderr).toContain('"nosuchcmd": executable file not found in $PATH');
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(run("/no/such/path").code).toBe(127);
  });

  it("126 when it cannot be executed", () => {
    expect(run("/etc/passwd").code).toBe(126);
    expect(run("/etc").code).toBe(126);
  });

  it("a failed start leaves no container behind", () => {
    const before = r.run(["ps", "-a", "-q"]).stdout;
    expect(r.run(["run", "busybox", "nosuchcmd"]).code).toBe(127);
    expect(r.run(["ps", "-a", "-q"]).stdout).toBe(before);
  });

  async function signalled(signal: "SIGTERM" | "SIGINT", trapName: string, code: number) {
    const p = r.spawn(["run", "--rm", "busybox", "sh", "-c", `trap 'echo got ${trapName}; exit ${code}' ${trapName}; echo ready; while :; do sleep 0.1; done`]);
    const reader = p.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain("ready");
    p.kill(signal);
    const exit = await p.exited;
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(first + rest).toContain(`got ${trapName}`);
    expect(exit).toBe(code);
  }

  it("SIGTERM sent to minid run reaches the container (143)", () => signalled("SIGTERM", "TERM", 143));
  it("SIGINT (Ctrl-C) reaches the container (130)", () => signalled("SIGINT", "INT", 130));

  it("128+N when the container is killed by signal N", async () => {
    const p = r.spawn(["run", "--name", "victim", "busybox", "sleep", "30"]);
    let pid = 0;
    for (let i = 0; i < 100 && !pid; i++) {
      await Bun.sleep(50);
      const st = JSON.parse(r.run(["ps", "--format", "json", "-f", "name=victim"]).stdout || "null");
      if (st) pid = findContainerPid("victim");
    }
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    expect(await p.exited).toBe(137);
    expect(r.run(["ps", "-a", "-f", "name=victim"]).stdout).toContain("Exited (137)");
    r.run(["rm", "victim"]);
  });
});

/** The container's PID as the host sees it, from the state document. */
function findContainerPid(name: string): number {
  const dir = join(r.dir, "containers");
  for (const id of readdirSync(dir)) {
    try {
      const st = JSON.parse(readFileSync(join(dir, id, "state.json"), "utf8"));
      if (st.name === name && st.state.pid) {
        // The recorded pid is init, which exec'd into the command: same process.
        return st.state.pid;
      }
    } catch {}
  }
  return 0;
}

describe("lifecycle basics", () => {
  it("an exited container is kept until rm; --rm removes it", () => {
    expect(r.run(["run", "--name", "kept", "busybox", "sh", "-c", "exit 3"]).code).toBe(3);
    const ps = r.run(["ps", "-a"]);
    expect(ps.stdout.split("\n")[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const line = ps.stdout.split("\n").find((l) => l.endsWith(" kept"))!;
    expect(line).toContain("Exited (3)");
    expect(line).toContain('"sh -c \'exit 3\'"');
    expect(r.run(["ps"]).stdout).not.toContain("kept");
    const id = r.run(["ps", "-aq", "--no-trunc", "-f", "name=kept"]).stdout.trim();
    expect(existsSync(join(r.dir, "containers", id))).toBe(true);
    expect(r.run(["rm", "kept"]).stdout).toBe("kept\n");
    expect(existsSync(join(r.dir, "containers", id))).toBe(false);
    const before = readdirSync(join(r.dir, "containers")).length;
    expect(run("true").code).toBe(0);
    expect(readdirSync(join(r.dir, "containers")).length).toBe(before);
  });

  it("--name must be unique", () => {
    expect(r.run(["run", "--name", "dup", "busybox", "true"]).code).toBe(0);
    const res = r.run(["run", "--name", "dup", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain('The container name "/dup" is already in use');
    r.run(["rm", "dup"]);
  });
});

describe("volumes", () => {
  it("rw volumes write through to the host immediately and survive; never into the layer", () => {
    const host = join(r.dir, "vol-rw");
    expect(existsSync(host)).toBe(false);
    const res = r.run(["run", "--name", "volrw", "-v", `${host}:/data`, "busybox", "sh", "-c", "echo hi > /data/f; cat /data/f"]);
    expect(res.code).toBe(0);
    expect(readFileSync(join(host, "f"), "utf8")).toBe("hi\n");
    expect(statSync(host).isDirectory()).toBe(true);
    const id = r.run(["ps", "-aq", "--no-trunc", "-f", "name=volrw"]).stdout.trim();
    const upper = join(r.dir, "containers", id, "upper");
    expect(existsSync(join(upper, "data", "f"))).toBe(false);
    r.run(["rm", "volrw"]);
    expect(readFileSync(join(host, "f"), "utf8")).toBe("hi\n");
  });

  it("ro volumes refuse writes with EROFS", () => {
    const host = join(r.dir, "vol-ro");
    mkdirSync(host);
    writeFileSync(join(host, "keep"), "orig");
    const res = run("-v", `${host}:/ro:ro`, "sh", "-c", "cat /ro/keep; echo x > /ro/keep 2>&1; echo x > /ro/new 2>&1; grep ' /ro ' /proc/self/mountinfo");
    expect(res.stdout).toContain("orig");
    expect(res.stderr).toContain("Read-only file system");
    expect(res.stdout).toMatch(/ \/ro ro,/);
    expect(readFileSync(join(host, "keep"), "utf8")).toBe("orig");
    expect(existsSync(join(host, "new"))).toBe(false);
  });

  it("a file can be bound onto a file, at a path created inside the rootfs", () => {
    const f = join(r.dir, "vol-file.txt");
    writeFileSync(f, "file-content\n");
    expect(run("-v", `${f}:/etc/passwd:ro`, "cat", "/etc/passwd").stdout).toBe("file-content\n");
    expect(run("-v", `${f}:/deep/new/place.txt`, "cat", "/deep/new/place.txt").stdout).toBe("file-content\n");
  });

  it("a symlink in the image never leads a volume target out of the rootfs", () => {
    const outside = join(r.dir, "escape-target");
    // Build an image whose /evil is an absolute symlink to a host path.
    const tarDir = join(r.dir, "evil-tree");
    mkdirSync(tarDir);
    const base = Bun.spawnSync(["tar", "-xzf", join(import.meta.dir, "..", "..", "images", "build", "busybox.tar.gz"), "-C", tarDir]);
    expect(base.exitCode).toBe(0);
    Bun.spawnSync(["ln", "-s", outside, join(tarDir, "evil")]);
    Bun.spawnSync(["ln", "-s", "../../../../../../..", join(tarDir, "climb")]);
    const tarFile = join(r.dir, "evil.tar");
    expect(Bun.spawnSync(["tar", "--numeric-owner", "-cf", tarFile, "-C", tarDir, "."]).exitCode).toBe(0);
    expect(r.run(["import", "-c", 'CMD ["sh"]', tarFile, "evil:1"]).code).toBe(0);
    const src = join(r.dir, "vol-src");
    mkdirSync(src);
    writeFileSync(join(src, "marker"), "m");
    const res = r.run(["run", "--rm", "-v", `${src}:/evil/sub`, "-v", `${src}:/climb${r.dir}/climbed`, "evil:1", "sh", "-c", "cat /evil/sub/marker; ls -d " + outside + "/sub"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("m");
    // The target was created inside the rootfs (where the symlink points when resolved there)…
    expect(res.stdout).toContain(`${outside}/sub`);
    // …and never on the host.
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(join(r.dir, "climbed"))).toBe(false);
    rmSync(tarDir, { recursive: true, force: true });
    r.run(["rmi", "evil:1"]);
  });

  for (const spec of [":x", "relative:/x", "/a:relative", "/a:/b:ro:x", "/a:/b:bad", "/onlyone"]) {
    it(`bad spec ${JSON.stringify(spec)} fails with 125 and creates nothing`, () => {
      const before = r.run(["ps", "-aq"]).stdout;
      const res = r.run(["run", "--rm", "-v", spec, "busybox", "true"]);
      expect(res.code).toBe(125);
      expect(res.stderr).toMatch(/^minid: invalid volume specification/);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.run(["ps", "-aq"]).stdout).toBe(before);
      expect(existsSync("/a")).toBe(false);
    });
  }
});

describe("bad input", () => {
  it("unknown image", () => {
    const res = r.run(["run", "--rm", "nosuchimage:1", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("nosuchimage:1");
  });
  it("unknown flag", () => {
    const res = r.run(["run", "--bogus", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("unknown flag: --bogus");
  });
  it("missing image argument", () => {
    expect(r.run(["run"]).code).toBe(125);
  });
  it("missing env file", () => {
    const res = r.run(["run", "--rm", "--env-file", "/nonexistent", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("/nonexistent");
  });
  it("relative working directory", () => {
    expect(r.run(["run", "--rm", "-w", "rel", "busybox", "true"]).code).toBe(125);
  });
  it("-t without a terminal", () => {
    const res = r.run(["run", "--rm", "-t", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("not a TTY");
  });
  it("not root: one line, exit 125", () => {
    const res = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN, "--root", r.dir, "run", "busybox", "true"]);
    expect(res.exitCode).toBe(125);
    const err = res.stderr.toString();
    expect(err).toContain("root");
    expect(err.trim().split("\n")).toHaveLength(1);
  });
});

describe("CLI", () => {
  it("--help, --version and per-command help", () => {
    const h = r.run(["--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("Usage:");
    expect(h.stdout).toContain("run");
    expect(r.run(["--version"]).stdout).toMatch(/^minid version \d+\.\d+\.\d+/);
    const rh = r.run(["run", "--help"]);
    expect(rh.code).toBe(0);
    expect(rh.stdout).toContain("--volume");
    // After the image, --help belongs to the container's command.
    expect(r.run(["run", "--rm", "busybox", "echo", "--help"]).stdout).toBe("--help\n");
  });
  it("unknown command", () => {
    const res = r.run(["frobnicate"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("'frobnicate' is not a minid command");
  });
});
