// pull from a loopback docker-registry: output, ids, digests, platforms, formats.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { it, minid, scratchLeft, imageJson, tree, useRegistry, type Fixture } from "../helpers/registry-suite.ts";
import { OciLayout, skopeo, startProxy } from "./registry-fixtures.ts";

let reg: Fixture["reg"], L: Fixture["L"], img1: Fixture["img1"], multiDigest: Fixture["multiDigest"];
const { proxies, roots, newRoot } = useRegistry((f) => ({ reg, L, img1, multiDigest } = f));

describe("pull", () => {
  let root: string;
  it("pulls an OCI image by tag: Docker-style output, config digest as id, tag and repo digest", async () => {
    root = newRoot("pull");
    const ref = `${reg.host}/test/busybox:1`;
    const r = await minid(root, ["pull", ref]);
    expect(r.stderr.split("\n").slice(0, 4)).toEqual([
      "1: Pulling from test/busybox",
      `${L.busybox.digest.slice(7, 19)}: Pulling fs layer`,
      `${L.hello.digest.slice(7, 19)}: Pulling fs layer`,
      `${L.whiteout.digest.slice(7, 19)}: Pulling fs layer`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${ref}\n`);
    expect(r.stderr).toContain(`${L.busybox.digest.slice(7, 19)}: Download complete\n`);
    expect(r.stderr).toContain(`${L.whiteout.digest.slice(7, 19)}: Pull complete\n`);
    expect(r.stderr).toEndWith(`Digest: ${img1.digest}\nStatus: Downloaded newer image for ${ref}\n`);
    const tags = JSON.parse(readFileSync(join(root, "image", "repositories.json"), "utf8"));
    expect(tags[ref]).toBe(img1.config);
    const rec = imageJson(root, img1.config);
    expect(rec.id).toBe(img1.config);
    expect(rec.repoDigests).toEqual([`${reg.host}/test/busybox@${img1.digest}`]);
    expect(rec.layers.map((l: any) => [l.diffId, l.digest, l.mediaType])).toEqual(
      [L.busybox, L.hello, L.whiteout].map((l) => [l.diffId, l.digest, l.mediaType]),
    );
    // Pull verifies and stores blobs; each layer is unpacked once, on first use (the next test).
    for (const l of [L.busybox, L.hello, L.whiteout]) {
      expect(existsSync(join(root, "image", "blobs", "sha256", l.digest.slice(7)))).toBe(true);
      expect(existsSync(join(root, "image", "layers", l.diffId.slice(7), "layer.json"))).toBe(true);
    }
    expect(scratchLeft(root)).toEqual([]);
    const list = await minid(root, ["images"]);
    expect(list.stdout).toContain(`${reg.host}/test/busybox`);
  });

  it("runs a container from the pulled image (layers stacked, whiteouts applied)", async () => {
    const r = await minid(root, [
      "run",
      "--rm",
      `${reg.host}/test/busybox:1`,
      "sh",
      "-c",
      "cat /etc/hello; test -e /bin/vi && echo vi-present; test -e /opt/dir && echo dir-present; cat /opt/new; ls /bin/ls",
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hi\nnew\n/bin/ls\n");
    expect(r.code).toBe(0);
    for (const l of [L.busybox, L.hello, L.whiteout]) {
      expect(existsSync(join(root, "image", "layers", l.diffId.slice(7), "diff"))).toBe(true);
    }
    expect(scratchLeft(root)).toEqual([]);
  });

  it("a layer's tree matches what umoci unpacks from the same image", async () => {
    const bundle = mkdtempSync(join(tmpdir(), "minid-umoci-"));
    roots.push(bundle);
    const oci = join(bundle, "oci");
    expect(skopeo(["copy", "--quiet", "--src-tls-verify=false", `docker://${reg.host}/test/busybox:1`, `oci:${oci}:x`]).code).toBe(0);
    // One layer at a time: an image of just the busybox layer unpacks to that layer's tree.
    const only = new OciLayout(join(bundle, "single"));
    only.tag("b", only.image({ layers: [L.busybox] }));
    const u = Bun.spawnSync(["umoci", "unpack", "--image", `${only.dir}:b`, join(bundle, "b")], { stderr: "pipe" });
    expect(u.exitCode).toBe(0);
    const mine = tree(join(root, "image", "layers", L.busybox.diffId.slice(7), "diff"));
    const theirs = tree(join(bundle, "b", "rootfs"));
    expect([...mine.entries()].sort()).toEqual([...theirs.entries()].sort());
    expect(mine.size).toBeGreaterThan(200);
  });

  it("a second pull of the same image downloads nothing", async () => {
    const proxy = startProxy(reg.url);
    proxies.push(proxy);
    const ref = `${proxy.host}/test/busybox:1`;
    const r = await minid(root, ["pull", ref]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${L.busybox.digest.slice(7, 19)}: Already exists`);
    expect(r.stderr).toContain(`Status: Downloaded newer image for ${ref}`); // a new tag
    expect(proxy.requests.filter((q) => q.path.includes("/blobs/"))).toEqual([]);
    const again = await minid(root, ["pull", ref]);
    expect(again.stderr).toContain(`Status: Image is up to date for ${ref}`);
    expect(again.code).toBe(0);
  });

  it("an index resolves to linux/amd64, sharing the layers already stored", async () => {
    const ref = `${reg.host}/test/busybox:multi`;
    const r = await minid(root, ["pull", ref]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Digest: ${multiDigest}`);
    expect(r.stderr).not.toContain("Pulling fs layer");
    const tags = JSON.parse(readFileSync(join(root, "image", "repositories.json"), "utf8"));
    expect(tags[ref]).toBe(img1.config);
    expect(imageJson(root, img1.config).repoDigests).toContain(`${reg.host}/test/busybox@${multiDigest}`);
  });

  it("pulls by digest (no tag), quietly with -q", async () => {
    const fresh = newRoot("digest");
    const ref = `${reg.host}/test/busybox@${img1.digest}`;
    const r = await minid(fresh, ["pull", "-q", ref]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${ref}\n`);
    expect(r.code).toBe(0);
    const tagsFile = join(fresh, "image", "repositories.json");
    expect(existsSync(tagsFile) ? JSON.parse(readFileSync(tagsFile, "utf8")) : {}).toEqual({});
    expect(imageJson(fresh, img1.config).repoDigests).toEqual([`${reg.host}/test/busybox@${img1.digest}`]);
  });

  it("pulls a Docker schema 2 image", async () => {
    const fresh = newRoot("docker");
    const ref = `${reg.host}/test/dockerfmt:1`;
    const raw = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]).out);
    expect(raw.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    const r = await minid(fresh, ["pull", ref]);
    expect(r.code).toBe(0);
    const run = await minid(fresh, ["run", "--rm", ref, "cat", "/etc/docker-format"]);
    expect(run.stdout).toBe("yes\n");
    // and it goes back up as Docker schema 2 with the same layer blobs
    expect((await minid(fresh, ["tag", ref, `${reg.host}/back/dockerfmt:2`])).code).toBe(0);
    const p = await minid(fresh, ["push", `${reg.host}/back/dockerfmt:2`]);
    expect(p.code).toBe(0);
    const back = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/back/dockerfmt:2`]).out);
    expect(back.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(back.layers.map((l: any) => l.digest)).toEqual(raw.layers.map((l: any) => l.digest));
    expect(back.config.digest).toBe(raw.config.digest);
  });

  it("run pulls an image it does not have, with Docker's message on stderr", async () => {
    const fresh = newRoot("runpull");
    const ref = `${reg.host}/test/busybox:1`;
    const r = await minid(fresh, ["run", "--rm", ref, "cat", "/etc/hello"]);
    expect({ code: r.code, stdout: r.stdout, err: r.code ? r.stderr : "" }).toEqual({ code: 0, stdout: "hi\n", err: "" });
    expect(r.stderr).toStartWith(`Unable to find image '${ref}' locally\n1: Pulling from test/busybox\n`);
    expect(r.stderr).toContain(`Status: Downloaded newer image for ${ref}`);
    expect(r.code).toBe(0);
    const bad = await minid(fresh, ["run", "--rm", `${reg.host}/test/busybox:nope`, "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe(
      `Unable to find image '${reg.host}/test/busybox:nope' locally\nminid: manifest for ${reg.host}/test/busybox:nope not found: manifest unknown: manifest unknown\n`,
    );
  });
});
