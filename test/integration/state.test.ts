// State you can trust: parallel runs, kill -9 of minid and of the watcher, reused PIDs, reboots.
import { describe, expect } from "bun:test";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it, until, alive, useLifecycleRoot } from "../helpers/lifecycle.ts";

const { r, state, stateFile, watcherPidOf } = useLifecycleRoot("state");

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
