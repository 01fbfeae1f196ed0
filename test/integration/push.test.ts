// push to a loopback docker-registry; what skopeo and umoci read back.
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { it, minid, imageJson, tree, useRegistry, type Fixture } from "../helpers/registry-suite.ts";
import { skopeo, type Layer } from "./registry-fixtures.ts";

let reg: Fixture["reg"], L: Fixture["L"];
const { roots, newRoot } = useRegistry((f) => ({ reg, L } = f));

describe("push", () => {
  it("pushes a pulled image under another name (blobs mounted or skipped), readable by skopeo and umoci", async () => {
    const root = newRoot("push");
    const source = `${reg.host}/test/gz:1`;
    const pulled = await minid(root, ["pull", "-q", source]);
    expect(pulled.code).toBe(0);
    const orig = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${source}`]).out);
    const target = `${reg.host}/pushed/bb:2`;
    expect((await minid(root, ["tag", source, target])).code).toBe(0);
    const r = await minid(root, ["push", target]);
    expect(r.code).toBe(0);
    const m = /^2: digest: (sha256:[a-f0-9]{64}) size: (\d+)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(r.stderr.split("\n").slice(0, 4)).toEqual([
      `The push refers to repository [${reg.host}/pushed/bb]`,
      `${L.whiteout.diffId.slice(7, 19)}: Preparing`,
      `${L.helloGz.diffId.slice(7, 19)}: Preparing`,
      `${L.busybox.diffId.slice(7, 19)}: Preparing`,
    ]);
    expect(r.stderr).toContain(`${L.busybox.diffId.slice(7, 19)}: Mounted from test/gz\n`);
    const info = JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${target}`]).out);
    expect(info.Digest).toBe(m![1]);
    expect(info.Layers).toEqual([L.busybox.digest, L.helloGz.digest, L.whiteout.digest]);
    const raw = skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${target}`]).out;
    expect(raw.length).toBe(Number(m![2]));
    expect(JSON.parse(raw).config.digest).toBe(orig.config.digest);
    // the repo digest is recorded
    expect(imageJson(root, orig.config.digest).repoDigests).toContain(`${reg.host}/pushed/bb@${m![1]}`);
    // trees: umoci unpack of the pushed image equals that of the original
    const work = mkdtempSync(join(tmpdir(), "minid-umoci-"));
    roots.push(work);
    for (const [name, ref] of [
      ["orig", source],
      ["pushed", target],
    ]) {
      expect(skopeo(["copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${join(work, "oci")}:${name}`]).code).toBe(0);
      const u = Bun.spawnSync(["umoci", "unpack", "--image", `${join(work, "oci")}:${name}`, join(work, name)], { stderr: "pipe" });
      expect(u.exitCode).toBe(0);
    }
    const a = tree(join(work, "orig", "rootfs"));
    const b = tree(join(work, "pushed", "rootfs"));
    expect([...b.entries()].sort()).toEqual([...a.entries()].sort());
    expect(a.has("/etc/hello")).toBe(true);
    expect(a.has("/bin/vi")).toBe(false);
    // pushing again: every layer already exists
    const again = await minid(root, ["push", target]);
    expect(again.code).toBe(0);
    expect(again.stderr.match(/Layer already exists/g)?.length).toBe(3);
    expect(again.stdout).toBe(r.stdout);
  });

  it("uploads an imported image, which a fresh root pulls and runs", async () => {
    const root = newRoot("pushimp");
    const target = `${reg.host}/imported/busybox:v1`;
    expect((await minid(root, ["import", "-c", 'CMD ["sh"]', join(import.meta.dir, "..", "..", "images", "build", "busybox.tar.gz"), target])).code).toBe(0);
    const r = await minid(root, ["push", target]);
    expect(r.stderr).toContain(": Pushed\n");
    expect(r.code).toBe(0);
    const fresh = newRoot("pullimp");
    const run = await minid(fresh, ["run", "--rm", target, "sh", "-c", "echo ok; ls /bin/busybox"]);
    expect({ code: run.code, stdout: run.stdout, err: run.code ? run.stderr : "" }).toEqual({ code: 0, stdout: "ok\n/bin/busybox\n", err: "" });
  });

  it("refuses an unknown local tag and a digest reference", async () => {
    const root = newRoot("pushbad");
    const r = await minid(root, ["push", `${reg.host}/nothing/here:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`minid: An image does not exist locally with the tag: ${reg.host}/nothing/here:1\n`);
    const d = await minid(root, ["push", `${reg.host}/x@sha256:${"a".repeat(64)}`]);
    expect(d.code).toBe(1);
  });
});
