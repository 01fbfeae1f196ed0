// Images side by side with a real Docker daemon (Debian's docker.io, private to this file).
// rmi: the same sequence of tag / run / commit / build / rmi in both engines, every step's exit
// code, stdout and stderr compared once ids and digests are normalised. The sequence walks
// Docker's rules: -f of one of several tags, by id with several tags, the last tag of an image a
// running and then a stopped container uses, a parent with a child, build intermediates pruned
// and kept (--no-prune). push/pull: what minid pushes (gzip-compressed, OCI) Docker pulls and
// runs, and what Docker pushes minid pulls and runs, through a loopback docker-registry.
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TestRoot, ensureBuilt, BIN } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { startRegistry } from "./registry-fixtures.ts";
import { startDockerd, DOCKERD, type Dockerd } from "../helpers/dockerd.ts";

const it = requires("root", DOCKERD);
let d: Dockerd | undefined;
let r: TestRoot;
const ctx = mkdtempSync(join(tmpdir(), "minid-images-docker-ctx-"));

beforeAll(() => {
  ensureBuilt();
  r = new TestRoot("images-docker");
});
afterAll(async () => {
  await d?.stop();
  r?.cleanup();
  rmSync(ctx, { recursive: true, force: true });
});

const norm = (s: string) =>
  s
    .replace(/[a-f0-9]{64}/g, "<H>")
    .replace(/[a-f0-9]{12}/g, "<h>")
    .replace(/^(minid: |Error response from daemon: |Error: )/gm, "");

