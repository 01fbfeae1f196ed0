import { describe, expect, test, beforeEach, afterEach } from "bun:test";
import { cpSync, mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { removeRecordLocked } from "../../src/container/locks.ts";
import { ContainerStore, processStartTime, isProcessAlive, type ContainerState } from "../../src/container/state.ts";

function sample(id: string, name: string): ContainerState {
  return {
    id, name, image: "busybox", imageId: "sha256:" + "0".repeat(64), created: new Date().toISOString(),
    path: "sh", args: [], config: { env: [], cwd: "/", hostname: id.slice(0, 12), tty: false, interactive: false },
    mounts: [], storage: { driver: "overlay", lowerdirs: [] }, autoRemove: false,
    state: { status: "created", pid: 0, exitCode: 0, oomKilled: false },
  };
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "minid-state-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("container state store", () => {
  test("create, load, update, find, remove", () => {
    const s = new ContainerStore(dir);
    const id = "a".repeat(64);
    s.create(sample(id, "web"));
    expect(s.load(id)?.name).toBe("web");
    s.update(id, (st) => (st.state.status = "exited"));
    expect(s.load(id)?.state.status).toBe("exited");
    expect(s.find("web").id).toBe(id);
    expect(s.find("aaaa").id).toBe(id);
    s.remove(id);
    expect(s.list()).toEqual([]);
    expect(() => s.find("web")).toThrow(/No such container/);
  });
  test("names are unique", () => {
    const s = new ContainerStore(dir);
    s.create(sample("a".repeat(64), "web"));
    expect(() => s.create(sample("b".repeat(64), "web"))).toThrow(/already in use/);
    expect(() => s.create(sample("c".repeat(64), "bad name"))).toThrow(/Invalid container name/);
  });
  test("an unnamed container gets a free random name", () => {
    const s = new ContainerStore(dir);
    const ids = ["e", "f", "0"].map((c) => c.repeat(64));
    for (const id of ids) s.create(sample(id, ""));
    const names = s.list().map((c) => c.name);
    expect(names.every((n) => /^[a-z]+_[a-z]+/.test(n))).toBe(true);
    expect(new Set(names).size).toBe(3);
  });
  test("ambiguous id prefixes are errors", () => {
    const s = new ContainerStore(dir);
    s.create(sample("ab" + "1".repeat(62), "one"));
    s.create(sample("ab" + "2".repeat(62), "two"));
    expect(() => s.find("ab")).toThrow(/multiple containers/);
  });
  test("writes leave no temp files behind", () => {
    const s = new ContainerStore(dir);
    const id = "d".repeat(64);
    s.create(sample(id, "x"));
    for (let i = 0; i < 5; i++) s.update(id, (st) => (st.state.exitCode = i));
    expect(readdirSync(join(dir, "containers", id)).filter((n) => n.startsWith(".tmp"))).toEqual([]);
  });
  test("PID liveness uses the start time", () => {
    const start = processStartTime(process.pid);
    expect(start).toMatch(/^\d+$/);
    expect(isProcessAlive(process.pid, start)).toBe(true);
    expect(isProcessAlive(process.pid, "1")).toBe(false);
    expect(isProcessAlive(0, undefined)).toBe(false);
  });
});

/** A store whose record reads are counted (find by name must not read every record). */
function counted(): { s: ContainerStore; loads: () => number } {
  const s = new ContainerStore(dir);
  let n = 0;
  const load = s.load.bind(s);
  s.load = (id, opts) => (n++, load(id, opts));
  return { s, loads: () => n };
}

const hex = (i: number) => i.toString(16).padStart(4, "0").repeat(16);

