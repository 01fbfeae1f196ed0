// rmi as Docker's daemon decides it (daemon/images/image_delete.go): which reference goes,
// when the image goes with it, the conflicts and their words, and the untagged parents a
// deletion prunes (build steps) unless --no-prune. Effects are checked in the store on disk.
import { describe, expect, afterAll, beforeAll } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";

const it = requires("root");
let r: TestRoot;
beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  ensureBuilt();
  r = new TestRoot("rmi");
  expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
});
afterAll(() => r?.cleanup());

function ok(args: string[]) {
  const res = r.run(args);
  if (res.code !== 0) throw new Error(`minid ${args.join(" ")} exited ${res.code}: ${res.stderr}`);
  return res;
}
const idOf = (name: string) => JSON.parse(ok(["image", "inspect", name]).stdout)[0].Id as string;
const short = (id: string) => id.slice(7, 19);
const tags = () => JSON.parse(readFileSync(join(r.dir, "image", "repositories.json"), "utf8")) as Record<string, string>;
const recordExists = (id: string) => existsSync(join(r.dir, "image", "images", `${id.slice(7)}.json`));

/** A one-layer image of its own (so deleting it frees a layer): a commit of busybox. */
function own(tag: string, content: string): string {
  ok(["run", "--name", `mk-${content}`, "busybox", "sh", "-c", `echo ${content} > /f`]);
  const id = ok(["commit", `mk-${content}`, tag]).stdout.trim();
  ok(["rm", `mk-${content}`]);
  return id;
}

