// CVE-2019-5736: a container process tries to overwrite the host's minid binary through
// /proc/PID/exe of minid processes that join the container (exec). minid makes such processes
// non-dumpable (so the open is refused) and starts init from a read-only bind mount of itself.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, isRoot, BIN } from "../helpers/minid.ts";

const it = isRoot() ? test : test.skip;
let r: TestRoot;

beforeAll(() => {
  if (!isRoot()) return;
  ensureBuilt();
  r = new TestRoot("exe");
});
afterAll(() => r?.cleanup());

const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

// Runs inside the container and does what the exploit does: find minid processes that joined
// the container, open their /proc/PID/exe, and keep trying to reopen that file for writing
// (which succeeds once the binary no longer runs, unless it sits on a read-only mount). It
// opens for append and writes nothing, so even a hit leaves the binary intact. Every success
// is logged to /tmp/hits.
const ATTACKER = String.raw`
: > /tmp/hits
while :; do
  for d in /proc/[0-9]*; do
    case "$(cat $d/cmdline 2>/dev/null)" in *minid*) ;; *) continue;; esac
    (exec 3>>$d/exe) 2>/dev/null && echo "write-open ${"$"}{d#/proc/}" >> /tmp/hits
    # "command": a failed redirection of the special builtin exec would end the shell.
    if command exec 7<$d/exe 2>/dev/null; then
      # The process may have exec'd its command since its cmdline was read: only minid counts.
      case "$(readlink /proc/$$/fd/7)" in *minid*) ;; *) exec 7<&-; continue;; esac
      echo "read-open ${"$"}{d#/proc/}" >> /tmp/reads
      i=0
      while [ $i -lt 20 ]; do
        (exec 8>>/proc/$$/fd/7) 2>/dev/null && { echo "reopen-for-write ${"$"}{d#/proc/}" >> /tmp/hits; break; }
        sleep 0.05; i=$((i+1))
      done
      exec 7<&-
    fi
  done
done
`;

describe("the minid binary cannot be overwritten from inside a container", () => {
  async function attack(extraFlags: string[]): Promise<{ hits: string; reads: string }> {
    const script = join(r.dir, "attacker.sh");
    writeFileSync(script, ATTACKER);
    const run = r.run(["run", "-d", "--name", "attacker", ...extraFlags, "-v", `${script}:/attacker.sh:ro`, "busybox", "sh", "/attacker.sh"]);
    expect(run.code).toBe(0);
    try {
      // The guard must hold without no_new_privs (off by default, as in Docker): the attacker
      // and every exec'd process can gain privileges through setuid files.
      expect(r.run(["exec", "attacker", "grep", "NoNewPrivs", "/proc/1/status"]).stdout).toBe("NoNewPrivs:\t0\n");
      for (let i = 0; i < 20; i++) expect(r.run(["exec", "attacker", "sh", "-c", "sleep 0.1"]).code).toBe(0);
      await Bun.sleep(1500); // let the last reopen attempts run after the exec'ing minid is gone
      const hits = r.run(["exec", "attacker", "cat", "/tmp/hits"]);
      const reads = r.run(["exec", "attacker", "sh", "-c", "cat /tmp/reads 2>/dev/null; true"]);
      expect(hits.code).toBe(0);
      return { hits: hits.stdout, reads: reads.stdout };
    } finally {
      r.run(["rm", "-f", "attacker"]);
    }
  }

  it("with the default capabilities: minid processes are not even openable (non-dumpable)", async () => {
    const before = sha(BIN);
    const { hits, reads } = await attack([]);
    expect(hits).toBe("");
    expect(reads).toBe("");
    expect(sha(BIN)).toBe(before);
  });

  it("with CAP_SYS_PTRACE: exec runs from a read-only mount, so no reopen for writing succeeds", async () => {
    const before = sha(BIN);
    const { hits } = await attack(["--cap-add", "SYS_PTRACE", "--security-opt", "seccomp=unconfined"]);
    expect(hits).toBe("");
    expect(sha(BIN)).toBe(before);
  });

  it("exec into a CAP_SYS_PTRACE container re-executes minid from a read-only mount of itself", async () => {
    expect(r.run(["run", "-d", "--name", "ptr", "--cap-add", "SYS_PTRACE", "busybox", "sleep", "30"]).code).toBe(0);
    expect(r.run(["run", "-d", "--name", "plain", "busybox", "sleep", "30"]).code).toBe(0);
    try {
      const roExe = async (name: string) => {
        const p = Bun.spawn([BIN, "--root", r.dir, "exec", name, "sleep", "1"], { stdout: "ignore", stderr: "ignore" });
        await Bun.sleep(500);
        // The exe's mount, by id: the host's own mount of the binary, or the private bind.
        const exeMount = mountIdOf(`/proc/${p.pid}/exe`);
        const env = readFileSync(`/proc/${p.pid}/environ`, "utf8");
        await p.exited;
        return { privateMount: exeMount !== mountIdOf(BIN), sealed: env.includes("MINID_SEALED=1") };
      };
      expect(await roExe("ptr")).toEqual({ privateMount: true, sealed: true });
      // Without CAP_SYS_PTRACE, non-dumpability is enough and exec skips the second start.
      expect(await roExe("plain")).toEqual({ privateMount: false, sealed: false });
    } finally {
      r.run(["rm", "-f", "ptr", "plain"]);
    }
  });

  it("init starts from a read-only mount of the binary, visible only to the watcher", () => {
    const run = r.run(["run", "-d", "--name", "sealed", "busybox", "sleep", "30"]);
    expect(run.code).toBe(0);
    try {
      const id = run.stdout.trim();
      const st = JSON.parse(readFileSync(join(r.dir, "containers", id, "state.json"), "utf8"));
      const watcherPid = Number(st.state.watcherPid ?? 0);
      expect(watcherPid).toBeGreaterThan(0);
      const watcherMounts = readFileSync(`/proc/${watcherPid}/task/${watcherPid}/mountinfo`, "utf8");
      const line = watcherMounts.split("\n").find((l) => l.split(" ")[4] === BIN);
      expect(line).toBeDefined();
      expect(line!.split(" ")[5]!.split(",")).toContain("ro");
      // …and nothing of it on the host.
      expect(readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === BIN)).toBe(false);
    } finally {
      r.run(["rm", "-f", "sealed"]);
    }
  });
});

function mountIdOf(path: string): string {
  const fd = openSync(path, "r");
  try {
    return /mnt_id:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!;
  } finally {
    closeSync(fd);
  }
}
