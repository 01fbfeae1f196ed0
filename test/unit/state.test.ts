import { describe, expect, test, beforeEach, afterEach } from "bun:test";
import { mkdtempSync, rmSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
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
