// A container that holds CAP_SYS_PTRACE attacks `minid exec` the way a hostile process would:
// a probe (test/fixtures/ptrace-probe.c, compiled here) attaches to every new process in the
// container's PID namespace, reads the capabilities it holds while stopped, and injects a
// sethostname() into it. Whatever it catches, before or after the command's execve, must hold
// no more than the container's own capabilities, and the injected call must fail.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TestRoot, ensureBuilt, isRoot } from "../helpers/minid.ts";

const FIXTURE = join(import.meta.dir, "..", "fixtures", "ptrace-probe.c");
const haveGcc = Bun.spawnSync(["sh", "-c", "command -v gcc"]).exitCode === 0;
// CI installs gcc: there a missing compiler is a failure, never a silent pass.
const it = isRoot() && (haveGcc || process.env.CI === "true") ? test : test.skip;

let r: TestRoot;
let probeDir: string;

beforeAll(() => {
  if (!isRoot()) return;
  ensureBuilt();
  r = new TestRoot("ptrace");
  probeDir = mkdtempSync(join(tmpdir(), "minid-test-probe-"));
});
afterAll(() => {
  r?.cleanup();
  if (probeDir) rmSync(probeDir, { recursive: true, force: true });
});

async function untilLine(file: string, line: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (existsSync(file) && readFileSync(file, "utf8").split("\n").includes(line)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${file}: no "${line}" after ${ms} ms`);
}

describe("exec into a container that may ptrace", () => {
  it("nothing exec puts into the container holds more than the container's capabilities; injected syscalls fail", async () => {
    const cc = Bun.spawnSync(["gcc", "-static", "-O2", "-o", join(probeDir, "ptrace-probe"), FIXTURE], { stderr: "pipe" });
    expect(cc.stderr.toString()).toBe("");
    expect(cc.exitCode).toBe(0);
    const out = join(probeDir, "out.txt");
    const run = r.run([
      "run", "-d", "--name", "victim", "--hostname", "victim", "--cap-add", "SYS_PTRACE",
      "-v", `${probeDir}:/probe`, "busybox", "sh", "-c", "/probe/ptrace-probe 6 /probe/out.txt; sleep 60",
    ]);
    expect(run.code).toBe(0);
    try {
      await untilLine(out, "ready", 10_000);
      const st = JSON.parse(r.run(["inspect", "victim"]).stdout)[0];
      const bounding = BigInt("0x" + /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${st.State.Pid}/status`, "utf8"))![1]);
      // Plain and as another user: both paths through exec's confinement.
      for (let i = 0; i < 20; i++) expect(r.run(["exec", "victim", "true"]).code).toBe(0);
      for (let i = 0; i < 5; i++) expect(r.run(["exec", "-u", "nobody", "victim", "true"]).code).toBe(0);
      await untilLine(out, "done", 15_000);
      const caught = readFileSync(out, "utf8").split("\n").filter((l) => l.startsWith("pid="));
      // The probe works: it caught the exec'd processes (at least after their execve).
      expect(caught.length).toBeGreaterThan(0);
      const early = caught.filter((l) => /exe=\S*minid/.test(l)).length;
      console.log(`ptrace probe: caught ${caught.length} processes, ${early} of them before their execve`);
      for (const line of caught) {
        const m = /capeff=([0-9a-f]+) inject=(-?\d+)/.exec(line);
        expect(m).not.toBeNull();
        const eff = BigInt("0x" + m![1]);
        expect({ line, beyondContainer: (eff & ~bounding).toString(16) }).toEqual({ line, beyondContainer: "0" });
        expect({ line, injected: Number(m![2]) === 0 }).toEqual({ line, injected: false });
      }
      const host = r.run(["exec", "victim", "hostname"]);
      expect(host.stdout.trim()).toBe("victim");
    } finally {
      r.run(["rm", "-f", "victim"]);
    }
  });
});