const ids: Record<string, string> = {};
const diffs: string[] = [];
/** Run `args` in both engines (`@name` is an id saved by an earlier step); note any difference. */
async function step(args: string[], save?: string, env?: Record<string, string>) {
  const sub = (side: "d" | "m") => args.map((x) => (x.startsWith("@") ? ids[side + x.slice(1)]! : x));
  const dargs = sub("d");
  if (dargs[0] === "run") dargs.splice(1, 0, "--network", "none");
  const theirs = await d!.docker(dargs, { env });
  const mine = r.run(sub("m"));
  if (save) {
    ids[`d${save}`] = theirs.stdout.trim().replace(/^sha256:/, "").slice(0, 12);
    ids[`m${save}`] = mine.stdout.trim().replace(/^sha256:/, "").slice(0, 12);
  }
  // images: the order of images created within one second is Docker's to choose (it sorts
  // by whole seconds), so lists are compared as sets of lines
  const out = (s: string) => (args[0] === "images" ? norm(s).split("\n").sort().join("\n") : norm(s));
  const a = [theirs.code, out(theirs.stdout), norm(theirs.stderr)];
  const b = [mine.code, out(mine.stdout), norm(mine.stderr)];
  if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${args.join(" ")}\n  docker: ${JSON.stringify(a)}\n  minid:  ${JSON.stringify(b)}`);
}

it("the same rmi sequence gives the same answers in Docker and minid", async () => {
  d = await startDockerd();
  expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
  await d.loadMinidImage(BIN, r.dir);
  diffs.length = 0;
  await step(["run", "--name", "mk", "busybox", "sh", "-c", "echo 1 > /f"]);
  await step(["commit", "mk", "base:1"], "base");
  await step(["rm", "mk"]);
  await step(["tag", "base:1", "base:2"]);
  await step(["rmi", "-f", "base:1"]); // one of two tags: only untagged
  await step(["tag", "base:2", "other:3"]);
  await step(["rmi", "@base"]); // by id, two repositories: must be forced
  await step(["rmi", "other:3"]);
  await step(["run", "-d", "--name", "r1", "base:2", "sleep", "300"]);
  await step(["rmi", "base:2"]); // last tag, container using it
  await step(["rmi", "-f", "@base"]); // running container: cannot be forced
  await step(["rmi", "-f", "base:2"]); // untagged only, the image stays
  await step(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
  await step(["stop", "-t", "0", "r1"]);
  await step(["rmi", "@base"]); // stopped container: must be forced
  await step(["rmi", "-f", "@base"]); // deleted; the container keeps its layers
  await step(["start", "r1"]);
  await step(["rm", "-f", "r1"]);
  await step(["run", "--name", "c2", "busybox", "sh", "-c", "echo c > /c"]);
  await step(["commit", "c2", "child:1"]);
  await step(["rm", "c2"]);
  await step(["images", "-q", "busybox"], "bb");
  await step(["rmi", "-f", "@bb"]); // dependent child
  await step(["rmi", "nosuch"]);
  await step(["tag", "child:1", "child:2"]);
  await step(["rmi", "-f", "child:1"]);
  await step(["rmi", "child:2"]); // its layer goes with it
  writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nRUN echo a > /a\nENV X=1\nRUN echo b > /b\nLABEL l=1\n");
  const classic = { DOCKER_BUILDKIT: "0" }; // the builder that keeps intermediate images, as minid's does
  const build = async () => {
    expect((await d!.docker(["build", "-q", "-t", "app:1", ctx], { env: classic })).code).toBe(0);
    expect(r.run(["build", "-q", "-t", "app:1", ctx]).code).toBe(0);
  };
  await build();
  await step(["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
  await step(["rmi", "--no-prune", "app:1"]);
  await step(["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
  await build();
  await step(["rmi", "app:1"]); // the intermediates go with it
  await step(["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
  expect(diffs).toEqual([]);
}, 240_000);

const itReg = requires("root", DOCKERD, "docker-registry");
itReg("Docker pulls and runs what minid pushes; minid pulls and runs what Docker pushes", async () => {
  if (!d) {
    d = await startDockerd();
    expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
    await d.loadMinidImage(BIN, r.dir);
  }
  const reg = await startRegistry();
  try {
    expect(r.run(["run", "--name", "interop", "busybox", "sh", "-c", "echo from-minid > /m"]).code).toBe(0);
    const mine = `${reg.host}/interop/minid:1`;
    expect(r.run(["commit", "interop", mine]).code).toBe(0);
    expect(r.run(["rm", "interop"]).code).toBe(0);
    const pushed = r.run(["push", mine]);
    expect([pushed.code, pushed.code ? pushed.stderr : ""]).toEqual([0, ""]);
    const pulled = await d.docker(["pull", "-q", mine]);
    expect([pulled.code, pulled.stderr]).toEqual([0, ""]);
    expect((await d.docker(["run", "--rm", "--network", "none", mine, "cat", "/m"])).stdout).toBe("from-minid\n");
    // the same image id on both sides: the config went up byte for byte
    expect((await d.docker(["image", "inspect", "--format", "{{.Id}}", mine])).stdout.trim()).toBe(JSON.parse(r.run(["image", "inspect", mine]).stdout)[0].Id);

    const theirs = `${reg.host}/interop/docker:1`;
    expect((await d.docker(["run", "--name", "dk", "--network", "none", "busybox", "sh", "-c", "echo from-docker > /d"])).code).toBe(0);
    expect((await d.docker(["commit", "dk", theirs])).code).toBe(0);
    expect((await d.docker(["push", theirs])).code).toBe(0);
    const back = r.run(["pull", "-q", theirs]);
    expect([back.code, back.stderr]).toEqual([0, ""]);
    expect(r.run(["run", "--rm", theirs, "cat", "/d"]).stdout).toBe("from-docker\n");

    // the same pulled image in both: digest rows, rmi by digest and by tag answer alike
    diffs.length = 0;
    const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)![1];
    const byDigest = `${reg.host}/interop/minid@${digest}`;
    await step(["rmi", mine]); // the tag and its repository's digest go, then the image
    await step(["pull", "-q", byDigest]);
    await step(["images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", `${reg.host}/interop/minid`]);
    await step(["rmi", byDigest]);
    expect(diffs).toEqual([]);
  } finally {
    await reg.stop();
  }
}, 180_000);
