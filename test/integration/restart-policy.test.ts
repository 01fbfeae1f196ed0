// Restart policies, run by the watcher (Docker's rules and back-off), stop ending them, a
// watcher killed in the middle of a restart loop, and `system restore` after a crash.
import { describe, expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { it, until, alive, useLifecycleRoot } from "../helpers/lifecycle.ts";
import { requires } from "../helpers/requires.ts";

const { r, state, stateFile, watcherPidOf } = useLifecycleRoot("restart");

/** A host directory bound into the container, where each run leaves a line. */
function scratch(): string {
  return mkdtempSync(join(tmpdir(), "minid-restart-"));
}

describe("restart policies", () => {
  it("on-failure:2 runs the command three times on the same writable layer, then stays exited", async () => {
    r.run(["run", "-d", "--name", "of2", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo x >> /runs; wc -l < /runs; exit 3"]);
    await until(() => state("of2").State.Status === "exited" && state("of2").RestartCount === 2, 20_000, "retries used up");
    // The container's own file counted its runs: the layer survives a restart.
    expect(r.run(["logs", "of2"]).stdout.split("\n").filter(Boolean)).toEqual(["1", "2", "3"]);
    const s = state("of2");
    expect(s.State.ExitCode).toBe(3);
    expect(s.HostConfig.RestartPolicy).toEqual({ Name: "on-failure", MaximumRetryCount: 2 });
    expect(r.run(["ps", "-a", "-f", "name=of2", "--format", "{{.Status}}"]).stdout).toMatch(/^Exited \(3\) /);
    // The journal, as Docker's: each policy restart is a die, then a start.
    const ev = r.run(["events", "--since", "0", "--until", String(Date.now() / 1000 + 1), "-f", "container=of2", "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}"]);
    expect(ev.stdout.trim().split("\n").filter((l) => /^(start|die)/.test(l))).toEqual(["start <no value>", "die 3", "start <no value>", "die 3", "start <no value>", "die 3"]);
    r.run(["rm", "-f", "of2"]);
  });

  it("on-failure does not restart an exit 0; no (the default) never restarts", async () => {
    r.run(["run", "-d", "--name", "of0", "--restart", "on-failure", "busybox", "true"]);
    r.run(["run", "-d", "--name", "nopol", "busybox", "false"]);
    expect(r.run(["wait", "of0", "nopol"]).stdout).toBe("0\n1\n");
    await Bun.sleep(400); // a restart would come after 100 ms
    expect(state("of0").RestartCount).toBe(0);
    expect(state("nopol").RestartCount).toBe(0);
    expect(state("nopol").HostConfig.RestartPolicy.Name).toBe("no");
    r.run(["rm", "-f", "of0", "nopol"]);
  });

  it("always: back-off doubles from 100 ms; ps shows Restarting (N); stop ends it for good", async () => {
    const dir = scratch();
    try {
      r.run(["run", "-d", "--name", "alw", "--restart", "always", "-v", `${dir}:/s`, "busybox", "sh", "-c", "cut -d' ' -f1 /proc/uptime >> /s/starts; exit 1"]);
      await until(() => r.run(["ps", "--format", "{{.Names}} {{.Status}}"]).stdout.includes("alw Restarting (1) "), 10_000, "Restarting shown by ps");
      await until(() => readFileSync(join(dir, "starts"), "utf8").trim().split("\n").length >= 5, 20_000, "five starts");
      const t = readFileSync(join(dir, "starts"), "utf8").trim().split("\n").map(Number);
      const gaps = t.slice(1).map((x, i) => (x - t[i]!) * 1000);
      // Lower bounds only (a loaded host makes gaps longer, never shorter): 100, 200, 400, 800 ms.
      [100, 200, 400, 800].forEach((min, i) => expect(gaps[i]!).toBeGreaterThanOrEqual(min - 10));
      expect(state("alw").State.Restarting || state("alw").State.Status === "running").toBe(true);
      const watcher = watcherPidOf("alw");
      expect(r.run(["stop", "alw"]).code).toBe(0);
      const s = state("alw");
      expect(s.State.Status).toBe("exited");
      expect(s.State.Restarting).toBe(false);
      await until(() => !alive(watcher), 5000, "watcher gone after stop");
      const n = readFileSync(join(dir, "starts"), "utf8").trim().split("\n").length;
      await Bun.sleep(2000); // the next back-off step was at most 1.6 s
      expect(readFileSync(join(dir, "starts"), "utf8").trim().split("\n").length).toBe(n);
      // start resets the count (and the manual stop), as Docker's.
      r.run(["start", "alw"]);
      await until(() => state("alw").RestartCount >= 1, 10_000, "restarting again");
      r.run(["stop", "alw"]);
    } finally {
      r.run(["rm", "-f", "alw"]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a running container with a policy: stop and kill are final", async () => {
    r.run(["run", "-d", "--name", "svc", "--restart", "always", "busybox", "sleep", "1000"]);
    expect(r.run(["stop", "-t", "0", "svc"]).code).toBe(0);
    await Bun.sleep(300);
    expect(state("svc").State.Status).toBe("exited");
    r.run(["start", "svc"]);
    expect(r.run(["kill", "svc"]).code).toBe(0);
    await Bun.sleep(300);
    expect(state("svc").State.Status).toBe("exited");
    expect(state("svc").RestartCount).toBe(0);
    r.run(["rm", "-f", "svc"]);
  });

  it("watcher killed (-9) while waiting to restart: ps -a and inspect tell the truth, rm -f cleans", async () => {
    r.run(["run", "-d", "--name", "orph", "--restart", "always", "busybox", "sh", "-c", "exit 4"]);
    await until(() => state("orph").RestartCount >= 4 && state("orph").State.Status === "restarting", 20_000, "restarting with a long back-off");
    const w = JSON.parse(readFileSync(stateFile("orph"), "utf8")).state.watcherPid as number;
    process.kill(w, "SIGKILL");
    await until(() => !alive(w), 5000, "watcher dead");
    expect(r.run(["ps", "-a", "-f", "name=orph", "--format", "{{.Status}}"]).stdout).toMatch(/^Exited \(4\) /);
    expect(state("orph").State.Error).toContain("watcher was lost");
    // Without a watcher nothing restarts it.
    await Bun.sleep(1000);
    expect(state("orph").State.Status).toBe("exited");
    expect(r.run(["rm", "-f", "orph"]).code).toBe(0);
  });

  it("rm without -f refuses a restarting container (exit 1)", async () => {
    r.run(["run", "-d", "--name", "rr", "--restart", "always", "busybox", "sh", "-c", "exit 1"]);
    await until(() => state("rr").State.Status === "restarting", 10_000, "restarting");
    const res = r.run(["rm", "rr"]);
    if (state("rr").State.Status === "restarting") {
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('cannot remove container "/rr": container is restarting');
    }
    expect(r.run(["rm", "-f", "rr"]).code).toBe(0);
  });

  it("bad input: one line, exit 125, nothing created", () => {
    const before = r.run(["ps", "-aq"]).stdout;
    for (const [flags, msg] of [
      [["--rm", "--restart", "always"], "Conflicting options: --restart and --rm"],
      [["--restart", "sometimes"], "invalid restart policy 'sometimes'"],
      [["--restart", "always:3"], "maximum retry count cannot be used with restart policy 'always'"],
      [["--restart", "on-failure:x"], "maximum retry count must be an integer"],
      [["--restart", "on-failure:-1"], "cannot be negative"],
    ] as const) {
      const res = r.run(["run", ...flags, "busybox", "true"]);
      expect(res.code).toBe(125);
      expect(res.stderr).toContain(msg);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(r.run(["ps", "-aq"]).stdout).toBe(before);
  });

  it("system restore after a crash (watcher and container killed): starts what the policy asks for", async () => {
    for (const [n, p] of [["ra", "always"], ["ru", "unless-stopped"], ["rf", "on-failure"], ["rn", "no"]]) {
      r.run(["run", "-d", "--name", n!, "--restart", p!, "busybox", "sleep", "1000"]);
    }
    r.run(["run", "-d", "--name", "rus", "--restart", "unless-stopped", "busybox", "sleep", "1000"]);
    r.run(["run", "-d", "--name", "ras", "--restart", "always", "busybox", "sleep", "1000"]);
    r.run(["stop", "-t", "0", "rus", "ras"]);
    // The crash: every watcher first, then every container process (as a reboot would).
    for (const n of ["ra", "ru", "rf", "rn"]) {
      const st = JSON.parse(readFileSync(stateFile(n), "utf8")).state;
      process.kill(st.watcherPid, "SIGKILL");
      process.kill(st.pid, "SIGKILL");
    }
    await until(() => ["ra", "ru", "rf", "rn"].every((n) => state(n).State.Status === "exited"), 5000, "all exited");
    const res = r.run(["system", "restore"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    // Docker's rules after its daemon comes back: a manual stop is remembered by unless-stopped only.
    expect(res.stdout.split("\n").filter(Boolean).sort()).toEqual(["ra", "ras", "rf", "ru"]);
    for (const n of ["ra", "ras", "rf", "ru"]) expect(state(n).State.Running).toBe(true);
    for (const n of ["rn", "rus"]) expect(state(n).State.Running).toBe(false);
    // The restored containers run for real: a command inside answers.
    expect(r.run(["exec", "ra", "cat", "/proc/1/cmdline"]).stdout).toBe("sleep\u00001000\u0000");
    // Nothing more to do the second time.
    expect(r.run(["system", "restore"]).stdout).toBe("");
    r.run(["rm", "-f", "ra", "ras", "rf", "ru", "rn", "rus"]);
  });

  requires("root", "systemd-analyze")("system service-unit prints a unit systemd accepts, running restore for this root", () => {
    const res = r.run(["system", "service-unit"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`--root ${r.dir} system restore`);
    const dir = scratch();
    try {
      const unit = join(dir, "minid-restore.service");
      require("node:fs").writeFileSync(unit, res.stdout);
      const v = Bun.spawnSync(["systemd-analyze", "verify", unit]);
      expect(v.stderr.toString()).toBe("");
      expect(v.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
