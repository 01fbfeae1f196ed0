// The StorageDriver interface, without root: what each driver tells init to mount, where commit
// finds a container's changes, and the layer-store layout decoded in one place.
import { describe, expect, test, afterAll } from "bun:test";
import { mkdtempSync, rmSync, existsSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { overlayDriver } from "../../src/storage/overlay.ts";
import { aufsDriver, AUFS_META } from "../../src/storage/aufs.ts";
import { vfsDriver } from "../../src/storage/vfs.ts";
import { diffIdOfLayerTree, layerNameOf, layerTreeDir, relativeToStore } from "../../src/storage/layout.ts";

const base = mkdtempSync(join(tmpdir(), "minid-driver-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const HEX = "a".repeat(64);
const HEX2 = "b".repeat(64);
const scratch = (l: string) => join(base, `scratch-${l}`);

describe("layer store layout", () => {
  test("paths encode and decode DiffIDs in one place", () => {
    const p = layerTreeDir("/r/image/layers", `sha256:${HEX}`);
    expect(p).toBe(`/r/image/layers/${HEX}/diff`);
    expect(diffIdOfLayerTree(p)).toBe(`sha256:${HEX}`);
    expect(layerNameOf(p)).toBe(HEX);
    expect(diffIdOfLayerTree("/x/y")).toBeUndefined();
    expect(diffIdOfLayerTree(`/r/${"z".repeat(64)}/diff`)).toBeUndefined();
  });
  test("layers under one store parent are named relative to it", () => {
    expect(relativeToStore([`/r/l/${HEX}/diff`, `/r/l/${HEX2}/diff`])).toEqual({ cwd: "/r/l", names: [`${HEX}/diff`, `${HEX2}/diff`] });
    expect(relativeToStore(["/x/a", "/y/b"])).toBeUndefined();
    expect(relativeToStore([])).toBeUndefined();
  });
});

describe("drivers", () => {
  const lowers = [`/r/l/${HEX}/diff`, `/r/l/${HEX2}/diff`];
  test("overlay: prepare makes upper/work/merged; start mounts the same spec; changes are the upper dir", () => {
    const dir = join(base, "ov");
    const spec = overlayDriver.prepare(dir, lowers);
    for (const d of ["upper", "work", "merged"]) expect(existsSync(join(dir, d))).toBe(true);
    expect(spec).toEqual(overlayDriver.rootfs(dir, lowers));
    expect(spec.target).toBe(join(dir, "merged"));
    expect(spec.cwd).toBe("/r/l");
    expect(spec.data).toStartWith(`lowerdir=${HEX2}/diff:${HEX}/diff,upperdir=${dir}/upper`);
    const prev = process.env.MINID_NAIVE_DIFF;
    try {
      delete process.env.MINID_NAIVE_DIFF;
      const ch = overlayDriver.changes(dir);
      // redirect_dir/metacopy on in the host's overlay module turn commit to the naive diff.
      if (ch.kind === "upper") expect(ch).toEqual({ kind: "upper", dir: join(dir, "upper"), overlayWhiteouts: true, skip: [] });
      process.env.MINID_NAIVE_DIFF = "1";
      expect(overlayDriver.changes(dir)).toEqual({ kind: "full-tree" });
    } finally {
      if (prev === undefined) delete process.env.MINID_NAIVE_DIFF;
      else process.env.MINID_NAIVE_DIFF = prev;
    }
  });
  test("overlay with no layers stacks on an empty directory", () => {
    const dir = join(base, "ov-empty");
    const spec = overlayDriver.prepare(dir, []);
    expect(spec.data).toStartWith(`lowerdir=${dir}/empty,`);
  });
  test("vfs: copies the layers once at create; start only binds the copy; the copy is read as a full tree", async () => {
    const l1 = join(base, "vl1");
    mkdirSync(join(l1, "etc"), { recursive: true });
    writeFileSync(join(l1, "etc", "x"), "one");
    const dir = join(base, "vfs");
    const spec = vfsDriver.prepare(dir, [l1]);
    expect(readFileSync(join(dir, "rootfs", "etc", "x"), "utf8")).toBe("one");
    expect(spec).toEqual({ driver: "vfs", target: join(dir, "merged"), fstype: "", source: join(dir, "rootfs"), data: "" });
    writeFileSync(join(dir, "rootfs", "etc", "x"), "changed");
    expect(vfsDriver.rootfs(dir, [l1])).toEqual(spec);
    expect(readFileSync(join(dir, "rootfs", "etc", "x"), "utf8")).toBe("changed"); // no second copy
    expect(vfsDriver.changes(dir)).toEqual({ kind: "full-tree" });
    expect(await vfsDriver.withTree(dir, [l1], scratch, async (root) => root)).toBe(join(dir, "rootfs"));
  });
  test("aufs: writable branch first; its branch is the diff minus aufs's bookkeeping; no merged view here", async () => {
    const dir = join(base, "aufs");
    const spec = aufsDriver.rootfs(dir, ["/l/1", "/l/2"]);
    expect(spec).toEqual({ driver: "aufs", target: join(dir, "merged"), fstype: "aufs", source: "none", data: `dirs=${dir}/upper=rw:/l/2=ro:/l/1=ro` });
    expect(aufsDriver.changes(dir)).toEqual({ kind: "upper", dir: join(dir, "upper"), overlayWhiteouts: false, skip: AUFS_META });
    await expect(aufsDriver.withTree(dir, [], scratch, async () => 1)).rejects.toThrow(/export of aufs containers is not supported/);
  });
});
