// The container lifecycle end to end, from the compiled binary: detached runs and their
// watcher, logs, exec, stop/kill/restart/start/wait/rm/prune, inspect, names and prefixes,
// concurrency, crashes of minid and of the watcher, and the truth about PIDs and reboots.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, isRoot, minidCommand } from "../helpers/minid.ts";

const T = 60_000;
const it = (name: string, fn: () => unknown, timeout = T) => (isRoot() ? test : test.skip)(name, fn as any, timeout);
let r: TestRoot;

beforeAll(() => {
  if (!isRoot()) return;
  ensureBuilt();
  r = new TestRoot("lifecycle");
  // Import the built-in image once, outside any timed test.
  expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
});

afterAll(() => {
  if (!r) return;
  const ids = r.run(["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean);
  if (ids.length) r.run(["rm", "-f", ...ids]);
  const holders = processesHolding(r.dir);
  r.cleanup();
  if (holders.length) throw new Error(`processes left holding the test root: ${holders.join(", ")}`);
});

// ---- helpers ----

function state(name: string): any {
  const out = r.run(["inspect", name]);
  if (out.code !== 0) throw new Error(`inspect ${name}: ${out.stderr}`);
  return JSON.parse(out.stdout)[0];
}

function idOf(name: string): string {
  return r.run(["ps", "-aq", "--no-trunc", "-f", `name=^${name}$`]).stdout.trim();
}

function stateFile(name: string): string {
  return join(r.dir, "containers", idOf(name), "state.json");
}

async function until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

function alive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX] /.test(s);
  } catch {
    return false;
  }
}

/** Processes with an open fd, cwd or root under `dir` (a leak of ours would show here). */
function processesHolding(dir: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const links = [readlinkSync(`/proc/${p}/cwd`), ...readdirSync(`/proc/${p}/fd`).map((f) => {
        try {
          return readlinkSync(`/proc/${p}/fd/${f}`);
        } catch {
          return "";
        }
      })];
      if (links.some((l) => l.startsWith(dir))) out.push(`${p} ${readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ")}`);
    } catch {}
  }
  return out;
}

function watcherPidOf(name: string): number {
  return JSON.parse(readFileSync(stateFile(name), "utf8")).state.watcherPid;
}

// ---- run -d, the watcher, logs ----

