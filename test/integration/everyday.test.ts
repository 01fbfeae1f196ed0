// create/start, diff, top, rename, pause/unpause, update, events, info, system df/prune and
// image prune: effects checked inside the container, in the cgroup and on disk.
import { describe, expect } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";
import { cgroupDirsOf } from "../helpers/minid.ts";

const it = requires("root");
const itPs = requires("root", "ps");
const { r } = useRunRoot("everyday");

const idOf = (name: string) => r.run(["inspect", "-f", "{{.Id}}", name]).stdout.trim();
const status = (name: string) => r.run(["ps", "-a", "--format", "{{.Status}}", "-f", `name=^${name}$`]).stdout.trim();
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(25);
  }
}

describe("create and start", () => {
  it("create takes run's flags, leaves the container Created with nothing running; start -a -i attaches", () => {
    const res = r.run(["create", "-i", "--name", "cr1", "-e", "X=1", "-v", "crv:/v", "--mount", "type=tmpfs,dst=/t", "busybox", "sh", "-c", "cat; echo X=$X; ls -d /v /t"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^[a-f0-9]{64}\n$/);
    expect(status("cr1")).toBe("Created");
    expect(r.run(["inspect", "-f", "{{.State.Pid}} {{.Config.OpenStdin}}", "cr1"]).stdout).toBe("0 true\n");
    const started = r.run(["start", "-a", "-i", "cr1"], { input: "from-stdin\n" });
    expect(started.stdout).toBe("from-stdin\nX=1\n/t\n/v\n");
    expect(started.code).toBe(0);
    expect(status("cr1")).toMatch(/^Exited \(0\)/);
    const bad = r.run(["create", "--memory", "lots", "busybox", "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.run(["rm", "-v", "cr1"]).code).toBe(0);
    r.run(["volume", "rm", "crv"]);
  });
});

describe("diff", () => {
  it("A/C/D lines as Docker prints them, for overlay, the naive diff and vfs", () => {
    const script = "echo x > /etc/newf; echo y >> /etc/passwd; rm /bin/ls; mkdir -p /a/b; touch /a/b/c; rm -rf /home; mkdir /tmp/q";
    // What Docker 20.10 prints for this script (measured), in path order.
    const docker = ["C /tmp", "A /tmp/q", "A /dv", "C /etc", "A /etc/newf", "C /etc/passwd", "A /a", "A /a/b", "A /a/b/c", "A /anonv", "C /bin", "D /bin/ls", "D /home"].sort((a, b) => (a.slice(2) < b.slice(2) ? -1 : 1));
    for (const [label, env, driver] of [["overlay", {}, []], ["naive", { MINID_NAIVE_DIFF: "1" }, []], ["vfs", {}, ["--storage-driver", "vfs"]]] as const) {
      const name = `diff-${label}`;
      expect(r.run([...driver, "run", "--name", name, "-v", "/anonv", "-v", "dvol:/dv", "busybox", "sh", "-c", script]).code).toBe(0);
      const d = r.run([...driver, "diff", name], { env: env as Record<string, string> });
      expect(d.code).toBe(0);
      expect(d.stdout.trim().split("\n")).toEqual(docker);
      expect(r.run(["rm", "-v", name]).code).toBe(0);
    }
    expect(r.run(["run", "--name", "diff-empty", "busybox", "true"]).code).toBe(0);
    expect(r.run(["diff", "diff-empty"]).stdout).toBe("");
    r.run(["rm", "diff-empty"]);
    r.run(["volume", "rm", "dvol"]);
    expect(r.run(["diff", "nosuch"]).stderr).toBe("minid: No such container: nosuch\n");
  });
});

describe("running containers: top, rename, pause, update", () => {
  itPs("top lists exactly the container's processes, with ps options", async () => {
    expect(r.run(["run", "-d", "--name", "top1", "busybox", "sh", "-c", "sleep 301 & sleep 302 & wait"]).code).toBe(0);
    await until(() => (r.run(["top", "top1"]).stdout.match(/ sleep 30[12]$/gm) ?? []).length === 2);
    const t = r.run(["top", "top1"]);
    expect(t.stdout.split("\n")[0]).toMatch(/^UID {17}PID {17}PPID {16}C {19}STIME {15}TTY {17}TIME {16}CMD$/);
    const cmds = t.stdout.trim().split("\n").slice(1).map((l) => l.replace(/^.* /, ""));
    expect(t.stdout).toContain("sleep 301");
    expect(t.stdout).toContain("sleep 302");
    expect(cmds).toHaveLength(3); // sh and its two sleeps, nothing of the host
    const o = r.run(["top", "top1", "-o", "pid,comm"]);
    const hostPids = readFileSync(join(cgroupDirsOf(idOf("top1")).find((d) => existsSync(join(d, "cgroup.procs")))!, "cgroup.procs"), "utf8").trim().split("\n").sort();
    expect(o.stdout.trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/)[0]).sort()).toEqual(hostPids);
    const bad = r.run(["top", "top1", "-o", "comm"]);
    expect([bad.code, bad.stderr]).toEqual([1, "minid: Couldn't find PID field in ps output\n"]);
    r.run(["rm", "-f", "top1"]);
  });

  it("rename keeps the container, frees the old name, refuses a taken or bad one", () => {
    r.run(["create", "--name", "rn1", "busybox", "true"]);
    r.run(["create", "--name", "rn2", "busybox", "true"]);
    const id = idOf("rn1");
    expect(r.run(["rename", "rn1", "rn3"]).code).toBe(0);
    expect(idOf("rn3")).toBe(id);
    expect(r.run(["inspect", "-f", "{{.Name}}", id]).stdout).toBe("/rn3\n");
    const taken = r.run(["rename", "rn3", "rn2"]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^minid: Error when allocating new name: Conflict\. The container name "\/rn2" is already in use by container "[a-f0-9]{64}"/);
    expect(r.run(["rename", "rn3", "a b"]).stderr).toBe("minid: Error when allocating new name: Invalid container name (/a b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n");
    expect(r.run(["create", "--name", "rn1", "busybox", "true"]).code).toBe(0); // the old name is free
    r.run(["rm", "rn1", "rn2", "rn3"]);
  });

  it("pause freezes every process (the counter stops), refuses exec and rm; unpause resumes; stop and kill work when paused", async () => {
    expect(r.run(["run", "-d", "--name", "pz", "busybox", "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"]).code).toBe(0);
    const nfile = join(r.dir, "pz-n");
    // read through cp (which needs no process in the container: it works while frozen)
    const count = () => (r.run(["cp", "pz:/tmp/n", nfile]).code === 0 ? Number(readFileSync(nfile, "utf8").trim()) : 0);
    await until(() => count() > 2);
    expect(r.run(["pause", "pz"]).stdout).toBe("pz\n");
    expect(status("pz")).toMatch(/^Up .* \(Paused\)$/);
    expect(r.run(["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "pz"]).stdout).toBe("paused true\n");
    // the kernel's word: v1's freezer.state, or v2's cgroup.freeze
    const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
    const dirs = cgroupDirsOf(idOf("pz"));
    const frozen = v2 ? readFileSync(join(dirs[0]!, "cgroup.freeze"), "utf8").trim() : readFileSync(join(dirs.find((d) => d.includes("freezer"))!, "freezer.state"), "utf8").trim();
    expect(frozen).toBe(v2 ? "1" : "FROZEN");
    const a = count();
    await Bun.sleep(300);
    expect(count()).toBe(a);
    const ex = r.run(["exec", "pz", "true"]);
    expect([ex.code, ex.stderr]).toEqual([1, "minid: Container pz is paused, unpause the container before exec\n"]);
    expect(r.run(["pause", "pz"]).stderr).toMatch(/is already paused\n$/);
    const rm = r.run(["rm", "pz"]);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(/^minid: You cannot remove a paused container [a-f0-9]{64}\. Unpause and then stop/);
    expect(r.run(["unpause", "pz"]).code).toBe(0);
    await until(() => count() > a + 2);
    expect(r.run(["unpause", "pz"]).stderr).toMatch(/is not paused\n$/);
    r.run(["pause", "pz"]);
    const stop = r.run(["stop", "-t", "1", "pz"]);
    expect(stop.code).toBe(0);
    expect(status("pz")).toMatch(/^Exited \(137\)/);
    expect(r.run(["start", "pz"]).code).toBe(0);
    r.run(["pause", "pz"]);
    expect(r.run(["kill", "pz"]).code).toBe(0);
    expect(status("pz")).toMatch(/^Exited \(137\)/);
    expect(r.run(["pause", "pz"]).stderr).toMatch(/is not running\n$/);
    r.run(["rm", "pz"]);
  });

  it("a paused container whose watcher was killed -9 still reads as paused, and rm -f removes it with its cgroup", async () => {
    expect(r.run(["run", "-d", "--name", "pzk", "busybox", "sleep", "300"]).code).toBe(0);
    r.run(["pause", "pzk"]);
    const id = idOf("pzk");
    const w = JSON.parse(readFileSync(join(r.dir, "containers", id, "state.json"), "utf8")).state.watcherPid as number;
    process.kill(w, 9);
    await Bun.sleep(50);
    expect(status("pzk")).toMatch(/\(Paused\)$/);
    // rm -f thaws the frozen container for its kill: the cgroup can then go.
    expect(r.run(["rm", "-f", "pzk"]).code).toBe(0);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it("update rewrites a running container's cgroup (seen from inside) and keeps it for the next start", () => {
    expect(r.run(["run", "-d", "--name", "up1", "-m", "64m", "busybox", "sleep", "300"]).code).toBe(0);
    expect(r.run(["update", "-m", "96m", "--cpus", "0.5", "--pids-limit", "40", "--cpu-shares", "256", "--restart", "on-failure:2", "up1"]).stdout).toBe("up1\n");
    const cg = "/sys/fs/cgroup";
    const v2 = existsSync(join(cg, "cgroup.controllers"));
    const read = (f: string) => r.run(["exec", "up1", "cat", f]).stdout.trim();
    if (v2) {
      expect(read(`${cg}/memory.max`)).toBe(String(96 << 20));
      expect(read(`${cg}/cpu.max`)).toBe("50000 100000");
      expect(read(`${cg}/pids.max`)).toBe("40");
    } else {
      expect(read(`${cg}/memory/memory.limit_in_bytes`)).toBe(String(96 << 20));
      expect(read(`${cg}/cpu/cpu.cfs_quota_us`)).toBe("50000");
      expect(read(`${cg}/pids/pids.max`)).toBe("40");
      expect(read(`${cg}/cpu/cpu.shares`)).toBe("256");
    }
    expect(r.run(["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", "up1"]).stdout).toBe(`${96 << 20} 500000000 40\n`);
    expect(JSON.parse(readFileSync(join(r.dir, "containers", idOf("up1"), "state.json"), "utf8")).restartPolicy).toEqual({ name: "on-failure", maximumRetryCount: 2 });
    r.run(["stop", "-t", "0", "up1"]);
    r.run(["start", "up1"]);
    expect(read(v2 ? `${cg}/pids.max` : `${cg}/pids/pids.max`)).toBe("40");
    for (const [args, msg] of [
      [["update", "up1"], "minid: You must provide one or more flags when using this command.\n"],
      [["update", "--cpus", "99", "up1"], /^minid: Range of CPUs is from 0\.01 to/],
      [["update", "--restart", "sometimes", "up1"], /^minid: invalid restart policy/],
      [["update", "-m", "1g", "nosuch"], "minid: No such container: nosuch\n"],
    ] as const) {
      const res = r.run([...args]);
      expect(res.code).toBe(1);
      if (typeof msg === "string") expect(res.stderr).toBe(msg);
      else expect(res.stderr).toMatch(msg);
    }
    r.run(["rm", "-f", "up1"]);
  });
});

describe("events", () => {
  it("the journal has the life of a container in order; --since/--until replay it, -f filters, --format templates", () => {
    const t0 = (Date.now() / 1000).toFixed(3);
    r.run(["run", "--name", "ev1", "busybox", "true"]);
    r.run(["rename", "ev1", "ev2"]);
    r.run(["rm", "ev2"]);
    r.run(["volume", "create", "evv"]);
    r.run(["volume", "rm", "evv"]);
    const t1 = (Date.now() / 1000 + 0.001).toFixed(3);
    const ev = r.run(["events", "--since", t0, "--until", t1, "-f", "type=container", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"]);
    expect(ev.code).toBe(0);
    expect(ev.stdout).toBe("container create ev1\ncontainer start ev1\ncontainer die ev1\ncontainer rename ev2\ncontainer destroy ev2\n");
    const line = r.run(["events", "--since", t0, "--until", t1, "-f", "event=die"]).stdout;
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container die [a-f0-9]{64} \(exitCode=0, image=busybox, name=ev1\)\n$/);
    const vol = r.run(["events", "--since", t0, "--until", t1, "-f", "volume=evv", "--format", "{{json .}}"]).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(vol.map((v) => [v.Type, v.Action, v.Actor.ID])).toEqual([["volume", "create", "evv"], ["volume", "destroy", "evv"]]);
    expect(r.run(["events", "--since", "yesterday", "--until", t1]).code).toBe(1);
    // exec: created, started, and its death with the command's code
    const t2 = (Date.now() / 1000).toFixed(3);
    r.run(["run", "-d", "--name", "evx", "busybox", "sleep", "60"]);
    r.run(["exec", "evx", "sh", "-c", "exit 4"]);
    const t3 = (Date.now() / 1000 + 0.001).toFixed(3);
    const ex = r.run(["events", "--since", t2, "--until", t3, "-f", "event=exec_create", "-f", "event=exec_start", "-f", "event=exec_die", "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}"]);
    expect(ex.stdout).toBe("exec_create: sh -c exit 4 <no value>\nexec_start: sh -c exit 4 <no value>\nexec_die 4\n"); // a missing map key, as Go prints it
    r.run(["rm", "-f", "evx"]);
  });

  it("without --until, events follows new events as they happen", async () => {
    // One filter key's values are alternatives: evmark's events show that the follower is
    // reading before evf's happen (no guess at how long it takes to start).
    const p = r.spawn(["events", "-f", "container=evmark", "-f", "container=evf", "--format", "{{.Actor.Attributes.name}} {{.Action}}"]);
    const reader = p.stdout.getReader();
    let text = "";
    // One read stays pending across timeouts: a read abandoned by the race would take the next
    // chunk with it (under load the events arrived there, and the loop never saw them).
    let pending: ReturnType<typeof reader.read> | undefined;
    const readUntil = async (want: string) => {
      const deadline = Date.now() + 10_000;
      while (!text.includes(want) && Date.now() < deadline) {
        pending ??= reader.read();
        const chunk = await Promise.race([pending, Bun.sleep(200).then(() => undefined)]);
        if (!chunk) continue;
        pending = undefined;
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
    };
    // Bounded well inside the test's timeout: a loop still running after it would outlive the test.
    const giveUp = Date.now() + 60_000;
    for (let i = 0; i < 50 && !text.includes("evmark create") && Date.now() < giveUp; i++) {
      r.run(["rm", "-f", "evmark"]);
      r.run(["create", "--name", "evmark", "busybox", "true"]);
      await readUntil("evmark create");
    }
    r.run(["rm", "-f", "evmark"]);
    text = "";
    r.run(["create", "--name", "evf", "busybox", "true"]);
    r.run(["rm", "evf"]);
    await readUntil("evf destroy");
    text = text.split("\n").filter((l) => l.startsWith("evf ")).map((l) => l.slice(4)).join("\n") + "\n";
    p.kill(9);
    expect(text).toBe("create\ndestroy\n");
  });
});

describe("info, system df, prune", () => {
  it("info says what is true here; df counts images, layers and volumes; prunes remove only the unused", async () => {
    r.run(["run", "--name", "df1", "-v", "dfv:/v", "-v", "/anon", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /big"]);
    r.run(["run", "-d", "--name", "df2", "busybox", "sleep", "300"]);
    await until(() => status("df2").startsWith("Up"));
    const info = JSON.parse(r.run(["info", "--format", "{{json .}}"]).stdout);
    const all = r.run(["ps", "-aq"]).stdout.trim().split("\n").length;
    const up = r.run(["ps", "-q"]).stdout.trim().split("\n").length;
    expect(info).toMatchObject({ Containers: all, ContainersRunning: up, ContainersStopped: all - up, Driver: "overlay", DockerRootDir: r.dir, OSType: "linux" });
    expect(info.CgroupVersion).toBe(existsSync("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1");
    expect(info.KernelVersion).toBe(readFileSync("/proc/sys/kernel/osrelease", "utf8").trim());
    expect(r.run(["info"]).stdout).toMatch(new RegExp(`^Server:\n Containers: ${all}\n  Running: ${up}\n  Paused: 0\n  Stopped: ${all - up}\n Images: \\d+\n`));
    const df = r.run(["system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}"]).stdout.trim().split("\n");
    expect(df[1]).toBe("Containers|2|1|5kB|5kB (100%)");
    expect(df[2]).toBe("Local Volumes|2|2|0B|0B");
    expect(r.run(["system", "df", "-v"]).stdout).toContain("Local Volumes space usage:");
    // import an image nothing uses, then prune
    const tar = join(r.dir, "empty.tar");
    Bun.spawnSync(["tar", "-cf", tar, "-T", "/dev/null"]);
    r.run(["import", tar, "unused:1"]);
    const ip = r.run(["image", "prune", "-f"]);
    expect(ip.stdout).toBe("Total reclaimed space: 0B\n"); // tagged: not dangling
    const df1 = idOf("df1");
    const sp = r.run(["system", "prune", "-f", "--volumes", "-a"]);
    expect(sp.stdout).toContain(`Deleted Containers:\n${df1}\n`);
    expect(sp.stdout).toMatch(/Deleted Volumes:\n[a-f0-9]{64}\n/);
    expect(sp.stdout).toMatch(/Deleted Images:\nuntagged: unused:1\ndeleted: sha256:[a-f0-9]{64}\n/);
    expect(r.run(["ps", "-a", "--format", "{{.Names}}"]).stdout).toBe("df2\n");
    expect(r.run(["volume", "ls", "-q"]).stdout).toBe("dfv\n"); // named: kept
    expect(r.run(["images", "--format", "{{.Repository}}"]).stdout).toBe("busybox\n"); // in use: kept
    r.run(["rm", "-f", "df2"]);
    r.run(["volume", "rm", "dfv"]);
  });
});