describe("rmi", () => {
  it("-f NAME:TAG untags only that tag; the image goes with its last tag, with its layer", () => {
    const id = own("multi:1", "one");
    ok(["tag", "multi:1", "multi:2"]);
    ok(["tag", "multi:1", "other/name:x"]);
    expect(ok(["rmi", "-f", "multi:1"]).stdout).toBe("Untagged: multi:1\n");
    expect(tags()["multi:2"]).toBe(id);
    expect(tags()["other/name:x"]).toBe(id);
    expect(recordExists(id)).toBe(true);
    expect(ok(["rmi", "multi:2"]).stdout).toBe("Untagged: multi:2\n");
    const top = JSON.parse(ok(["image", "inspect", id]).stdout)[0].RootFS.Layers.at(-1) as string;
    const last = ok(["rmi", "other/name:x"]).stdout.split("\n");
    expect(last[0]).toBe("Untagged: other/name:x");
    expect(last[1]).toBe(`Deleted: ${id}`);
    // the commit's own layer is deleted too (named by ChainID), busybox's stays
    expect(last[2]).toMatch(/^Deleted: sha256:[a-f0-9]{64}$/);
    expect(last.length).toBe(4);
    expect(recordExists(id)).toBe(false);
    expect(existsSync(join(r.dir, "image", "layers", top.slice(7)))).toBe(false);
  });

  it("by id: several tags need -f, which removes them all; one tag goes with the image", () => {
    const id = own("byid:1", "two");
    ok(["tag", "byid:1", "byid:2"]);
    const refused = r.run(["rmi", short(id)]);
    expect([refused.code, refused.stdout, refused.stderr]).toEqual([1, "", `minid: conflict: unable to delete ${short(id)} (must be forced) - image is referenced in multiple repositories\n`]);
    const forced = ok(["rmi", "-f", short(id)]).stdout.split("\n");
    expect(forced.slice(0, 3)).toEqual(["Untagged: byid:1", "Untagged: byid:2", `Deleted: ${id}`]);
    expect(recordExists(id)).toBe(false);
    const one = own("single:1", "three");
    expect(ok(["rmi", one]).stdout.split("\n").slice(0, 2)).toEqual(["Untagged: single:1", `Deleted: ${one}`]);
  });

  it("containers: a running one's image cannot be deleted even with -f; a stopped one's only with -f", () => {
    const id = own("used:1", "four");
    const cid = ok(["run", "-d", "--name", "runner", "used:1", "sleep", "300"]).stdout.trim();
    const byTag = r.run(["rmi", "used:1"]);
    expect([byTag.code, byTag.stderr]).toEqual([1, `minid: conflict: unable to remove repository reference "used:1" (must force) - container ${cid.slice(0, 12)} is using its referenced image ${short(id)}\n`]);
    const byId = r.run(["rmi", "-f", id]);
    expect([byId.code, byId.stderr]).toEqual([1, `minid: conflict: unable to delete ${short(id)} (cannot be forced) - image is being used by running container ${cid.slice(0, 12)}\n`]);
    // -f by tag: untagged only, the image stays for the running container
    expect(ok(["rmi", "-f", "used:1"]).stdout).toBe("Untagged: used:1\n");
    expect(recordExists(id)).toBe(true);
    expect(ok(["exec", "runner", "cat", "/f"]).stdout).toBe("four\n");
    ok(["stop", "-t", "0", "runner"]);
    const stopped = r.run(["rmi", id]);
    expect([stopped.code, stopped.stderr]).toEqual([1, `minid: conflict: unable to delete ${short(id)} (must be forced) - image is being used by stopped container ${cid.slice(0, 12)}\n`]);
    expect(ok(["rmi", "-f", id]).stdout.split("\n")[0]).toBe(`Deleted: ${id}`);
    // the container still starts from its layers, and can be committed and saved (their blobs stayed)
    ok(["start", "runner"]);
    expect(ok(["exec", "runner", "cat", "/f"]).stdout).toBe("four\n");
    ok(["commit", "runner", "after:1"]);
    ok(["save", "-o", join(r.dir, "after.tar"), "after:1"]);
    ok(["rmi", "after:1"]);
    ok(["rm", "-f", "runner"]);
    const unknown = r.run(["rmi", "nosuch:1"]);
    expect([unknown.code, unknown.stderr]).toEqual([1, "minid: No such image: nosuch:1\n"]);
  });

  it("an image another is built on is not deleted by id; by tag it is untagged only", () => {
    const base = own("base:1", "five");
    ok(["run", "--name", "child-src", "base:1", "true"]);
    const child = ok(["commit", "child-src", "child:1"]).stdout.trim();
    ok(["rm", "child-src"]);
    const refused = r.run(["rmi", "-f", base]);
    expect([refused.code, refused.stderr]).toEqual([1, `minid: conflict: unable to delete ${short(base)} (cannot be forced) - image has dependent child images\n`]);
    expect(ok(["rmi", "base:1"]).stdout).toBe("Untagged: base:1\n");
    expect(recordExists(base)).toBe(true);
    // deleting the child prunes its now untagged parent
    const out = ok(["rmi", "child:1"]).stdout.split("\n");
    expect(out.filter((l) => l.startsWith("Deleted: sha256:") && (l.endsWith(child.slice(7)) || l.endsWith(base.slice(7))))).toEqual([`Deleted: ${child}`, `Deleted: ${base}`]);
    expect(recordExists(base)).toBe(false);
  });

  it("a built image takes its untagged intermediate images with it; --no-prune keeps them", () => {
    const ctx = join(r.dir, "ctx");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nRUN echo a > /a\nENV X=1\nRUN echo b > /b\nLABEL l=1\n");
    const all = () => ok(["images", "-a", "-q", "--no-trunc"]).stdout.trim().split("\n").filter(Boolean);
    const start = all();
    const built = ok(["build", "-q", "-t", "app:1", ctx]).stdout.trim();
    const steps = all().filter((i) => !start.includes(i) && i !== built);
    expect(steps.length).toBe(3); // RUN, ENV, RUN: LABEL is the final image
    const kept = ok(["rmi", "--no-prune", "app:1"]).stdout;
    expect(kept).toMatch(new RegExp(`^Untagged: app:1\\nDeleted: ${built}\\n`));
    for (const s of steps) expect(recordExists(s)).toBe(true);
    // built again (the steps from cache, the last step anew), then removed with its parents:
    // one Deleted line for each
    const again = ok(["build", "-q", "-t", "app:1", ctx]).stdout.trim();
    expect(all().filter((i) => !start.includes(i) && i !== again).sort()).toEqual(steps.sort());
    const lines = ok(["rmi", "app:1"]).stdout.split("\n");
    const deletedImages = lines.filter((l) => /^Deleted: sha256:/.test(l)).map((l) => l.slice(9)).filter((d) => d === again || steps.includes(d));
    expect(deletedImages.sort()).toEqual([again, ...steps].sort());
    for (const s of steps) expect(recordExists(s)).toBe(false);
    expect(all().sort()).toEqual(start.sort());
  });
});
