// Restart policies, healthchecks and --init side by side with a real Docker daemon (Debian's
// docker.io, private to this file): the same commands, the same states, statuses and errors.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { TestRoot, ensureBuilt, BIN } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { startDockerd, DOCKERD, type Dockerd } from "../helpers/dockerd.ts";

const it = requires("root", DOCKERD);
let d: Dockerd;
let r: TestRoot;

beforeAll(async () => {
  if (!requiresMet()) return;
  ensureBuilt();
  r = new TestRoot("svcdock");
  d = await startDockerd();
  await d.loadMinidImage(BIN, r.dir);
}, 120_000);

afterAll(async () => {
  await d?.stop();
  r?.cleanup();
});

function requiresMet(): boolean {
  return process.getuid?.() === 0 && require("node:fs").existsSync(DOCKERD);
}

type Res = { code: number; stdout: string; stderr: string };
const both = async (args: string[]): Promise<[Res, Res]> => [r.run(args), await d.docker(args)];

async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/** The message itself: without the CLI's prefix, the daemon's, the help hint and a final period. */
const core = (s: string) =>
  s.trim().split("\n")[0]!.replace(/^(minid|docker): /, "").replace(/^Error response from daemon: /, "").replace(/\.$/, "");

describe("restart policies and healthchecks, minid beside Docker", () => {
  it("bad --restart and --health-* values: the same message and exit code", async () => {
    for (const flags of [
      ["--rm", "--restart", "always"],
      ["--restart", "sometimes"],
      ["--restart", "always:3"],
      ["--restart", "on-failure:x"],
      ["--restart", "on-failure:-1"],
      ["--no-healthcheck", "--health-cmd", "true"],
      ["--health-interval", "30"],
      ["--health-retries", "-1"],
    ]) {
      const [a, b] = await both(["run", ...flags, "busybox", "true"]);
      expect([flags, a.code]).toEqual([flags, b.code]);
      expect(core(a.stderr).replace(/ \(use no, always, on-failure\[:N\] or unless-stopped\)$/, "")).toBe(core(b.stderr));
    }
  }, 60_000);

  it("run flags: the same errors, exit codes and HostConfig fields", async () => {
    for (const flags of [
      ["--ulimit", "bogus=1"],
      ["-a", "stdfoo"],
      ["--oom-score-adj", "2000"],
      ["--uts", "host", "--hostname", "xy"],
      ["--pid", "container:nosuch"],
      ["--device", "/dev/nonexistent-minid"],
      ["-d", "-a", "stdout"],
    ]) {
      const [a, b] = await both(["run", "--rm", ...flags, "busybox", "true"]);
      expect([flags, a.code]).toEqual([flags, b.code]);
      expect(core(a.stderr)).toBe(core(b.stderr));
    }
    const [na, nb] = await both(["run", "--rm", "--pull", "never", "minid-nosuch:1", "true"]);
    expect([na.code, core(na.stderr)]).toEqual([nb.code, core(nb.stderr)]);
    await both(["run", "-d", "--name", "priv", "busybox", "sleep", "100"]);
    const [ja, jb] = await both(["run", "--rm", "--ipc", "container:priv", "busybox", "true"]);
    expect(ja.code).toBe(jb.code);
    // The donor's id differs between engines: compare the message around it.
    const noId = (x: string) => core(x).replace(/[0-9a-f]{64}/, "ID");
    expect(noId(ja.stderr)).toBe(noId(jb.stderr));
    const f = "{{.HostConfig.IpcMode}}|{{.HostConfig.PidMode}}|{{.HostConfig.UTSMode}}|{{.HostConfig.ShmSize}}|{{json .HostConfig.Ulimits}}|{{json .HostConfig.Devices}}|{{.HostConfig.OomScoreAdj}}|{{json .HostConfig.Sysctls}}|{{json .HostConfig.Init}}|{{json .HostConfig.RestartPolicy}}|{{json .Config.Labels}}";
    const [ia, ib] = await both(["inspect", "-f", f, "priv"]);
    expect(ia.stdout).toBe(ib.stdout);
    await both(["run", "-d", "--name", "opts", "--ipc", "shareable", "--shm-size", "8m", "--ulimit", "nofile=100:200", "--oom-score-adj", "300", "--sysctl", "kernel.shmmax=1234567", "--init", "-l", "a=b", "busybox", "sleep", "100"]);
    const [oa, ob] = await both(["inspect", "-f", f, "opts"]);
    expect(oa.stdout).toBe(ob.stdout);
    // The command's limits (PID 1 is the --init reaper, the command its child). Not exec's own:
    // Docker's exec'd process gets soft = hard nofile (Go's runtime in runc raises the soft limit).
    const inside = ["exec", "opts", "sh", "-c", "df -k /dev/shm | tail -1; grep 'open files' /proc/$(pgrep -x sleep | head -1)/limits; cat /proc/sys/kernel/shmmax"];
    const [xa, xb] = await both(inside);
    expect(xa.stdout).toBe(xb.stdout);
    await both(["run", "--name", "nolog", "--log-driver", "none", "busybox", "true"]);
    const [la, lb] = await both(["logs", "nolog"]);
    expect([la.code, core(la.stderr)]).toEqual([lb.code, core(lb.stderr)]);
    await both(["rm", "-f", "priv", "opts", "nolog"]);
  }, 60_000);

  it("a restart loop: ps shows Restarting (N), rm refuses it, stop ends it with the last exit code", async () => {
    const run = ["run", "-d", "--name", "loop", "--restart", "always", "busybox", "sh", "-c", "exit 3"];
    await both(run);
    const restarting = async (which: "minid" | "docker") => {
      const args = ["ps", "-a", "-f", "name=loop", "--format", "{{.Status}}|{{.State}}"];
      const out = which === "minid" ? r.run(args).stdout : (await d.docker(args)).stdout;
      return /^Restarting \(3\) .+ ago\|restarting$/.test(out.trim());
    };
    await until(() => restarting("minid"), 10_000, "minid restarting");
    await until(() => restarting("docker"), 10_000, "docker restarting");
    // rm refuses it in both (restarting or, caught between runs, running); minid words it as
    // Docker 25 does ("cannot remove container "/loop": container is restarting: …").
    const [ra, rb] = await both(["rm", "loop"]);
    expect([ra.code, rb.code]).toEqual([1, 1]);
    expect(ra.stderr).toMatch(/container is (restarting|running)/);
    expect(rb.stderr).toMatch(/You cannot remove a (restarting|running) container/);
    const [sa, sb] = await both(["stop", "loop"]);
    expect([sa.code, sa.stdout]).toEqual([sb.code, sb.stdout]);
    const f = ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Restarting}} {{json .HostConfig.RestartPolicy}}", "loop"];
    const [ia, ib] = await both(f);
    expect(ia.stdout).toBe(ib.stdout);
    const [ca, cb] = await both(["inspect", "-f", "{{.RestartCount}}", "loop"]);
    expect(Number(ca.stdout)).toBeGreaterThan(0);
    expect(Number(cb.stdout)).toBeGreaterThan(0);
    await both(["rm", "-f", "loop"]);
  }, 60_000);

  it("on-failure:2 gives up after two restarts in both", async () => {
    await both(["run", "-d", "--name", "tries", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 5"]);
    const f = ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "tries"];
    await until(() => r.run(f).stdout === "exited 5 2\n", 20_000, "minid gave up");
    await until(async () => (await d.docker(f)).stdout === "exited 5 2\n", 20_000, "docker gave up");
    await both(["rm", "-f", "tries"]);
  }, 60_000);

  it("healthcheck: (health: starting) then (healthy); the same State.Health and Config.Healthcheck shapes", async () => {
    await both(["run", "-d", "--name", "hc", "--health-cmd", "echo ok", "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "100"]);
    const ps = ["ps", "-f", "name=hc", "--format", "{{.Status}}"];
    const healthy = async (which: "minid" | "docker") =>
      /^Up .+ \(healthy\)$/.test((which === "minid" ? r.run(ps).stdout : (await d.docker(ps)).stdout).trim());
    await until(() => healthy("minid"), 10_000, "minid healthy");
    await until(() => healthy("docker"), 10_000, "docker healthy");
    const [a, b] = await both(["inspect", "-f", "{{json .State.Health}}|{{json .Config.Healthcheck}}", "hc"]);
    const [ha, ca] = a.stdout.trim().split("|");
    const [hb, cb] = b.stdout.trim().split("|");
    expect(ca).toBe(cb!);
    const shape = (h: any) => ({ keys: Object.keys(h).sort(), status: h.Status, streak: h.FailingStreak, log: Object.keys(h.Log[0]).sort(), out: h.Log.at(-1).Output, code: h.Log.at(-1).ExitCode });
    expect(shape(JSON.parse(ha!))).toEqual(shape(JSON.parse(hb!)));
    const [fa, fb] = await both(["ps", "-a", "-f", "health=healthy", "--format", "{{.Names}}"]);
    expect(fa.stdout).toBe(fb.stdout);
    const [sa, sb] = await both(["stop", "-t", "0", "hc"]);
    expect(sa.code).toBe(sb.code);
    const [xa, xb] = await both(["inspect", "-f", "{{.State.Health.Status}}", "hc"]);
    expect(xa.stdout).toBe(xb.stdout);
    await both(["rm", "-f", "hc"]);
  }, 60_000);

  it("--init: the command gets stop's SIGTERM (143) and orphans are reaped, as under docker-init", async () => {
    await both(["run", "-d", "--name", "ini", "--init", "busybox", "sh", "-c", "(sleep 0.2 &); exec sleep 100"]);
    await Bun.sleep(800);
    const [pa, pb] = await both(["exec", "ini", "ps", "-o", "stat,comm"]);
    const zombies = (s: string) => s.split("\n").filter((l) => l.startsWith("Z")).length;
    expect(zombies(pa.stdout)).toBe(zombies(pb.stdout));
    expect(zombies(pa.stdout)).toBe(0);
    const [sa, sb] = await both(["stop", "-t", "30", "ini"]);
    expect(sa.code).toBe(sb.code);
    const [ea, eb] = await both(["inspect", "-f", "{{.State.ExitCode}} {{.HostConfig.Init}}", "ini"]);
    expect(ea.stdout).toBe(eb.stdout);
    expect(ea.stdout).toBe("143 true\n");
    await both(["rm", "-f", "ini"]);
  }, 60_000);
});
