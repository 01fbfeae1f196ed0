// storage/safe-tree.ts: what minid reads of a tree comes from the inode it holds, never from
// what a name points to later, and never through a symlink. Deterministic versions of the
// races the integration test (export-symlink-race) runs against a live container.
import { describe, expect, test, afterAll } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TreeDir, S_IFDIR, S_IFLNK, S_IFREG, withEntryAt } from "../../src/storage/safe-tree.ts";
import { writeLayerTar } from "../../src/image/layer-write.ts";

const base = mkdtempSync(join(tmpdir(), "minid-safetree-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const victim = join(base, "victim");
mkdirSync(victim);
writeFileSync(join(victim, "secret.txt"), "HOST-SECRET");

let n = 0;
function tree(): string {
  const t = join(base, `tree${n++}`);
  mkdirSync(join(t, "d"), { recursive: true });
  writeFileSync(join(t, "f"), "decoy-file!");
  writeFileSync(join(t, "d", "secret.txt"), "decoy-dir-f");
  symlinkSync(victim, join(t, "data"));
  return t;
}

function readAll(fd: number): string {
  const b = Buffer.alloc(64);
  const k = require("node:fs").readSync(fd, b, 0, 64, 0);
  require("node:fs").closeSync(fd);
  return b.subarray(0, k).toString();
}

for (const clone of [false, true]) {
  describe(`TreeDir${clone ? " (nodev clone)" : ""}`, () => {
    test("a symlink is held as the symlink, never as its target", () => {
      const root = TreeDir.open(tree(), { clone });
      try {
        const e = root.entry("data")!;
        expect(e.type).toBe(S_IFLNK);
        expect(e.readlink().toString()).toBe(victim);
        e.close();
        // A path through the symlink does not resolve.
        expect(withEntryAt(root, "data/secret.txt", (x) => x)).toBeUndefined();
        expect(withEntryAt(root, "d/secret.txt", (x) => x?.st.size)).toBe(11);
      } finally {
        root.close();
      }
    });

    test("a file swapped for a symlink to a host file after it was held: the held file is read", () => {
      const t = tree();
      const root = TreeDir.open(t, { clone });
      try {
        const e = root.entry("f")!;
        expect(e.type).toBe(S_IFREG);
        symlinkSync(join(victim, "secret.txt"), join(t, "f.new"));
        renameSync(join(t, "f.new"), join(t, "f"));
        expect(readAll(e.openFile())).toBe("decoy-file!");
        e.close();
        // Held now, it is the symlink.
        const now = root.entry("f")!;
        expect(now.type).toBe(S_IFLNK);
        now.close();
      } finally {
        root.close();
      }
    });

    test("a directory swapped for a symlink to a host directory after it was held: the held one is listed and read", () => {
      const t = tree();
      const root = TreeDir.open(t, { clone });
      try {
        const e = root.entry("d")!;
        expect(e.type).toBe(S_IFDIR);
        const d = e.openDir();
        e.close();
        renameSync(join(t, "d"), join(t, "d.old"));
        symlinkSync(victim, join(t, "d"));
        expect(d.names()).toEqual(["secret.txt"]);
        const f = d.entry("secret.txt")!;
        expect(readAll(f.openFile())).toBe("decoy-dir-f");
        f.close();
        d.close();
      } finally {
        root.close();
      }
    });

    test("an entry gone since the listing is undefined; a FIFO is held without being opened", () => {
      const t = tree();
      Bun.spawnSync(["mkfifo", join(t, "p")]);
      const root = TreeDir.open(t, { clone });
      try {
        expect(root.entry("nope")).toBeUndefined();
        const p = root.entry("p")!; // opening a FIFO for reading would block here
        expect(p.st.mode & 0o170000).toBe(0o010000);
        p.close();
      } finally {
        root.close();
      }
    });
  });
}

test("writeLayerTar archives a symlinked directory pointing out of the tree as the symlink only", async () => {
  const t = tree();
  const out = join(base, "out.tar");
  await writeLayerTar(t, out, { overlayWhiteouts: false });
  expect(readFileSync(out).includes("HOST-SECRET")).toBe(false);
  const list = Bun.spawnSync(["tar", "-tvf", out]).stdout.toString();
  expect(list).toMatch(new RegExp(`^l.* data -> ${victim}$`, "m"));
  expect(list).not.toContain("data/");
});