describe("run -d and the watcher", () => {
  it("prints the full id at once; the container outlives the CLI; logs and exit code are recorded", async () => {
    const t0 = performance.now();
    const res = r.run(["run", "-d", "--name", "det", "busybox", "sh", "-c", "echo out; echo err >&2; sleep 1; exit 7"]);
    const dt = performance.now() - t0;
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(res.stderr).toBe("");
    expect(dt).toBeLessThan(5000);
    const id = res.stdout.trim();
    // The CLI has exited: the container still runs, watched by its watcher.
    expect(r.run(["ps", "-q", "--no-trunc"]).stdout).toContain(id);
    expect(state("det").State.Running).toBe(true);
    expect(r.run(["wait", "det"]).stdout).toBe("7\n");
    const logs = r.run(["logs", "det"]);
    expect(logs.stdout).toBe("out\n");
    expect(logs.stderr).toBe("err\n");
    const s = state("det");
    expect(s.State.Status).toBe("exited");
    expect(s.State.ExitCode).toBe(7);
    expect(Date.parse(s.State.FinishedAt)).toBeGreaterThanOrEqual(Date.parse(s.State.StartedAt));
    expect(r.run(["ps", "-a", "-f", "name=det"]).stdout).toMatch(/Exited \(7\) (Less than a second|\d+ seconds?) ago/);
    // The log itself: one JSON line per line of output, with stream and timestamp.
    const lines = readFileSync(s.LogPath, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.stream, l.log]).sort()).toEqual([["stderr", "err\n"], ["stdout", "out\n"]]);
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it("logs --tail N and -t", () => {
    expect(r.run(["run", "--name", "many", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo l$i; done"]).code).toBe(0);
    expect(r.run(["logs", "many"]).stdout).toBe("l1\nl2\nl3\nl4\nl5\n");
    expect(r.run(["logs", "--tail", "2", "many"]).stdout).toBe("l4\nl5\n");
    expect(r.run(["logs", "-n", "0", "many"]).stdout).toBe("");
    const ts = r.run(["logs", "-t", "--tail", "1", "many"]).stdout;
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z l5\n$/);
  });

  it("logs -f follows until the container exits", async () => {
    r.run(["run", "-d", "--name", "follow", "busybox", "sh", "-c", "for i in 1 2 3; do echo f$i; sleep 0.3; done; echo bye >&2"]);
    const p = Bun.spawn([...minidCommand(), "--root", r.dir, "logs", "-f", "follow"], { stdout: "pipe", stderr: "pipe" });
    const code = await p.exited;
    expect(code).toBe(0);
    expect(await new Response(p.stdout).text()).toBe("f1\nf2\nf3\n");
    expect(await new Response(p.stderr).text()).toBe("bye\n");
  });

  it("the watcher is small and records the exit with no CLI around", async () => {
    r.run(["run", "-d", "--name", "small", "busybox", "sleep", "30"]);
    const watcher = watcherPidOf("small");
    expect(alive(watcher)).toBe(true);
    expect(readFileSync(`/proc/${watcher}/cmdline`, "utf8")).toContain("_watcher");
    // The watcher is in its own session, not the CLI's.
    const stat = readFileSync(`/proc/${watcher}/stat`, "utf8").split(") ")[1]!.split(" ");
    expect(Number(stat[3])).toBe(watcher); // session id
    await Bun.sleep(1500); // it trims itself once idle
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${watcher}/status`, "utf8"))![1]);
    expect(rss).toBeLessThan(40 * 1024);
    expect(r.run(["kill", "small"]).code).toBe(0);
    expect(state("small").State.ExitCode).toBe(137);
    expect(alive(watcher)).toBe(false);
  });

  it("--rm with -d removes the container when it exits", async () => {
    const id = r.run(["run", "-d", "--rm", "busybox", "sh", "-c", "exit 3"]).stdout.trim();
    await until(() => !existsSync(join(r.dir, "containers", id)), 10_000, "auto-removal");
  });

  it("a container with a terminal logs its output as stdout", async () => {
    r.run(["run", "-d", "-t", "--name", "ttylog", "busybox", "sh", "-c", "echo on-tty; echo err-tty >&2; tty"]);
    expect(r.run(["wait", "ttylog"]).stdout).toBe("0\n");
    const logs = r.run(["logs", "ttylog"]);
    expect(logs.stdout).toBe("on-tty\r\nerr-tty\r\n/dev/console\r\n");
    expect(logs.stderr).toBe("");
  });
});

// ---- exec ----

describe("exec", () => {
  beforeAll(() => {
    if (!isRoot()) return;
    const res = r.run(["run", "-d", "--name", "ex", "-e", "FROM_RUN=1", "-w", "/tmp", "busybox", "sh", "-c", "echo content > /inside.txt; exec sleep 300"]);
    expect(res.code).toBe(0);
  });

  it("sees PID 1, the container's files, hostname and environment", () => {
    const res = r.run(["exec", "ex", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /inside.txt; hostname; echo $FROM_RUN; pwd; echo $$"]);
    expect(res.code).toBe(0);
    const [cmd1, content, host, env, cwd, pid] = res.stdout.split("\n");
    expect(cmd1!.trim()).toBe("sleep 300");
    expect(content).toBe("content");
    expect(host).toBe(idOf("ex").slice(0, 12));
    expect(env).toBe("1");
    expect(cwd).toBe("/tmp");
    expect(Number(pid)).toBeGreaterThan(1);
    expect(Number(pid)).toBeLessThan(100); // numbered in the container's PID namespace
  });

  it("-e, -w, -u, and the command's exit code", () => {
    expect(r.run(["exec", "-e", "A=b", "-e", "FROM_RUN=2", "ex", "sh", "-c", "echo $A$FROM_RUN"]).stdout).toBe("b2\n");
    expect(r.run(["exec", "-w", "/etc", "ex", "pwd"]).stdout).toBe("/etc\n");
    expect(r.run(["exec", "-u", "nobody", "ex", "id", "-u"]).stdout).toBe("65534\n");
    expect(r.run(["exec", "-u", "1234:55", "ex", "id"]).stdout).toBe("uid=1234 gid=55\n");
    expect(r.run(["exec", "ex", "sh", "-c", "exit 42"]).code).toBe(42);
  });

  it("the container's confinement: capabilities and no_new_privs as its init has them", () => {
    const init = r.run(["exec", "ex", "grep", "-E", "^(CapBnd|CapEff|NoNewPrivs)", "/proc/1/status"]).stdout;
    const mine = r.run(["exec", "ex", "grep", "-E", "^(CapBnd|CapEff|NoNewPrivs)", "/proc/self/status"]).stdout;
    expect(mine).toBe(init);
    const user = r.run(["exec", "-u", "nobody", "ex", "grep", "^CapEff", "/proc/self/status"]).stdout;
    expect(user).toBe("CapEff:\t0000000000000000\n");
  });

  it("127 and 126 as for run, one line of error", () => {
    const nf = r.run(["exec", "ex", "nosuchcmd"]);
    expect(nf.code).toBe(127);
    expect(nf.stderr).toContain('"nosuchcmd": executable file not found in $PATH');
    expect(nf.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.run(["exec", "ex", "/etc/passwd"]).code).toBe(126);
    expect(r.run(["exec", "ex", "/etc"]).code).toBe(126);
    expect(r.run(["exec", "-w", "/nope", "ex", "true"]).code).toBe(126);
  });

  it("-i passes stdin; -d runs in the background", async () => {
    expect(r.run(["exec", "-i", "ex", "cat"], { input: "piped\n" }).stdout).toBe("piped\n");
    expect(r.run(["exec", "ex", "cat"], { input: "ignored\n" }).stdout).toBe("");
    const t0 = Date.now();
    expect(r.run(["exec", "-d", "ex", "sh", "-c", "sleep 1; echo done > /bg.txt"]).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000);
    await until(() => r.run(["exec", "ex", "cat", "/bg.txt"]).stdout === "done\n", 10_000, "background exec");
  });

  it("errors: not running, no such container, -t without a terminal, no command", () => {
    r.run(["run", "--name", "exdone", "busybox", "true"]);
    const stopped = r.run(["exec", "exdone", "true"]);
    expect(stopped.code).toBe(1); // as the Docker CLI: exec's daemon errors exit 1
    expect(stopped.stderr).toContain("is not running");
    expect(r.run(["exec", "nosuch", "true"]).stderr).toContain("No such container: nosuch");
    const t = r.run(["exec", "-t", "ex", "true"]);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("not a TTY");
    expect(r.run(["exec", "ex"]).code).toBe(1); // cobra's argument count errors exit 1 in Docker's CLI
  });
});

// ---- stop, kill, restart, start, wait ----

describe("stop, kill, restart, start, wait", () => {
  it("stop: SIGTERM first; a shell as PID 1 ignores it and is killed after -t", async () => {
    r.run(["run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "while :; do sleep 0.1; done"]);
    const t0 = performance.now();
    const res = r.run(["stop", "-t", "1", "stubborn"]);
    const dt = performance.now() - t0;
    expect(res.code).toBe(0);
    expect(res.stdout).toBe("stubborn\n");
    expect(dt).toBeGreaterThan(900);
    expect(dt).toBeLessThan(3000); // timeout + 2 s
    expect(state("stubborn").State.ExitCode).toBe(137);
    expect(r.run(["ps", "-a", "-f", "name=stubborn"]).stdout).toContain("Exited (137)");
  });

  it("stop: a container that handles SIGTERM stops at once with its own status", () => {
    r.run(["run", "-d", "--name", "polite", "busybox", "sh", "-c", "trap 'exit 143' TERM; while :; do sleep 0.1; done"]);
    const t0 = performance.now();
    expect(r.run(["stop", "polite"]).code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(state("polite").State.ExitCode).toBe(143);
    // Stopping a stopped container is fine.
    expect(r.run(["stop", "polite"]).code).toBe(0);
  });

  it("stop --stop-signal at run time", () => {
    r.run(["run", "-d", "--name", "usr1", "--stop-signal", "USR1", "busybox", "sh", "-c", "trap 'exit 10' USR1; while :; do sleep 0.1; done"]);
    expect(state("usr1").Config.StopSignal).toBe("SIGUSR1");
    expect(r.run(["stop", "usr1"]).code).toBe(0);
    expect(state("usr1").State.ExitCode).toBe(10);
  });

  it("kill -s delivers a signal; kill defaults to SIGKILL; killing a stopped container is an error", async () => {
    r.run(["run", "-d", "--name", "k", "busybox", "sh", "-c", "trap 'echo got-hup' HUP; while :; do sleep 0.1; done"]);
    expect(r.run(["kill", "-s", "HUP", "k"]).code).toBe(0);
    await until(() => r.run(["logs", "k"]).stdout.includes("got-hup"), 5000, "HUP handled");
    expect(state("k").State.Running).toBe(true);
    expect(r.run(["kill", "k"]).stdout).toBe("k\n");
    expect(state("k").State.ExitCode).toBe(137);
    const again = r.run(["kill", "k"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("is not running");
    expect(r.run(["kill", "-s", "NOSUCH", "k"]).code).toBe(1);
  });

  it("start runs an exited container again on its kept writable layer; start -a attaches", () => {
    expect(r.run(["run", "--name", "again", "busybox", "sh", "-c", "echo run >> /count; cat /count"]).stdout).toBe("run\n");
    const first = state("again").State.StartedAt;
    expect(r.run(["start", "again"]).stdout).toBe("again\n");
    expect(r.run(["wait", "again"]).stdout).toBe("0\n");
    const a = r.run(["start", "-a", "again"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe("run\nrun\nrun\n");
    expect(state("again").State.StartedAt > first).toBe(true);
    expect(r.run(["logs", "again"]).stdout).toBe("run\nrun\nrun\nrun\nrun\nrun\n");
  });

  it("start of a running container does nothing; restart gives it a new process", async () => {
    r.run(["run", "-d", "--name", "rs", "busybox", "sleep", "300"]);
    const pid1 = state("rs").State.Pid;
    expect(r.run(["start", "rs"]).code).toBe(0);
    expect(state("rs").State.Pid).toBe(pid1);
    const res = r.run(["restart", "-t", "1", "rs"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe("rs\n");
    const s = state("rs");
    expect(s.State.Running).toBe(true);
    expect(s.State.Pid).not.toBe(pid1);
    expect(alive(pid1)).toBe(false);
  });

  it("wait blocks until the exit and prints each code", async () => {
    r.run(["run", "-d", "--name", "w1", "busybox", "sh", "-c", "sleep 0.5; exit 3"]);
    r.run(["run", "-d", "--name", "w2", "busybox", "sh", "-c", "exit 4"]);
    const res = r.run(["wait", "w1", "w2"]);
    expect(res.stdout).toBe("3\n4\n");
    expect(r.run(["wait", "nosuch"]).code).toBe(1);
  });

  it("wait reports the exit code of a --rm container that removes itself", () => {
    const id = r.run(["run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.5; exit 9"]).stdout.trim();
    const res = r.run(["wait", id]);
    expect(res.stdout).toBe("9\n");
    expect(res.code).toBe(0);
    expect(r.run(["ps", "-aq", "--no-trunc"]).stdout).not.toContain(id);
  });
});

// ---- rm, prune, inspect, names ----

describe("rm, prune, inspect, names and prefixes", () => {
  it("rm refuses a running container; rm -f kills it and leaves nothing", async () => {
    r.run(["run", "-d", "--name", "victim2", "busybox", "sleep", "300"]);
    const id = idOf("victim2");
    const pid = state("victim2").State.Pid;
    const watcher = watcherPidOf("victim2");
    const refused = r.run(["rm", "victim2"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("container is running");
    expect(r.run(["rm", "-f", "-v", "victim2"]).stdout).toBe("victim2\n");
    expect(alive(pid)).toBe(false);
    expect(alive(watcher)).toBe(false);
    expect(existsSync(join(r.dir, "containers", id))).toBe(false);
    expect(readdirSync(join(r.dir, "containers")).filter((n) => n.includes(id))).toEqual([]);
    expect(r.leakedMounts()).toEqual([]);
  });

  it("container prune removes stopped containers only", () => {
    r.run(["run", "--name", "gone1", "busybox", "true"]);
    r.run(["run", "-d", "--name", "stays", "busybox", "sleep", "300"]);
    const res = r.run(["container", "prune", "-f"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("Deleted Containers:");
    expect(res.stdout).toContain("Total reclaimed space:");
    const left = r.run(["ps", "-a", "--format", "{{.Names}}"]).stdout.split("\n").filter(Boolean);
    expect(left).toContain("stays");
    expect(left).not.toContain("gone1");
    expect(r.run(["ps", "-a", "-f", "status=exited", "-q"]).stdout).toBe("");
    r.run(["rm", "-f", "stays"]);
  });

  it("inspect: State, Config, Mounts, image and log path; templates; images as a fallback", () => {
    r.run(["run", "-d", "--name", "insp", "-v", "/tmp:/hosttmp:ro", "busybox", "sleep", "300"]);
    const s = state("insp");
    expect(s.Id).toBe(idOf("insp"));
    expect(s.Name).toBe("/insp");
    expect(s.State).toMatchObject({ Status: "running", Running: true, OOMKilled: false, ExitCode: 0 });
    expect(s.State.Pid).toBeGreaterThan(1);
    expect(s.Config.Cmd).toEqual(["sleep", "300"]);
    expect(s.Config.Image).toBe("busybox");
    expect(s.Image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(s.Mounts).toEqual([{ Type: "bind", Source: "/tmp", Destination: "/hosttmp", Mode: "ro", RW: false, Propagation: "rprivate" }]);
    expect(existsSync(s.LogPath)).toBe(true);
    expect(r.run(["inspect", "-f", "{{.State.Status}} {{.Config.Image}}", "insp"]).stdout).toBe("running busybox\n");
    expect(r.run(["inspect", "--format", "{{json .Config.Cmd}}", "insp"]).stdout).toBe('["sleep","300"]\n');
    const img = r.run(["inspect", "busybox"]);
    expect(img.code).toBe(0);
    expect(JSON.parse(img.stdout)[0].Id).toBe(s.Image);
    const none = r.run(["inspect", "nosuchthing"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("No such object: nosuchthing");
    r.run(["stop", "-t", "0", "insp"]);
    const stopped = state("insp");
    expect(stopped.State.Running).toBe(false);
    expect(stopped.State.Pid).toBe(0);
    expect(stopped.State.ExitCode).toBe(137);
    r.run(["rm", "insp"]);
  });

  it("names and unique id prefixes work everywhere; an ambiguous prefix is an error", () => {
    r.run(["run", "-d", "--name", "pfx", "busybox", "sleep", "300"]);
    const id = idOf("pfx");
    for (const ref of [id, id.slice(0, 12), id.slice(0, 6), "pfx"]) {
      expect(r.run(["inspect", "-f", "{{.Name}}", ref]).stdout).toBe("/pfx\n");
      expect(r.run(["exec", ref, "true"]).code).toBe(0);
    }
    // With 17+ containers, two ids must share their first hex digit.
    const ids = r.run(["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean);
    while (ids.length < 17) ids.push(r.run(["run", "-d", "busybox", "true"]).stdout.trim());
    const counts = new Map<string, number>();
    for (const i of ids) counts.set(i[0]!, (counts.get(i[0]!) ?? 0) + 1);
    const shared = [...counts].find(([, n]) => n > 1)![0];
    for (const cmd of [["inspect"], ["logs"], ["stop"], ["rm", "-f"], ["exec"]]) {
      const res = r.run([...cmd, shared, ...(cmd[0] === "exec" ? ["true"] : [])]);
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain("multiple containers match");
    }
    expect(r.run(["rm", "-f", "pfx"]).code).toBe(0);
  });

  it("ps -q, --no-trunc, --format json, -f status= and name=", () => {
    r.run(["run", "-d", "--name", "psrun", "busybox", "sleep", "300"]);
    r.run(["run", "--name", "psexit", "busybox", "sh", "-c", "exit 2"]);
    expect(r.run(["ps", "-q", "-f", "name=psrun"]).stdout).toMatch(/^[0-9a-f]{12}\n$/);
    expect(r.run(["ps", "-q", "--no-trunc", "-f", "name=psrun"]).stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const json = r.run(["ps", "-a", "--format", "json", "-f", "name=psexit"]).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({ Names: "psexit", State: "exited", Image: "busybox" });
    expect(json[0].Status).toMatch(/^Exited \(2\) /);
    const exited = r.run(["ps", "-f", "status=exited", "--format", "{{.Names}}"]).stdout.split("\n");
    expect(exited).toContain("psexit");
    expect(exited).not.toContain("psrun");
    const running = r.run(["ps", "--format", "{{.Names}}\t{{.Status}}"]).stdout;
    expect(running).toMatch(/psrun\tUp (Less than a second|\d+ seconds?)/);
    expect(r.run(["ps", "-f", "status=bogus"]).code).toBe(1);
    r.run(["rm", "-f", "psrun", "psexit"]);
  });
});

// ---- concurrency and crashes ----

describe("state you can trust", () => {
  it("20 parallel runs with names: 20 containers, 20 names; then parallel stop and rm", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `par${i}`);
    const procs = names.map((n) => r.spawn(["run", "-d", "--name", n, "busybox", "sleep", "300"]));
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes).toEqual(names.map(() => 0));
    const ps = r.run(["ps", "--format", "{{.Names}}"]).stdout.split("\n").filter((n) => n.startsWith("par"));
    expect(ps.sort()).toEqual([...names].sort());
    // The same name from many processes at once: exactly one wins.
    const dup = await Promise.all(Array.from({ length: 8 }, () => r.spawn(["run", "-d", "--name", "samename", "busybox", "sleep", "300"]).exited));
    expect(dup.filter((c) => c === 0)).toHaveLength(1);
    expect(dup.filter((c) => c === 125)).toHaveLength(7);
    // stop half, rm -f the other half, concurrently
    const ops = names.map((n, i) => r.spawn(i % 2 ? ["stop", "-t", "0", n] : ["rm", "-f", n]).exited);
    expect(await Promise.all(ops)).toEqual(names.map(() => 0));
    const left = r.run(["ps", "-a", "--format", "{{.Names}} {{.State}}"]).stdout.split("\n").filter((l) => l.startsWith("par"));
    expect(left.sort()).toEqual(names.filter((_, i) => i % 2).map((n) => `${n} exited`).sort());
    const rms = await Promise.all([...names.filter((_, i) => i % 2), "samename"].map((n) => r.spawn(["rm", "-f", n]).exited));
    expect(rms.every((c) => c === 0)).toBe(true);
    expect(r.run(["ps", "-a", "--format", "{{.Names}}"]).stdout.split("\n").filter((n) => n.startsWith("par") || n === "samename")).toEqual([]);
    const dirs = readdirSync(join(r.dir, "containers"));
    expect(dirs.filter((d) => d.startsWith(".removing"))).toEqual([]);
  });

  it("kill -9 of minid mid-run: ps -a tells the truth, rm -f leaves no mount and no process", async () => {
    const p = r.spawn(["run", "--name", "orphan", "busybox", "sh", "-c", "echo started; sleep 300"]);
    const reader = p.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("started");
    p.kill("SIGKILL");
    await p.exited;
    expect(r.run(["ps", "-a", "--format", "{{.Names}} {{.State}}", "-f", "name=orphan"]).stdout).toBe("orphan running\n");
    const pid = state("orphan").State.Pid;
    const watcher = watcherPidOf("orphan");
    expect(alive(pid)).toBe(true);
    expect(r.run(["rm", "-f", "orphan"]).code).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(alive(watcher)).toBe(false);
    expect(r.leakedMounts()).toEqual([]);
  });

  it("kill -9 of the watcher: the container runs on; its death is still seen; rm -f cleans up", async () => {
    r.run(["run", "-d", "--name", "nowatch", "busybox", "sleep", "300"]);
    const pid = state("nowatch").State.Pid;
    process.kill(watcherPidOf("nowatch"), "SIGKILL");
    await Bun.sleep(100);
    expect(r.run(["ps", "--format", "{{.Names}} {{.State}}", "-f", "name=nowatch"]).stdout).toBe("nowatch running\n");
    process.kill(pid, "SIGKILL");
    await until(() => !alive(pid), 5000, "container death");
    expect(r.run(["ps", "-a", "--format", "{{.Names}} {{.State}}", "-f", "name=nowatch"]).stdout).toBe("nowatch exited\n");
    expect(r.run(["rm", "nowatch"]).code).toBe(0);
    // and stop of an unwatched live container records the exit itself
    r.run(["run", "-d", "--name", "nowatch2", "busybox", "sleep", "300"]);
    process.kill(watcherPidOf("nowatch2"), "SIGKILL");
    expect(r.run(["stop", "-t", "0", "nowatch2"]).code).toBe(0);
    expect(state("nowatch2").State.ExitCode).toBe(137);
    expect(r.run(["rm", "nowatch2"]).code).toBe(0);
  });

  it("a reused PID is never mistaken for the container, nor a PID from before a reboot", async () => {
    r.run(["run", "--name", "ghost", "busybox", "true"]);
    const file = stateFile("ghost");
    const sleeper = Bun.spawn(["sleep", "30"]);
    try {
      const st = JSON.parse(readFileSync(file, "utf8"));
      const stat = readFileSync(`/proc/${sleeper.pid}/stat`, "utf8");
      const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      // A live process with our pid but another start time: not ours.
      st.state = { ...st.state, status: "running", pid: sleeper.pid, pidStart: "1", exitCode: 0 };
      writeFileSync(file, JSON.stringify(st));
      expect(r.run(["ps", "-a", "--format", "{{.State}}", "-f", "name=ghost"]).stdout).toBe("exited\n");
      expect(r.run(["kill", "ghost"]).code).toBe(1);
      expect(alive(sleeper.pid)).toBe(true);
      // Same pid and start time, but recorded under another boot: not ours either.
      st.state = { ...st.state, pidStart: start, bootId: "00000000-0000-0000-0000-000000000000" };
      writeFileSync(file, JSON.stringify(st));
      // exited, with a code nobody saw: not shown as the container's (it used to say 255)
      expect(r.run(["ps", "-a", "--format", "{{.Status}}", "-f", "name=ghost"]).stdout).toMatch(/^Exited \(unknown\)/);
      expect(r.run(["rm", "ghost"]).code).toBe(0);
      expect(alive(sleeper.pid)).toBe(true);
    } finally {
      sleeper.kill();
    }
  });

  it("after a simulated reboot an exited container starts again from its layer", () => {
    expect(r.run(["run", "--name", "reboot", "busybox", "sh", "-c", "cat /mark 2>/dev/null; echo kept > /mark"]).stdout).toBe("");
    const file = stateFile("reboot");
    const st = JSON.parse(readFileSync(file, "utf8"));
    st.state = { ...st.state, status: "running", pid: 1, pidStart: "1", bootId: "00000000-0000-0000-0000-000000000000" };
    writeFileSync(file, JSON.stringify(st));
    expect(r.run(["ps", "-a", "--format", "{{.State}}", "-f", "name=reboot"]).stdout).toBe("exited\n");
    const again = r.run(["start", "-a", "reboot"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("kept\n");
    expect(r.run(["rm", "reboot"]).code).toBe(0);
  });
});
