// Detached runs and their watcher, logs, --rm with -d, from the compiled binary.
import { describe, expect } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { minidCommand } from "../helpers/minid.ts";
import { it, until, alive, useLifecycleRoot } from "../helpers/lifecycle.ts";

const { r, state, watcherPidOf } = useLifecycleRoot("detach");

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
