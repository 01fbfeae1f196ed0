// stop, kill, restart, start and wait of containers, from the compiled binary.
import { describe, expect } from "bun:test";
import { join } from "node:path";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { it, until, alive, useLifecycleRoot } from "../helpers/lifecycle.ts";
import { requires } from "../helpers/requires.ts";
import { BIN } from "../helpers/minid.ts";

const { r, state } = useLifecycleRoot("stop-kill-start");

describe("stop, kill, restart, start, wait", () => {
  /** minid `args` with every connect(2) of it held back `ms` (the CLI's to the attach socket among them). */
  const slowConnect = (ms: number, args: string[]) =>
    ["strace", "-f", "--seccomp-bpf", "-e", "trace=connect", "-e", `inject=connect:delay_enter=${ms * 1000}`, "-o", "/dev/null", BIN, "--root", r.dir, ...args];

  /** `start -a` of a new `echo hello` container (with `flags`) whose CLI attaches 0.7 s late: the output still reaches it. */
  const echoReachesSlowAttach = (name: string, flags: string[]) => {
    expect(r.run(["create", "--name", name, ...flags, "--network", "none", "busybox", "echo", "hello"]).code).toBe(0);
    const p = Bun.spawnSync(slowConnect(700, ["start", "-a", name]), { timeout: 30_000 });
    expect(p.stderr.toString()).toBe("");
    expect(p.stdout.toString()).toBe("hello\n");
    expect(p.exitCode).toBe(0);
    expect(r.run(["logs", name]).stdout).toBe("hello\n");
    r.run(["rm", name]);
  };

  requires("root", "strace")("start -a with a slow attach: a command that ends at once still reaches the attached CLI (init waits for the watcher's go)", () => {
    // Init gets its spec at once and builds the container meanwhile; it runs the command only
    // once the watcher has met the attaching CLI. An init that did not wait would have run
    // echo before the CLI attached, and its output would reach the log but not the CLI.
    echoReachesSlowAttach("slowattach", []);
  });

  requires("root", "strace", "runc")("start -a with a slow attach, --runtime runc: runc is started only on the watcher's go", () => {
    echoReachesSlowAttach("slowrunc", ["--runtime", "runc"]);
  });

  requires("root", "strace")("the watcher killed before its go: init never runs the command, and the container can start again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-nogo-"));
    try {
      expect(r.run(["create", "--name", "nogo", "--network", "none", "-v", `${dir}:/s`, "busybox", "touch", "/s/ran"]).code).toBe(0);
      const p = Bun.spawn(slowConnect(3000, ["start", "-a", "nogo"]), { stdout: "pipe", stderr: "pipe" });
      // The CLI (strace's child) has started the watcher (its child), which has handed init
      // its spec and now waits for the CLI to attach.
      const kids = (pid: number) => Bun.spawnSync(["pgrep", "-P", String(pid)]).stdout.toString().trim().split("\n").filter(Boolean).map(Number);
      let watcher = 0;
      const read = (f: string) => {
        try {
          return readFileSync(f, "utf8");
        } catch {
          return ""; // gone meanwhile
        }
      };
      await until(() => {
        for (const cli of kids(p.pid)) for (const k of kids(cli)) if (read(`/proc/${k}/cmdline`).includes("_watcher") && kids(k).length) watcher = k;
        return watcher > 0;
      }, 10_000, "the watcher and its init");
      const init = kids(watcher)[0]!;
      // init has built the container and waits for the go: blocked in read(2) on fd 4
      await until(() => /^0 0x4 /.test(read(`/proc/${init}/syscall`)), 10_000, "init waiting for its go");
      process.kill(watcher, "SIGKILL");
      await until(() => !alive(init), 5000, "init gone with its watcher");
      await p.exited;
      expect(existsSync(join(dir, "ran"))).toBe(false);
      expect(state("nogo").State.Running).toBe(false);
      // nothing of that start is left in the way: the next one runs the command
      expect(r.run(["start", "-a", "nogo"]).code).toBe(0);
      expect(existsSync(join(dir, "ran"))).toBe(true);
      r.run(["rm", "nogo"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

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

  it("stop: a container that handles SIGTERM stops at once with its own status", async () => {
    r.run(["run", "-d", "--name", "polite", "busybox", "sh", "-c", "trap 'exit 143' TERM; echo trapped; while :; do sleep 0.1; done"]);
    // The TERM must find the trap set (a shell as PID 1 ignores it otherwise).
    await until(() => r.run(["logs", "polite"]).stdout.includes("trapped"), 5000, "trap set");
    const t0 = performance.now();
    expect(r.run(["stop", "polite"]).code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(state("polite").State.ExitCode).toBe(143);
    // Stopping a stopped container is fine.
    expect(r.run(["stop", "polite"]).code).toBe(0);
  });

  it("stop --stop-signal at run time", async () => {
    r.run(["run", "-d", "--name", "usr1", "--stop-signal", "USR1", "busybox", "sh", "-c", "trap 'exit 10' USR1; echo trapped; while :; do sleep 0.1; done"]);
    // As PID 1 the shell ignores a USR1 that comes before its trap: wait for the trap.
    await until(() => r.run(["logs", "usr1"]).stdout.includes("trapped"), 5000, "trap set");
    expect(state("usr1").Config.StopSignal).toBe("USR1"); // as typed, as Docker keeps it
    expect(r.run(["stop", "usr1"]).code).toBe(0);
    expect(state("usr1").State.ExitCode).toBe(10);
  });

  it("kill -s delivers a signal; kill defaults to SIGKILL; killing a stopped container is an error", async () => {
    r.run(["run", "-d", "--name", "k", "busybox", "sh", "-c", "trap 'echo got-hup' HUP; echo trapped; while :; do sleep 0.1; done"]);
    // run -d returns once the shell runs, not once it has set its trap: a HUP before that ends it.
    await until(() => r.run(["logs", "k"]).stdout.includes("trapped"), 5000, "trap set");
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
  it("a start right after an exit waits for the last run's watcher to finish (it drops the cgroup after recording the exit)", async () => {
    r.run(["run", "--name", "quick", "busybox", "true"]);
    const id = state("quick").Id as string;
    // Stand in for a watcher that has recorded the exit and still cleans up: it holds
    // watcher.lock as a real one does, and takes the cgroup with it when it goes.
    const holder = Bun.spawn(
      ["flock", join(r.dir, "containers", id, "watcher.lock"), "sh", "-c", `echo held; sleep 0.5; rmdir /sys/fs/cgroup/*/minid/${id} /sys/fs/cgroup/minid/${id} 2>/dev/null; true`],
      { stdout: "pipe", stderr: "ignore" },
    );
    const reader = holder.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("held\n");
    const t0 = performance.now();
    const res = r.run(["start", "quick"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(performance.now() - t0).toBeGreaterThan(400);
    await holder.exited;
    expect(r.run(["wait", "quick"]).stdout).toBe("0\n");
    expect(state("quick").State.Error).toBe("");
  });
});
