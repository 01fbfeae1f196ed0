// The built-in busybox has one id for a given binary (no import time in it), `save` is
// byte-for-byte repeatable, and `load` names images as the archive does: OCI ref.name (full,
// name:tag, or tag-only as skopeo writes them) and Docker 25+'s index next to manifest.json.
import { describe, expect } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { sh, useImageRoot } from "../helpers/images.ts";

const it = requires("root");
const withSkopeo = requires("root", "skopeo");
const { r, work, ok } = useImageRoot("identity");

/** `images` as repo:tag → short id, from the table (what a user reads). */
function listing(root: TestRoot): string[] {
  const res = root.run(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
  expect(res.code).toBe(0);
  return res.stdout.trim().split("\n").filter(Boolean).sort();
}

describe("the built-in image", () => {
  it("has the same id in every fresh root, a fixed creation date, and saves to identical bytes", () => {
    const ids: string[] = [];
    const sums: string[] = [];
    for (const n of [1, 2]) {
      const fresh = new TestRoot(`identity-${n}`);
      try {
        expect(fresh.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
        ids.push(fresh.run(["images", "-q", "--no-trunc", "busybox"]).stdout);
        for (const k of [1, 2]) {
          const file = join(work, `bb-${n}-${k}.tar`);
          expect(fresh.run(["save", "-o", file, "busybox"]).code).toBe(0);
          sums.push(sh(`sha256sum < '${file}'`));
        }
        const created = JSON.parse(fresh.run(["image", "inspect", "busybox"]).stdout)[0].Created as string;
        // busybox's own date (the package's), not the time of the import
        expect(Date.now() - Date.parse(created)).toBeGreaterThan(60_000);
      } finally {
        fresh.cleanup();
      }
    }
    expect(ids[0]).toMatch(/^sha256:[a-f0-9]{64}\n$/);
    expect(ids[1]).toBe(ids[0]!);
    expect(new Set(sums).size).toBe(1);
  });
});

describe("load names images as the archive does", () => {
  withSkopeo("skopeo oci-archive with name:tag, a full reference, a bare tag; docker-archive", () => {
    ok(["run", "--rm", "busybox", "true"]);
    const src = join(work, "src.tar");
    ok(["save", "-o", src, "busybox"]);
    const copies: [string, string][] = [
      ["oci-archive", "myimg:1"],
      ["oci-archive", "localhost:5000/team/app:3"],
      ["oci-archive", "2"],
      ["docker-archive", "some/name:4"],
    ];
    const lines: string[] = [];
    for (const [i, [transport, name]] of copies.entries()) {
      const file = join(work, `copy-${i}.tar`);
      const c = Bun.spawnSync(["skopeo", "copy", "--quiet", `docker-archive:${src}`, `${transport}:${file}:${name}`], { stderr: "pipe" });
      expect(c.stderr.toString()).toBe("");
      lines.push(ok(["load", "-i", file]).stdout);
    }
    expect(lines).toEqual(["Loaded image: myimg:1\n", "Loaded image: localhost:5000/team/app:3\n", "Loaded image: 2:latest\n", "Loaded image: some/name:4\n"]);
    const shown = listing(r);
    for (const n of ["myimg:1", "localhost:5000/team/app:3", "2:latest", "some/name:4"]) expect(shown.some((l) => l.startsWith(`${n} `))).toBe(true);
    expect(shown.filter((l) => l.startsWith("<none>"))).toEqual([]);
    // and what was loaded runs
    expect(ok(["run", "--rm", "myimg:1", "echo", "ok"]).stdout).toBe("ok\n");
  });

  it("a Docker 25+ tar whose manifest.json has no RepoTags takes the names of its index.json", () => {
    ok(["run", "--rm", "busybox", "true"]);
    ok(["tag", "busybox", "indexed/only:7"]);
    const dir = join(work, "d25");
    mkdirSync(dir, { recursive: true });
    ok(["save", "-o", join(work, "d25.tar"), "indexed/only:7"]);
    sh(`tar -xf '${join(work, "d25.tar")}' -C '${dir}'`);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    manifest[0].RepoTags = null;
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
    sh(`cd '${dir}' && tar -cf ../d25-untagged.tar *`);
    const other = new TestRoot("identity-d25");
    try {
      const res = other.run(["load", "-i", join(work, "d25-untagged.tar")]);
      expect([res.code, res.stdout]).toEqual([0, "Loaded image: indexed/only:7\n"]);
      expect(listing(other)).toEqual([`indexed/only:7 ${JSON.parse(ok(["image", "inspect", "busybox"]).stdout)[0].Id.slice(7, 19)}`]);
    } finally {
      other.cleanup();
    }
  });

  it("an image with no reference at all is the only <none> <none>", () => {
    ok(["run", "--name", "anon", "busybox", "sh", "-c", "echo x > /x"]);
    const id = ok(["commit", "anon"]).stdout.trim();
    ok(["rm", "anon"]);
    expect(listing(r)).toContain(`<none>:<none> ${id.slice(7, 19)}`);
    ok(["rmi", id]);
  });
});
