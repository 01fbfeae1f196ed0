// The lifecycle owner: its transition table, and that writes go through it (a move the table
// refuses writes nothing); records checked against the schema when read.
import { describe, expect, test, beforeEach, afterEach } from "bun:test";
import { mkdtempSync, rmSync, readFileSync, writeFileSync, mkdirSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ContainerStore, preallocateExitFile, recordExitInPlace, type ContainerState } from "../../src/container/state.ts";
import {
  STATUSES, TRANSITIONS, canTransition, canDelete, canStart, observe, recordExit, recordRunning, recordStartFailed, WATCHER_LOST,
  type Status,
} from "../../src/container/lifecycle.ts";
import { processStartTime } from "../../src/container/proc.ts";

function sample(id: string, name: string, status: Status = "created", pid = 0): ContainerState {
  return {
    id, name, image: "busybox", imageId: "sha256:" + "0".repeat(64), created: new Date().toISOString(),
    path: "sh", args: ["-c", "true"], config: { env: [], cwd: "/", hostname: id.slice(0, 12), tty: false, interactive: false },
    mounts: [], storage: { driver: "overlay", lowerdirs: [] }, autoRemove: false,
    state: { status, pid, pidStart: pid ? processStartTime(pid) : undefined, exitCode: 0, oomKilled: false },
  };
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "minid-lifecycle-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("transition table", () => {
  test("the moves of a container's life", () => {
    const allowed = (from: Status) => STATUSES.filter((to) => canTransition(from, to));
    expect(allowed("created")).toEqual(["running", "removing"]);
    expect(allowed("running")).toEqual(["created", "paused", "restarting", "exited", "removing"]);
    expect(allowed("paused")).toEqual(["running", "exited", "removing"]);
    expect(allowed("restarting")).toEqual(["running", "exited", "removing"]);
    expect(allowed("exited")).toEqual(["running", "restarting", "removing"]);
    expect(allowed("removing")).toEqual([]);
    expect(allowed("dead")).toEqual(["removing"]);
    // every state is in the table, and nothing moves to itself
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATUSES].sort());
    for (const s of STATUSES) expect(canTransition(s, s)).toBe(false);
  });

  test("can start / delete", () => {
    expect(canStart(sample("a".repeat(64), "x", "created"))).toBe(true);
    expect(canStart(sample("a".repeat(64), "x", "exited"))).toBe(true);
    // a running record whose process is us: running, not startable, delete only with force
    const live = sample("a".repeat(64), "x", "running", process.pid);
    expect(canStart(live)).toBe(false);
    expect(canDelete(live, false)).toBe(false);
    expect(canDelete(live, true)).toBe(true);
  });

  test("a running record whose process is gone has exited with an unknown code", () => {
    const st = sample("a".repeat(64), "x", "running", 999_999_999);
    st.state.pidStart = "1";
    const s = observe(st);
    expect(s.status).toBe("exited");
    expect(s.exitUnknown).toBe(true);
    expect(s.error).toBe(WATCHER_LOST);
    expect(canStart(st)).toBe(true);
  });
});

