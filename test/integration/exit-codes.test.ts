// `minid run`: exit codes of the command, of signals, and Docker's 125/126/127.
import { describe, expect } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root");
const { r, run } = useRunRoot("exit-codes");

describe("exit codes", () => {
  it("the container's own status", () => {
    expect(run("true").code).toBe(0);
    expect(run("sh", "-c", "exit 3").code).toBe(3);
  });

  it("127 when the command does not exist", () => {
    const res = run("nosuchcmd");
    expect(res.code).toBe(127);
    expect(res.stderr).toContain('"nosuchcmd": executable file not found in $PATH');
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(run("/no/such/path").code).toBe(127);
  });

  it("126 when it cannot be executed", () => {
    expect(run("/etc/passwd").code).toBe(126);
    expect(run("/etc").code).toBe(126);
  });

  it("a failed start leaves no container behind", () => {
    const before = r.run(["ps", "-a", "-q"]).stdout;
    expect(r.run(["run", "busybox", "nosuchcmd"]).code).toBe(127);
    expect(r.run(["ps", "-a", "-q"]).stdout).toBe(before);
  });

  async function signalled(signal: "SIGTERM" | "SIGINT", trapName: string, code: number) {
    const p = r.spawn(["run", "--rm", "busybox", "sh", "-c", `trap 'echo got ${trapName}; exit ${code}' ${trapName}; echo ready; while :; do sleep 0.1; done`]);
    const reader = p.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain("ready");
    p.kill(signal);
    const exit = await p.exited;
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(first + rest).toContain(`got ${trapName}`);
    expect(exit).toBe(code);
  }

  it("SIGTERM sent to minid run reaches the container (143)", () => signalled("SIGTERM", "TERM", 143));
  it("SIGINT (Ctrl-C) reaches the container (130)", () => signalled("SIGINT", "INT", 130));

  it("128+N when the container is killed by signal N", async () => {
    const p = r.spawn(["run", "--name", "victim", "busybox", "sleep", "30"]);
    let pid = 0;
    for (let i = 0; i < 100 && !pid; i++) {
      await Bun.sleep(50);
      const st = JSON.parse(r.run(["ps", "--format", "json", "-f", "name=victim"]).stdout || "null");
      if (st) pid = findContainerPid("victim");
    }
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    expect(await p.exited).toBe(137);
    expect(r.run(["ps", "-a", "-f", "name=victim"]).stdout).toContain("Exited (137)");
    r.run(["rm", "victim"]);
  });
});

/** The container's PID as the host sees it, from the state document. */
function findContainerPid(name: string): number {
  const dir = join(r.dir, "containers");
  for (const id of readdirSync(dir)) {
    try {
      const st = JSON.parse(readFileSync(join(dir, id, "state.json"), "utf8"));
      if (st.name === name && st.state.pid) {
        // The recorded pid is init, which exec'd into the command: same process.
        return st.state.pid;
      }
    } catch {}
  }
  return 0;
}
