// exec into a running container: what it sees, its flags, exit codes and errors.
import { describe, expect, beforeAll } from "bun:test";
import { isRoot } from "../helpers/minid.ts";
import { it, until, useLifecycleRoot } from "../helpers/lifecycle.ts";

const { r, idOf } = useLifecycleRoot("exec");

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
    // The primary gid is also a supplementary group, as Docker sets it.
    expect(r.run(["exec", "-u", "1234:55", "ex", "id"]).stdout).toBe("uid=1234 gid=55 groups=55\n");
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
    // -d returns while the command still runs: it waits for a file only this test makes.
    expect(r.run(["exec", "-d", "ex", "sh", "-c", "while [ ! -e /go ]; do sleep 0.05; done; echo done > /bg.txt"]).code).toBe(0);
    expect(r.run(["exec", "ex", "cat", "/bg.txt"]).code).not.toBe(0);
    expect(r.run(["exec", "ex", "touch", "/go"]).code).toBe(0);
    await until(() => r.run(["exec", "ex", "cat", "/bg.txt"]).stdout === "done\n", 10_000, "background exec");
  });

  it("errors: not running, no such container, -it without a terminal, no command", () => {
    r.run(["run", "--name", "exdone", "busybox", "true"]);
    const stopped = r.run(["exec", "exdone", "true"]);
    expect(stopped.code).toBe(1); // as the Docker CLI: exec's daemon errors exit 1
    expect(stopped.stderr).toContain("is not running");
    expect(r.run(["exec", "nosuch", "true"]).stderr).toContain("No such container: nosuch");
    const t = r.run(["exec", "-it", "ex", "true"]);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("not a TTY");
    expect(r.run(["exec", "ex"]).code).toBe(1); // cobra's argument count errors exit 1 in Docker's CLI
  });
});