describe("writes go through the table", () => {
  const id = "b".repeat(64);
  test("created → running → exited; a second exit and a stale pid write nothing", () => {
    const store = new ContainerStore(dir);
    store.create(sample(id, "w"));
    const before = recordRunning(store, id, { pid: process.pid, pidStart: processStartTime(process.pid), bootId: "", watcherPid: process.pid });
    expect(before?.status).toBe("created");
    expect(store.load(id)!.state.status).toBe("running");
    expect(recordExit(store, id, { pid: 12345, exitCode: 1 })).toBe(false); // another pid
    expect(store.load(id)!.state.status).toBe("running");
    expect(recordExit(store, id, { pid: process.pid, exitCode: 7 })).toBe(true);
    expect(store.load(id)!.state).toMatchObject({ status: "exited", exitCode: 7, pid: 0 });
    const text = readFileSync(join(store.containerDir(id), "state.json"), "utf8");
    expect(recordExit(store, id, { pid: 0, exitCode: 9 })).toBe(false); // exited → exited: refused
    expect(readFileSync(join(store.containerDir(id), "state.json"), "utf8")).toBe(text);
  });

  test("a failed first start goes back to created, a failed restart to exited", () => {
    const store = new ContainerStore(dir);
    store.create(sample(id, "w"));
    const p = { pid: process.pid, bootId: "", watcherPid: process.pid };
    const before = recordRunning(store, id, p)!;
    recordStartFailed(store, id, process.pid, before, { exitCode: 127, message: "no such file" });
    expect(store.load(id)!.state).toMatchObject({ status: "created", exitCode: 127, error: "no such file" });
    recordExit(store, id, { pid: 0, exitCode: 0 }); // refused: created → exited is not a move
    expect(store.load(id)!.state.status).toBe("created");
    const b2 = recordRunning(store, id, p)!;
    recordExit(store, id, { pid: process.pid, exitCode: 0 });
    const b3 = recordRunning(store, id, p)!;
    expect(b3.status).toBe("exited");
    recordStartFailed(store, id, process.pid, b3, { exitCode: 126, message: "denied" });
    expect(store.load(id)!.state.status).toBe("exited");
    expect(b2.status).toBe("created");
  });

  test("an exit kept in the pre-allocated file is read through until state.json has it", () => {
    const store = new ContainerStore(dir);
    const st = sample(id, "w", "running", 999_999_999);
    st.state.pidStart = "1";
    store.create(st);
    const cdir = store.containerDir(id);
    preallocateExitFile(cdir);
    const size = readFileSync(join(cdir, "exit.json")).length;
    expect(recordExitInPlace(cdir, { pid: 999_999_999, exitCode: 7, finishedAt: new Date().toISOString() })).toBe(true);
    expect(readFileSync(join(cdir, "exit.json")).length).toBe(size); // overwritten in place
    expect(store.load(id)!.state).toMatchObject({ status: "exited", exitCode: 7 });
    expect(store.load(id)!.state.exitUnknown).toBeUndefined();
    expect(store.load(id, { raw: true })!.state.status).toBe("running");
  });
});

describe("records are checked when read", () => {
  const good = "c".repeat(64);
  const bad = "d".repeat(64);
  test("truncated, empty, {} and wrong types are dead records; the others are untouched", () => {
    const store = new ContainerStore(dir);
    store.create(sample(good, "good"));
    store.create(sample(bad, "victim"));
    const file = join(store.containerDir(bad), "state.json");
    const full = readFileSync(file, "utf8");
    const cases: [string, RegExp][] = [
      [full.slice(0, full.length / 2), /not valid JSON/],
      ["", /empty/],
      ["{}", /id: missing/],
      [full.replace('"args": [', '"args": 5, "x": ['), /args: expected an array/],
      [full.replace('"status": "created"', '"status": "zombie"'), /state.status: expected one of/],
    ];
    for (const [text, reason] of cases) {
      writeFileSync(file, text);
      const all = store.list();
      expect(all.map((c) => c.id).sort()).toEqual([good, bad]);
      const d = all.find((c) => c.id === bad)!;
      expect(d.state.status).toBe("dead");
      expect(d.broken).toMatch(reason);
      expect(observe(d).status).toBe("dead");
      expect(canStart(d)).toBe(false);
      expect(canDelete(d, false)).toBe(true);
      expect(store.find("good").id).toBe(good);
      expect(store.find(bad.slice(0, 8)).id).toBe(bad);
      // the stand-in is never written over what is left of the record
      expect(() => store.save(d)).toThrow(/unreadable record/);
      expect(readFileSync(file, "utf8")).toBe(text);
      // no transition applies to it
      expect(recordRunning(store, bad, { pid: 1, bootId: "", watcherPid: 1 })).toBeUndefined();
    }
    // a truncated record still shows its name when the text has it
    writeFileSync(file, full.slice(0, full.indexOf('"image"')));
    expect(store.find("victim").state.status).toBe("dead");
  });

  test("a directory without state.json is a dead record; a create that fails leaves nothing", () => {
    const store = new ContainerStore(dir);
    mkdirSync(join(store.dir, bad), { recursive: true });
    expect(store.list().map((c) => [c.id, c.state.status])).toEqual([[bad, "dead"]]);
    const st = sample(good, "x");
    (st as any).args = { toJSON() { throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" }); } };
    expect(() => store.create(st)).toThrow(/no space/);
    expect(existsSync(store.containerDir(good))).toBe(false);
    expect(readdirSync(store.dir).filter((n) => n.startsWith(".")).sort()).toEqual([".names", ".names.lock"]);
    // the index was rebuilt for the dead record (no name), and the failed create's entry is gone
    expect(readdirSync(join(store.dir, ".names"))).toEqual([`:${bad}`]);
  });
});
