// The record validator: its fast test (ok) and its worded one (check) must agree on every
// record, or a bad record would be trusted (or a good one refused) depending on the path taken.
import { describe, expect, test } from "bun:test";
import { BadRecordError, any, arr, bool, nullable, num, obj, oneOf, parseRecord, record, str } from "../../src/util/schema.ts";
import { CONTAINER_SCHEMA } from "../../src/container/state.ts";

const good = {
  id: "a".repeat(64), name: "c", image: "busybox", imageId: "sha256:x", created: "2026-01-01T00:00:00Z", path: "true", args: [],
  config: { env: ["A=1"], cwd: "/", hostname: "h", tty: false, interactive: false, entrypoint: null, cmd: ["true"] },
  mounts: [{ source: "/a", destination: "/b", readOnly: true, type: "bind" }],
  storage: { driver: "overlay", lowerdirs: ["/l"] },
  autoRemove: false,
  state: { status: "exited", pid: 0, exitCode: 0, oomKilled: false, startedAt: "t" },
  cgroupPaths: { version: "v1", paths: { memory: "/sys/fs/cgroup/memory/minid/x" } },
  security: { capabilities: [0, 1], noNewPrivileges: true, privileged: false, readOnlyRootfs: false },
  resources: { memory: 1 },
};

/** Every single-field break of `v`: each leaf replaced by values of other types, each key dropped. */
function* breaks(v: any, path: string[] = []): Generator<[string, any]> {
  if (v === null || typeof v !== "object") return;
  for (const k of Object.keys(v)) {
    for (const bad of [undefined, null, 7, "s", true, [], {}, [7], { x: 7 }, Infinity]) {
      const copy = structuredClone(v);
      copy[k] = bad;
      yield [[...path, k].join("."), copy];
    }
    for (const [p, inner] of breaks(v[k], [...path, k])) {
      const copy = structuredClone(v);
      copy[k] = inner;
      yield [p, copy];
    }
  }
}

describe("schema", () => {
  test("ok() agrees with check() on the container record and every one-field break of it", () => {
    expect(CONTAINER_SCHEMA.ok(good)).toBe(true);
    expect(CONTAINER_SCHEMA.check(good, "")).toBeUndefined();
    let refused = 0;
    for (const [where, v] of breaks(good)) {
      const words = CONTAINER_SCHEMA.check(v, "");
      expect(`${where}: ${CONTAINER_SCHEMA.ok(v)}`).toBe(`${where}: ${words === undefined}`);
      if (words) refused++;
    }
    expect(refused).toBeGreaterThan(100);
  });

  test("parseRecord: a failing record is refused with check()'s words and path", () => {
    const bad = structuredClone(good) as any;
    bad.state.pid = "12";
    expect(() => parseRecord(CONTAINER_SCHEMA, JSON.stringify(bad), "state.json")).toThrow(new BadRecordError("state.json", "state.pid: expected a number, found string"));
    expect(parseRecord(CONTAINER_SCHEMA, JSON.stringify(good), "state.json")).toEqual(good);
  });

  test("combinators", () => {
    const s = obj({ a: arr(num), b: oneOf("x", "y") }, { c: nullable(str), d: record(bool), e: any });
    for (const [v, okay] of [
      [{ a: [1], b: "x" }, true], [{ a: [1], b: "z" }, false], [{ a: [NaN], b: "x" }, false], [{ a: [], b: "y", c: null }, true],
      [{ a: [], b: "y", c: 3 }, false], [{ a: [], b: "y", d: { k: true } }, true], [{ a: [], b: "y", d: { k: 1 } }, false],
      [{ a: [], b: "y", d: [] }, false], [{ b: "y" }, false], [[], false], [null, false], [{ a: [], b: "x", e: { anything: 1 } }, true],
    ] as const) {
      expect(s.ok(v)).toBe(okay);
      expect(s.check(v, "") === undefined).toBe(okay);
    }
  });
});
