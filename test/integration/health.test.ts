// Healthchecks run by the watcher through `minid exec`: State.Health, ps's (healthy) and
// -f health=, start period, timeout, the image's HEALTHCHECK and --no-healthcheck.
import { describe, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it, until, useLifecycleRoot } from "../helpers/lifecycle.ts";

const { r, state } = useLifecycleRoot("health");
const health = (n: string) => state(n).State.Health;
const status = (n: string) => r.run(["ps", "-a", "-f", `name=^${n}$`, "--format", "{{.Status}}"]).stdout.trim();
const named = (f: string) => r.run(["ps", "-f", f, "--format", "{{.Names}}"]).stdout.trim().split("\n").filter(Boolean).sort();

describe("healthchecks", () => {
  it("starting → unhealthy after Retries failures → healthy; the checks run inside; last five kept", async () => {
    r.run(["run", "-d", "--name", "hc", "--health-cmd", "echo check >> /tmp/checks; echo probing; test -e /tmp/ok", "--health-interval", "150ms", "--health-retries", "2", "--health-start-period", "1500ms", "busybox", "sleep", "1000"]);
    r.run(["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]);
    expect(status("hc")).toMatch(/^Up .* \(health: starting\)$/);
    expect(named("health=starting")).toEqual(["hc"]);
    await until(() => health("hc").Status === "unhealthy", 10_000, "unhealthy");
    expect(health("hc").FailingStreak).toBeGreaterThanOrEqual(2);
    expect(status("hc")).toMatch(/^Up .* \(unhealthy\)$/);
    expect(named("health=unhealthy")).toEqual(["hc"]);
    r.run(["exec", "hc", "touch", "/tmp/ok"]);
    await until(() => health("hc").Status === "healthy", 10_000, "healthy");
    const h = health("hc");
    expect(h.FailingStreak).toBe(0);
    expect(status("hc")).toMatch(/^Up .* \(healthy\)$/);
    expect(named("health=healthy")).toEqual(["hc"]);
    expect(named("health=none")).toEqual(["plain"]);
    await until(() => health("hc").Log.length === 5, 10_000, "five results");
    await Bun.sleep(400);
    const log = health("hc").Log;
    expect(log.length).toBe(5);
    const last = log.at(-1);
    expect(last.ExitCode).toBe(0);
    expect(last.Output).toBe("probing\n");
    expect(Date.parse(last.End)).toBeGreaterThanOrEqual(Date.parse(last.Start));
    // Every check ran in the container itself: it counted them in its own /tmp.
    const checks = r.run(["exec", "hc", "cat", "/tmp/checks"]).stdout.split("\n").filter(Boolean).length;
    expect(checks).toBeGreaterThanOrEqual(5);
    expect(state("hc").Config.Healthcheck).toEqual({ Test: ["CMD-SHELL", "echo check >> /tmp/checks; echo probing; test -e /tmp/ok"], Interval: 150e6, Retries: 2, StartPeriod: 1500e6 });
    expect(r.run(["ps", "-f", "health=bogus"]).code).toBe(1);
    r.run(["rm", "-f", "hc", "plain"]);
  });

  it("failures inside the start period do not count; a check past its timeout is killed and logged -1", async () => {
    r.run(["run", "-d", "--name", "sp", "--health-cmd", "false", "--health-interval", "100ms", "--health-retries", "1", "--health-start-period", "1h", "busybox", "sleep", "1000"]);
    r.run(["run", "-d", "--name", "to", "--health-cmd", "sleep 30", "--health-interval", "100ms", "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "1000"]);
    await until(() => health("sp").Log.length >= 3, 10_000, "three failed checks");
    expect(health("sp").Status).toBe("starting");
    expect(health("sp").FailingStreak).toBe(0);
    await until(() => health("to").Status === "unhealthy", 15_000, "timed out check");
    const e = health("to").Log[0];
    expect(e.ExitCode).toBe(-1);
    expect(e.Output).toBe("Health check exceeded timeout (300ms)");
    r.run(["rm", "-f", "sp", "to"]);
  });

  it("the image's HEALTHCHECK is used, overridden field by field, or turned off with --no-healthcheck", async () => {
    const ctx = mkdtempSync(join(tmpdir(), "minid-hc-"));
    try {
      writeFileSync(join(ctx, "Dockerfile"), 'FROM busybox\nHEALTHCHECK --interval=100ms --retries=1 CMD ["sh", "-c", "echo from-image"]\n');
      expect(r.run(["build", "-q", "-t", "hcimg:1", ctx]).code).toBe(0);
      r.run(["run", "-d", "--name", "img", "hcimg:1", "sleep", "1000"]);
      r.run(["run", "-d", "--name", "over", "--health-cmd", "exit 1", "hcimg:1", "sleep", "1000"]);
      r.run(["run", "-d", "--name", "off", "--no-healthcheck", "hcimg:1", "sleep", "1000"]);
      await until(() => health("img")?.Status === "healthy" && health("over")?.Status === "unhealthy", 10_000, "both checked");
      expect(health("img").Log[0].Output).toBe("from-image\n");
      expect(state("over").Config.Healthcheck).toEqual({ Test: ["CMD-SHELL", "exit 1"], Interval: 100e6, Retries: 1 });
      expect(state("off").State.Health).toBeUndefined();
      expect(status("off")).toMatch(/^Up [^(]*$/);
    } finally {
      r.run(["rm", "-f", "img", "over", "off"]);
      r.run(["rmi", "hcimg:1"]);
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it("each run of a restarting container starts over as (health: starting), keeping the old results", async () => {
    // A check a second: each run has a second of (health: starting) to be seen in.
    r.run(["run", "-d", "--name", "rs", "--restart", "always", "--health-cmd", "true", "--health-interval", "1s", "busybox", "sh", "-c", "sleep 3; exit 1"]);
    await until(() => health("rs")?.Status === "healthy", 10_000, "healthy in the first run");
    const before = health("rs").Log.length;
    await until(() => {
      const s = state("rs");
      return s.RestartCount >= 1 && s.State.Status === "running" && s.State.Health.Status === "starting";
    }, 10_000, "the second run starting over");
    expect(health("rs").FailingStreak).toBe(0);
    await until(() => health("rs").Status === "healthy" && state("rs").RestartCount >= 1, 10_000, "healthy again");
    expect(health("rs").Log.length).toBeGreaterThanOrEqual(Math.min(5, before + 1));
    r.run(["rm", "-f", "rs"]);
  });

  it("a stopped container is no longer checked; bad flags: one line, 125", async () => {
    r.run(["run", "-d", "--name", "st", "--health-cmd", "true", "--health-interval", "100ms", "busybox", "sleep", "1000"]);
    await until(() => health("st").Status === "healthy", 10_000, "healthy");
    r.run(["stop", "-t", "0", "st"]);
    const n = health("st").Log.length;
    expect(health("st").Status).toBe("unhealthy");
    await Bun.sleep(400);
    expect(health("st").Log.length).toBe(n);
    r.run(["rm", "-f", "st"]);
    for (const [flags, msg] of [
      [["--no-healthcheck", "--health-cmd", "true"], "--no-healthcheck conflicts with --health-* options"],
      [["--health-interval", "30"], 'time: missing unit in duration "30"'],
      [["--health-retries", "-1"], "--health-retries cannot be negative"],
      [["--health-timeout", "-1s"], "--health-timeout cannot be negative"],
    ] as const) {
      const res = r.run(["run", "--rm", ...flags, "busybox", "true"]);
      expect(res.code).toBe(125);
      expect(res.stderr).toContain(msg);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    }
  });
});
