// --init: minid's init stays as PID 1, forwards signals to the command and reaps orphans.
import { describe, expect } from "bun:test";
import { it, until, useLifecycleRoot } from "../helpers/lifecycle.ts";

const { r, state } = useLifecycleRoot("init");

/** The process table seen from inside, as "STAT COMMAND" lines. */
const psInside = (name: string) => r.run(["exec", name, "ps", "-o", "stat,args"]).stdout;

describe("--init", () => {
  it("PID 1 is the reaper, the command its child; off by default", () => {
    const res = r.run(["run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/comm; echo $$ $PPID; cat /proc/1/status; echo ---; cat /proc/self/status"]);
    expect(res.code).toBe(0);
    const [head, selfStatus] = res.stdout.split("---\n");
    const [comm, ids, ...reaperStatus] = head!.trim().split("\n");
    expect(comm).toBe("minid-init");
    const [pid, ppid] = ids!.split(" ").map(Number);
    expect(pid).toBeGreaterThan(1);
    expect(ppid).toBe(1);
    // The reaper is as confined as the command: same capabilities, seccomp, no_new_privs, user.
    const conf = (lines: string[]) => lines.filter((l) => /^(NoNewPrivs|Seccomp|CapEff|CapBnd|CapPrm|Uid|Gid):/.test(l)).join("\n");
    expect(conf(reaperStatus)).toMatch(/Seccomp:\s+2/);
    expect(conf(reaperStatus)).toBe(conf(selfStatus!.split("\n")));
    expect(r.run(["run", "--rm", "busybox", "sh", "-c", "echo $$"]).stdout).toBe("1\n");
  });

  it("orphans are reaped (without --init they stay zombies under a PID 1 that never waits)", async () => {
    const cmd = ["sh", "-c", "(sleep 0.2 &); exec sleep 1000"];
    r.run(["run", "-d", "--name", "noinit", "busybox", ...cmd]);
    r.run(["run", "-d", "--name", "withinit", "--init", "busybox", ...cmd]);
    await until(() => /^Z/m.test(psInside("noinit")), 10_000, "a zombie without --init");
    // The orphan has exited once its command line is gone; only then does "no zombie" mean reaped.
    await until(() => !psInside("withinit").includes("sleep 0.2"), 10_000, "the orphan's exit");
    const withInit = psInside("withinit");
    expect(withInit).toContain("sleep 1000");
    expect(withInit).not.toMatch(/^Z/m);
    expect(state("withinit").HostConfig.Init).toBe(true);
    expect(state("noinit").HostConfig.Init).toBeUndefined(); // omitempty, as Docker's JSON
    r.run(["rm", "-f", "noinit", "withinit"]);
  });

  it("stop's SIGTERM reaches the command (143), which as PID 1 would ignore it and be killed (137)", () => {
    r.run(["run", "-d", "--name", "t1", "--init", "busybox", "sleep", "1000"]);
    r.run(["run", "-d", "--name", "t2", "busybox", "sleep", "1000"]);
    expect(r.run(["stop", "-t", "30", "t1"]).code).toBe(0);
    expect(state("t1").State.ExitCode).toBe(143);
    expect(r.run(["stop", "-t", "1", "t2"]).code).toBe(0);
    expect(state("t2").State.ExitCode).toBe(137);
    r.run(["rm", "-f", "t1", "t2"]);
  });

  it("kill -s forwards; the command's exit status passes through (code or 128+signal)", async () => {
    r.run(["run", "-d", "--name", "k", "--init", "busybox", "sh", "-c", "trap 'echo got-usr1; exit 9' USR1; echo ready; while :; do sleep 0.1; done"]);
    await until(() => r.run(["logs", "k"]).stdout.includes("ready"), 5000, "trap set");
    expect(r.run(["kill", "-s", "USR1", "k"]).code).toBe(0);
    expect(r.run(["wait", "k"]).stdout).toBe("9\n");
    expect(r.run(["logs", "k"]).stdout).toContain("got-usr1");
    expect(r.run(["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"]).code).toBe(7);
    expect(r.run(["run", "--rm", "--init", "busybox", "sh", "-c", "kill -9 $$"]).code).toBe(137);
    expect(r.run(["run", "--rm", "--init", "busybox", "nosuchcmd"]).code).toBe(127);
    r.run(["rm", "-f", "k"]);
  });
});
