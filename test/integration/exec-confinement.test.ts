// An `exec`'d process is confined like the container's own: the same seccomp filter,
// no_new_privs, capabilities and cgroup (so the container's limits count it), and no way to
// make namespaces. Observed from the exec'd process itself, so it holds whatever exec's
// internals look like.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, cgroupDirsOf, minidCommand } from "../helpers/minid.ts";
import { have, requires } from "../helpers/requires.ts";
import { EPERM, PROBED, buildProbe, parseProbe } from "../helpers/syscall-probe.ts";

const it = requires("root");
const withProbe = requires("root", "gcc");
let r: TestRoot;
let probe: string | undefined;
let id = "";

beforeAll(() => {
  if (!have("root")) return;
  ensureBuilt();
  r = new TestRoot("execconf");
  if (have("gcc")) probe = buildProbe(join(r.dir, "probe"));
  const vol = probe ? ["-v", `${probe}:/probe:ro`] : [];
  const res = r.run(["run", "-d", "--name", "box", "--pids-limit", "16", ...vol, "busybox", "sleep", "600"]);
  if (res.code !== 0) throw new Error(`run -d failed: ${res.stderr}`);
  id = res.stdout.trim();
});
afterAll(() => r?.cleanup());

function ex(...cmd: string[]) {
  return r.run(["exec", "box", ...cmd]);
}
const status = (text: string, key: string) => new RegExp(`^${key}:\\s*(\\S+)`, "m").exec(text)?.[1];

describe("exec confinement", () => {
  it("seccomp filter and no_new_privs", () => {
    const s = ex("cat", "/proc/self/status").stdout;
    expect(status(s, "Seccomp")).toBe("2");
    // The container's default, Docker's: off (runtime-defaults.test.ts checks exec with it on).
    expect(status(s, "NoNewPrivs")).toBe("0");
  });

  it("the container's capabilities, no more", () => {
    const init = ex("cat", "/proc/1/status").stdout;
    const mine = ex("cat", "/proc/self/status").stdout;
    for (const k of ["CapEff", "CapBnd", "CapPrm", "CapInh", "CapAmb"]) expect(`${k}=${status(mine, k)}`).toBe(`${k}=${status(init, k)}`);
    expect(status(mine, "CapEff")).toBe("00000000a80425fb");
  });

  it("the container's cgroup, in its cgroup namespace", () => {
    const res = ex("sh", "-c", "cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup; echo ---; readlink /proc/self/ns/cgroup; readlink /proc/1/ns/cgroup");
    const [self, init, ns] = res.stdout.split("---\n");
    expect(self).toBe(init!);
    // Inside the container's cgroup namespace its cgroup is the root of every hierarchy.
    for (const line of self!.trim().split("\n")) expect(line).toMatch(/:\/$/);
    const [a, b] = ns!.trim().split("\n");
    expect(a).toMatch(/^cgroup:\[\d+\]$/);
    expect(a).toBe(b!);
  });

  it("the host sees the exec'd process in the container's cgroup of every hierarchy", async () => {
    // While exec runs a sleep with a marker argument, each of the container's host cgroup
    // directories must list that process.
    const p = Bun.spawn([...minidCommand(), "--root", r.dir, "exec", "box", "sleep", "7.77"], { stdout: "ignore", stderr: "ignore" });
    try {
      const dirs = cgroupDirsOf(id);
      expect(dirs.length).toBeGreaterThan(0);
      const marked = (d: string) =>
        readFileSync(join(d, "cgroup.procs"), "utf8").trim().split("\n").filter(Boolean).some((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8") === "sleep\u00007.77\u0000";
          } catch {
            return false;
          }
        });
      let missing = dirs;
      for (let i = 0; i < 200 && missing.length; i++) {
        missing = dirs.filter((d) => !marked(d));
        if (missing.length) await Bun.sleep(50);
      }
      expect(missing).toEqual([]);
    } finally {
      p.kill("SIGKILL");
      await p.exited;
    }
  }, 30_000);

  it("cannot make user or mount namespaces", () => {
    const res = ex("sh", "-c", "unshare -U true 2>/dev/null && echo userns-created || echo userns-denied; unshare -m true 2>/dev/null && echo mntns-created || echo mntns-denied");
    expect(res.stdout).toBe("userns-denied\nmntns-denied\n");
  });

  withProbe("the filter refuses bpf, keyctl and the rest of the probed deny list", () => {
    const res = ex("/probe", ...Object.values(PROBED).map(String));
    expect(res.code).toBe(0);
    const got = parseProbe(res.stdout);
    for (const [name, nr] of Object.entries(PROBED)) expect(`${name}=${got[nr]}`).toBe(`${name}=${EPERM}`);
  });
  // Last: the sleeps' zombies stay with PID 1 (sleep never reaps), holding the pids budget.
  it("counts against the container's --pids-limit", () => {
    // A child shell forks 40 short sleeps and dies (status 2) when fork fails; the count after
    // uses builtins only, since forking may still be refused.
    const res = ex("sh", "-c", 'cat /sys/fs/cgroup/pids/pids.max; sh -c "for i in \\$(seq 1 40); do sleep 3 & done" 2>/dev/null; echo $?; set -- /proc/[0-9]*; echo $#');
    const [max, bomb, procs] = res.stdout.trim().split("\n");
    expect(max).toBe("16");
    expect(bomb).toBe("2");
    expect(Number(procs)).toBeLessThanOrEqual(16);
    // And the host's count agrees: the exec'd processes were charged to the container.
    const events = readFileSync(join(cgroupDirsOf(id).find((d) => d.includes("/pids/"))!, "pids.events"), "utf8");
    expect(events).toMatch(/^max [1-9]\d*$/m);
  }, 60_000);
});
