// minid's images in a real Docker daemon: `minid save busybox | docker load` on a root that
// never ran a container (the built-in image is imported by save itself), then the same
// command in both engines. The daemon is Debian's docker.io, private to this file.
import { afterAll, beforeAll, expect } from "bun:test";
import { TestRoot, ensureBuilt, BIN } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { startDockerd, DOCKERD, type Dockerd } from "../helpers/dockerd.ts";

const it = requires("root", DOCKERD);
let d: Dockerd | undefined;
let r: TestRoot;

beforeAll(async () => {
  ensureBuilt();
  r = new TestRoot("dload");
});

afterAll(async () => {
  await d?.stop();
  r?.cleanup();
});

it("save of the built-in image on a fresh root feeds docker load, and both engines agree", async () => {
  d = await startDockerd();
  expect(r.run(["images", "-q"]).stdout.trim()).toBe("");
  await d.loadMinidImage(BIN, r.dir);
  const mine = r.run(["images", "-q", "--no-trunc", "busybox"]).stdout.trim();
  expect(mine).toMatch(/^sha256:[0-9a-f]{64}$/);
  const theirs = await d.docker(["image", "inspect", "--format", "{{.Id}}", "busybox"]);
  expect(theirs.stdout.trim()).toBe(mine);
  const cmd = ["sh", "-c", "id; cat /etc/os-release 2>/dev/null; ls /bin | wc -l; echo $PATH"];
  const a = r.run(["run", "--rm", "busybox", ...cmd]);
  const b = await d.docker(["run", "--rm", "busybox", ...cmd]);
  expect(a.code).toBe(0);
  expect(b.code).toBe(0);
  expect(a.stdout).toBe(b.stdout);
}, 120_000);
