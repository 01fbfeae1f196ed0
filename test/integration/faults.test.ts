// Faults performed for real (issue 15, points 3-5): records cut short or emptied on disk, a
// store on a small tmpfs that a container fills, a watcher killed under its container, and a
// container's init killed before it could exec the command.
import { describe, expect, test, afterEach } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, cgroupDirsOf, ensureBuilt, isRoot, removeStoreNetworking } from "../helpers/minid.ts";

const it = (name: string, fn: () => unknown, timeout = 120_000) => (isRoot() ? test : test.skip)(name, fn as any, timeout);

let roots: TestRoot[] = [];
let mounted: string[] = [];
afterEach(() => {
  for (const r of roots) {
    const ids = r.containerIds();
    if (ids.length) r.run(["rm", "-f", ...ids]);
    // While the root's records are still there: a tmpfs root takes them with it when unmounted.
    removeStoreNetworking(r.dir);
  }
  for (const m of mounted) Bun.spawnSync(["umount", "-l", m]);
  mounted = [];
  const rs = roots;
  roots = [];
  for (const r of rs) r.cleanup();
});

function newRoot(label: string, tmpfsSize?: string): TestRoot {
  ensureBuilt();
  const r = new TestRoot(label);
  roots.push(r);
  if (tmpfsSize) {
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${tmpfsSize},mode=0700`, "tmpfs", r.dir]);
    if (m.exitCode !== 0) throw new Error(`mount tmpfs: ${m.stderr}`);
    mounted.push(r.dir);
  }
  return r;
}

function idOf(r: TestRoot, name: string): string {
  return r.run(["ps", "-aq", "--no-trunc", "-f", `name=^${name}$`]).stdout.trim();
}
async function until(cond: () => boolean, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}
/** The message minid leaks when it trusts a record's shape. */
const INTERNAL = /JSON Parse error|undefined is not an object|is not a function|TypeError/;

describe("one bad record takes down nothing but itself", () => {
  it("truncated and {} state.json: ps -a shows them Dead with the reason, the rest works, rm -f removes them", () => {
    const r = newRoot("badstate");
    expect(r.run(["run", "--name", "cut", "busybox", "true"]).code).toBe(0);
    expect(r.run(["run", "--name", "empty", "busybox", "true"]).code).toBe(0);
    expect(r.run(["run", "--name", "fine", "busybox", "echo", "still here"]).code).toBe(0);
    expect(r.run(["run", "-d", "--name", "up", "busybox", "sleep", "300"]).code).toBe(0);
    const cut = idOf(r, "cut");
    const empty = idOf(r, "empty");
    const cutFile = join(r.dir, "containers", cut, "state.json");
    const text = readFileSync(cutFile, "utf8");
    writeFileSync(cutFile, text.slice(0, Math.floor(text.length / 3)));
    writeFileSync(join(r.dir, "containers", empty, "state.json"), "{}");

    const ps = r.run(["ps", "-a", "--no-trunc", "--format", "{{.ID}}|{{.Names}}|{{.State}}|{{.Status}}"]);
    expect(ps.stderr).toBe("");
    expect(ps.code).toBe(0);
    const rows = Object.fromEntries(ps.stdout.trim().split("\n").map((l) => [l.split("|")[0], l]));
    expect(rows[cut]).toMatch(/\|dead\|Dead \(state\.json: not valid JSON \(cut short\?\)\)$/);
    expect(rows[empty]).toMatch(/\|dead\|Dead \(state\.json: id: missing\)/);
    expect(rows[idOf(r, "fine")]).toMatch(/\|fine\|exited\|Exited \(0\)/);
    expect(rows[idOf(r, "up")]).toMatch(/\|up\|running\|Up /);
    expect(r.run(["ps", "-a"]).stdout).toMatch(/Dead/);
    // the other containers: logs, run, inspect, stop
    expect(r.run(["logs", "fine"]).stdout).toBe("still here\n");
    const run = r.run(["run", "--rm", "busybox", "echo", "ok"]);
    expect([run.code, run.stdout, run.stderr]).toEqual([0, "ok\n", ""]);
    expect(r.run(["inspect", "-f", "{{.State.Status}}", "up"]).stdout).toBe("running\n");
    // the bad ones: a one-line reason, never an internal error
    const ins = r.run(["inspect", "-f", "{{.State.Status}} {{.State.Dead}} {{.State.Error}}", empty]);
    expect(ins.stdout).toBe("dead true state.json: id: missing\n");
    const start = r.run(["start", empty]);
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/^minid: .*unreadable record.*rm -f/);
    for (const out of [ps, run, ins, start]) expect(out.stderr).not.toMatch(INTERNAL);
    const rm = r.run(["rm", "-f", cut, empty]);
    expect([rm.code, rm.stderr]).toEqual([0, ""]);
    expect(r.containerIds().sort()).toEqual([idOf(r, "fine"), idOf(r, "up")].sort());
    expect(r.run(["rm", "-f", "up", "fine"]).code).toBe(0);
  });

  it("a running container whose record is cut short: Dead, and rm -f still stops its process and its watcher", async () => {
    const r = newRoot("badlive");
    expect(r.run(["run", "-d", "--name", "live", "busybox", "sleep", "300"]).code).toBe(0);
    const id = idOf(r, "live");
    const file = join(r.dir, "containers", id, "state.json");
    const st = JSON.parse(readFileSync(file, "utf8")).state;
    writeFileSync(file, "{\"id\": \"" + id.slice(0, 10));
    expect(r.run(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}"]).stdout).toBe(`${id} dead\n`);
    const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    expect(alive(st.pid)).toBe(true);
    expect(alive(st.watcherPid)).toBe(true);
    const rm = r.run(["rm", "-f", id]);
    expect([rm.code, rm.stderr]).toEqual([0, ""]);
    await until(() => !alive(st.pid) && !alive(st.watcherPid), 10_000, "container and watcher gone");
    expect(r.containerIds()).toEqual([]);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it("a truncated image record: images warns once and lists the rest, inspect and rmi name it, rmi -f removes it", () => {
    const r = newRoot("badimage");
    expect(r.run(["run", "--name", "src", "busybox", "sh", "-c", "echo x > /marker"]).code).toBe(0);
    expect(r.run(["commit", "src", "broken:1"]).code).toBe(0);
    expect(r.run(["rm", "src"]).code).toBe(0);
    const id = r.run(["images", "-q", "--no-trunc", "broken:1"]).stdout.trim();
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
    const file = join(r.dir, "image", "images", `${id.slice(7)}.json`);
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.slice(0, 20));

    const images = r.run(["images"]);
    expect(images.code).toBe(0);
    expect(images.stdout).toMatch(/^busybox\s+latest/m);
    expect(images.stdout).not.toMatch(/broken/);
    const warnings = images.stderr.trim().split("\n");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^minid: warning: 1 image record is unreadable.*rmi -f/);
    expect(warnings[0]).toContain(id);
    expect(r.run(["inspect", "-f", "{{.Id}}", "busybox"]).code).toBe(0);
    const ins = r.run(["inspect", "broken:1"]);
    expect(ins.code).toBe(1);
    expect(ins.stderr).toMatch(/^minid: the record of image sha256:[a-f0-9]+ is unreadable .*rmi -f/);
    const run = r.run(["run", "--rm", "busybox", "echo", "ok"]);
    expect([run.code, run.stdout]).toEqual([0, "ok\n"]);
    expect(r.run(["rmi", "broken:1"]).code).toBe(1);
    const rmi = r.run(["rmi", "-f", "broken:1"]);
    expect(rmi.code).toBe(0);
    expect(rmi.stdout).toContain(`Deleted: ${id}`);
    for (const out of [images, ins, run, rmi]) expect(out.stderr).not.toMatch(INTERNAL);
    expect(existsSync(file)).toBe(false);
    const after = r.run(["images"]);
    expect([after.stderr, /busybox/.test(after.stdout)]).toEqual(["", true]);
  });
});

describe("a full disk (the store on a 16 MB tmpfs)", () => {
  it("a container that fills it: the watcher keeps its exit (7), notes the dropped log lines once space returns", async () => {
    const r = newRoot("fullwatch", "16m");
    expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0); // import the image
    const vol = join(r.dir, "vol");
    mkdirSync(vol);
    // "before" is in the log before the disk fills (the container waits for the go file),
    // then more output than the log's last page can take once it is full
    const p = r.spawn(["run", "--name", "fill", "-v", `${vol}:/vol`, "busybox", "sh", "-c",
      "echo before; while [ ! -e /vol/go ]; do sleep 0.05; done; dd if=/dev/zero of=/vol/big bs=64k; echo after; seq 1 2000; exit 7"]);
    await until(() => r.run(["logs", "fill"]).stdout === "before\n", 20_000, "the first line in the log");
    writeFileSync(join(vol, "go"), "");
    const run = { code: await p.exited, stdout: await new Response(p.stdout).text(), stderr: await new Response(p.stderr).text() };
    expect(run.stderr).not.toMatch(/lost the connection/);
    expect(run.code).toBe(7);
    expect(run.stdout).toMatch(/^before\nafter\n1\n2\n[^]*\n2000\n$/);
    expect(statfsSync(r.dir).bavail).toBe(0);
    // still full: the exit kept aside is what ps and inspect show
    expect(r.run(["ps", "-a", "--format", "{{.Status}}", "-f", "name=fill"]).stdout).toMatch(/^Exited \(7\)/);
    expect(r.run(["inspect", "-f", "{{.State.ExitCode}}", "fill"]).stdout).toBe("7\n");
    // space returns: the watcher writes the record and the count of what it dropped
    unlinkSync(join(vol, "big"));
    const stateFile = join(r.dir, "containers", idOf(r, "fill"), "state.json");
    await until(() => {
      const s = JSON.parse(readFileSync(stateFile, "utf8")).state;
      return s.status === "exited" && s.exitCode === 7;
    }, 20_000, "the exit in state.json");
    await until(() => /lines? of output dropped: no space left on device/.test(r.run(["logs", "fill"]).stderr), 20_000, "the note in the log");
    const logs = r.run(["logs", "fill"]);
    expect(logs.stdout).toMatch(/^before\n/);
    const dropped = Number(/(\d+) lines? of output dropped/.exec(logs.stderr)![1]);
    const kept = logs.stdout.split("\n").length - 1 + logs.stderr.split("\n").length - 1;
    expect(dropped).toBeGreaterThan(0);
    expect(kept + dropped).toBeGreaterThanOrEqual(2002); // every line is either in the log or counted
    expect(r.run(["rm", "fill"]).code).toBe(0);
  });

  it("rm -f, rmi, container prune work on a full disk; a run that fails leaves nothing; prune finds leftovers", async () => {
    const r = newRoot("fullrm", "16m");
    expect(r.run(["run", "--name", "small", "busybox", "sh", "-c", "echo x > /x"]).code).toBe(0);
    expect(r.run(["commit", "small", "extra:1"]).code).toBe(0);
    expect(r.run(["run", "--name", "stopped", "busybox", "true"]).code).toBe(0);
    // a container that keeps the disk full: whatever is freed, it takes again
    expect(r.run(["run", "-d", "--name", "hog", "busybox", "sh", "-c",
      "i=0; while :; do dd if=/dev/zero of=/fill$i bs=4k 2>/dev/null; i=$((i+1)); sleep 0.05; done"]).code).toBe(0);
    const full = () => until(() => statfsSync(r.dir).bavail === 0, 30_000, "a full disk");
    await full();
    const before = r.containerIds().sort();
    const failed = r.run(["run", "--name", "nope", "busybox", "true"]);
    expect(failed.code).toBe(125);
    expect(failed.stderr).toMatch(/^minid: .*(no space|ENOSPC)/im);
    expect(r.containerIds().sort()).toEqual(before);
    expect(readdirSync(join(r.dir, "containers")).filter((n) => n.startsWith(".") && n !== ".names.lock" && n !== ".names")).toEqual([]);
    // no name index entry for the failed create: the entries are the containers there are
    expect(readdirSync(join(r.dir, "containers", ".names")).map((e) => e.split(":")[1]).sort()).toEqual(before);

    await full();
    const rmi = r.run(["rmi", "extra:1"]);
    expect([rmi.code, rmi.stderr]).toEqual([0, ""]);
    expect(rmi.stdout).toMatch(/Untagged: extra:1/);
    expect(r.run(["images", "-q", "extra:1"]).stdout).toBe("");

    await full();
    const prune = r.run(["container", "prune", "-f"]);
    expect([prune.code, prune.stderr]).toEqual([0, ""]);
    expect(r.run(["ps", "-a", "--format", "{{.Names}}"]).stdout).toBe("hog\n");

    await full();
    const hog = idOf(r, "hog");
    const rm = r.run(["rm", "-f", "hog"]);
    expect([rm.code, rm.stderr]).toEqual([0, ""]);
    expect(r.containerIds()).toEqual([]);
    expect(cgroupDirsOf(hog)).toEqual([]);
    expect(statfsSync(r.dir).bavail).toBeGreaterThan(1000);

    // leftovers of a crashed create (no state.json, or a staging directory): Dead, then pruned
    const orphan = "e".repeat(64);
    mkdirSync(join(r.dir, "containers", orphan));
    mkdirSync(join(r.dir, "containers", `.creating-${"f".repeat(64)}-999999999`));
    expect(r.run(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}"]).stdout).toBe(`${orphan} dead\n`);
    expect(r.run(["container", "prune", "-f"]).stdout).toContain(orphan);
    expect(readdirSync(join(r.dir, "containers")).filter((n) => n !== ".names.lock" && n !== ".names")).toEqual([]);
    expect(readdirSync(join(r.dir, "containers", ".names"))).toEqual([]);
  });
});

describe("truthful states", () => {
  it("a container whose watcher was killed and which exits later: exited, code unknown, and inspect says why", async () => {
    const r = newRoot("lostwatch");
    expect(r.run(["run", "-d", "--name", "orphan", "busybox", "sleep", "300"]).code).toBe(0);
    const st = JSON.parse(readFileSync(join(r.dir, "containers", idOf(r, "orphan"), "state.json"), "utf8")).state;
    process.kill(st.watcherPid, "SIGKILL");
    await Bun.sleep(100);
    process.kill(st.pid, "SIGKILL");
    await until(() => r.run(["ps", "-a", "--format", "{{.State}}", "-f", "name=orphan"]).stdout === "exited\n", 10_000, "exited");
    const status = r.run(["ps", "-a", "--format", "{{.Status}}", "-f", "name=orphan"]).stdout;
    expect(status).toMatch(/^Exited \(unknown\) /);
    expect(status).not.toMatch(/255/);
    const ins = JSON.parse(r.run(["inspect", "orphan"]).stdout)[0].State;
    expect(ins.Status).toBe("exited");
    expect(ins.Error).toMatch(/watcher was lost.*exit code is unknown/);
    expect(r.run(["rm", "orphan"]).code).toBe(0);
  });

  it("run -d whose init is killed before it execs the command fails with 125 and leaves nothing", async () => {
    const r = newRoot("earlykill");
    expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
    // init reads the container's /etc/passwd for --user after the mounts: a FIFO there holds
    // it at that point (before exec) for as long as we like
    const fifo = join(r.dir, "passwd.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const p = r.spawn(["run", "-d", "--name", "early", "-u", "nobody", "-v", `${fifo}:/etc/passwd`, "busybox", "echo", "ran"]);
    let id = "";
    await until(() => (id = idOf(r, "early")) !== "", 20_000, "the container");
    let pids: number[] = [];
    await until(() => {
      pids = cgroupDirsOf(id).flatMap((d) => {
        try {
          return readFileSync(join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
        } catch {
          return [];
        }
      });
      return pids.length > 0 && readFileSync(`/proc/${pids[0]}/wchan`, "utf8") === "wait_for_partner";
    }, 20_000, "init blocked on the FIFO");
    for (const pid of new Set(pids)) process.kill(pid, "SIGKILL");
    const code = await p.exited;
    const stdout = await new Response(p.stdout).text();
    const stderr = await new Response(p.stderr).text();
    expect(stdout).toBe("");
    expect(code).toBe(125);
    expect(stderr).toMatch(/^minid: .*init was killed by SIGKILL before it could run the command/);
    expect(r.containerIds()).toEqual([]);
    expect(cgroupDirsOf(id)).toEqual([]);
  });
});