describe("the names index", () => {
  test("find by full id or by name, and create's clash check, read one record, not all", () => {
    const { s, loads } = counted();
    for (let i = 0; i < 40; i++) s.create(sample(hex(i), `c${i}`));
    const before = loads();
    expect(s.find("c17").id).toBe(hex(17));
    expect(s.find("/c17").id).toBe(hex(17));
    expect(s.find(hex(23)).id).toBe(hex(23));
    expect(() => s.create(sample("f".repeat(64), "c5"))).toThrow(`is already in use by container "${hex(5)}"`);
    expect(loads() - before).toBe(3);
    // an id prefix or an unknown name: every record is read, as before the index
    expect(s.find(hex(23).slice(0, 12)).id).toBe(hex(23));
    expect(() => s.find("nosuch")).toThrow(/No such container: nosuch/);
    expect(() => s.find("00")).toThrow(/multiple containers/);
  });

  test("a record the index does not know (copied in by hand) is still found, and the next create indexes it", () => {
    const s = new ContainerStore(dir);
    s.create(sample("a".repeat(64), "one"));
    const c = join(dir, "containers");
    cpSync(join(c, "a".repeat(64)), join(c, "b".repeat(64)), { recursive: true });
    const st = JSON.parse(readFileSync(join(c, "b".repeat(64), "state.json"), "utf8"));
    writeFileSync(join(c, "b".repeat(64), "state.json"), JSON.stringify({ ...st, id: "b".repeat(64), name: "two" }));
    expect(s.find("two").id).toBe("b".repeat(64));
    expect(() => s.create(sample("c".repeat(64), "two"))).toThrow(/already in use/);
    expect(readdirSync(join(c, ".names")).sort()).toEqual([`one:${"a".repeat(64)}`, `two:${"b".repeat(64)}`]);
  });

  test("a record renamed by hand is found by its new name; its old name is free", () => {
    const s = new ContainerStore(dir);
    s.create(sample("a".repeat(64), "old"));
    s.create(sample("b".repeat(64), "other"));
    const file = join(dir, "containers", "a".repeat(64), "state.json");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), name: "new" }));
    expect(s.find("new").id).toBe("a".repeat(64));
    expect(() => s.find("old")).toThrow(/No such container/);
  });

  test("rename moves the entry; an interrupted one (.dirty left) makes find go by the records", () => {
    const s = new ContainerStore(dir);
    s.create(sample("a".repeat(64), "before"));
    s.rename("a".repeat(64), "after");
    expect(readdirSync(join(dir, "containers", ".names"))).toEqual([`after:${"a".repeat(64)}`]);
    expect(s.find("after").id).toBe("a".repeat(64));
    expect(() => s.find("before")).toThrow(/No such container/);
    // the record renamed, the entry not yet (a crash between the two steps)
    writeFileSync(join(dir, "containers", ".names", ".dirty"), "");
    s.update("a".repeat(64), (st) => (st.name = "third"));
    expect(s.find("third").id).toBe("a".repeat(64));
    expect(() => s.find("after")).toThrow(/No such container/);
    s.create(sample("b".repeat(64), "after"));
    expect(readdirSync(join(dir, "containers", ".names")).sort()).toEqual([`after:${"b".repeat(64)}`, `third:${"a".repeat(64)}`]);
  });

  test("removal drops the entry, so the index stays in use and the name is free", () => {
    const s = new ContainerStore(dir);
    s.create(sample("a".repeat(64), "gone"));
    s.create(sample("b".repeat(64), "kept"));
    expect(removeRecordLocked(s, "a".repeat(64))).toBeDefined();
    expect(readdirSync(join(dir, "containers", ".names"))).toEqual([`kept:${"b".repeat(64)}`]);
    expect([...(s.readNames() ?? [])]).toEqual([["kept", "b".repeat(64)]]);
    expect(() => s.find("gone")).toThrow(/No such container/);
    s.create(sample("c".repeat(64), "gone"));
    s.remove("c".repeat(64));
    expect(existsSync(join(dir, "containers", ".names", `gone:${"c".repeat(64)}`))).toBe(false);
  });

  test("a store made before the index: find reads the records, the first create builds it", () => {
    const s = new ContainerStore(dir);
    s.create(sample("a".repeat(64), "one"));
    s.create(sample("b".repeat(64), ""));
    rmSync(join(dir, "containers", ".names"), { recursive: true });
    expect(s.find("one").id).toBe("a".repeat(64));
    expect(() => s.create(sample("c".repeat(64), "one"))).toThrow(/already in use/);
    const names = readdirSync(join(dir, "containers", ".names"));
    expect(names).toHaveLength(2);
    expect(names).toContain(`one:${"a".repeat(64)}`);
  });
});
