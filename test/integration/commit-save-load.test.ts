// commit, commit -o, save, load, tag and rmi end to end, as root, with the real binary; skopeo,
// umoci and (when installed) podman read what minid writes.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { createHash } from "node:crypto";
import {
  existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestRoot, ensureBuilt } from "../helpers/minid.ts";
import { have, requires } from "../helpers/requires.ts";
import { lgetxattr, lsetxattr } from "../../src/linux/libc.ts";
import { CHANGES, checkConsistent, runtimeOnly, sh, treeOf, useImageRoot } from "../helpers/images.ts";

const it = requires("root");
const { r, work, ok, extract } = useImageRoot("images");

function layerDirOf(image: string, i = -1): string {
  const doc = JSON.parse(ok(["image", "inspect", image]).stdout)[0];
  const layers: string[] = doc.RootFS.Layers;
  const diff = layers.at(i)!.slice(7);
  return join(r.dir, "image", "layers", diff, "diff");
}

/** The image store without scratch space: what "unchanged" means for bad input. */
function storeSnapshot(): string {
  return sh(`cd '${r.dir}/image' && find . -path ./tmp -prune -o -path ./lock -prune -o -print | sort && cat repositories.json 2>/dev/null || true`);
}


describe("commit", () => {
  it("round trip: the new image holds exactly the container's tree", () => {
    ok(["run", "--name", "src1", "busybox", "sh", "-c", CHANGES]);
    // An xattr set on the container's layer from the host must survive too.
    const upper = join(r.dir, "containers", ok(["ps", "-a", "-q", "--no-trunc", "-f", "name=^src1$"]).stdout.trim(), "upper");
    lsetxattr(join(upper, "added.txt"), "user.minid", Buffer.from("kept"));

    const res = ok(["commit", "-m", "round trip", "-a", "Tester <t@example.com>", "-c", 'CMD ["sh"]', "src1", "snap:one"]);
    const id = res.stdout.trim();
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(res.stderr).toBe("");

    // The layer tar: OCI whiteouts for deletions, an opaque marker for the recreated /var,
    // nothing of what minid mounted over /etc.
    const layer = join(r.dir, "image", "blobs", "sha256", JSON.parse(ok(["image", "inspect", "snap:one"]).stdout)[0].RootFS.Layers.at(-1).slice(7));
    const names = sh(`tar tf '${layer}'`).split("\n");
    expect(names).toContain("etc/.wh.group");
    expect(names).toContain(".wh.home");
    expect(names).toContain("var/.wh..wh..opq");
    expect(names.filter((n) => /^etc\/(hosts|hostname|resolv\.conf)$/.test(n))).toEqual([]);
    // The layer is unpacked once, when the first container of the new image needs it.
    expect(existsSync(layerDirOf("snap:one"))).toBe(false);
    ok(["run", "--name", "dst1", "snap:one", "true"]);
    expect(lgetxattr(join(layerDirOf("snap:one"), "added.txt"), "user.minid")?.toString()).toBe("kept");

    // Tree-wise: the container's merged view (export) == a fresh container of the new image.
    ok(["export", "src1", "-o", join(work, "src1.tar")]);
    ok(["export", "dst1", "-o", join(work, "dst1.tar")]);
    const before = treeOf(extract(join(work, "src1.tar"), "src1"), runtimeOnly);
    const after = treeOf(extract(join(work, "dst1.tar"), "dst1"), runtimeOnly);
    expect([...after]).toEqual([...before]);
    expect(before.get("usr/suidbox")).toMatch(/^file \d+ \w+ 4755 0:0$/);
    expect(before.get("abs.link")).toMatch(/^link \/etc\/passwd /);
    expect(before.get("usr/rel.link")).toMatch(/^link \.\.\/etc\/passwd /);
    expect(before.get("root")).toBe("dir 750 0:0");
    expect(before.get("fifo")).toMatch(/^fifo/);
    expect(before.has("home")).toBe(false);
    expect(before.has("etc/group")).toBe(false);
    expect([...before.keys()].filter((k) => k.startsWith("var/"))).toEqual(["var/fresh", "var/fresh/f"]);

    // And from inside: content, hardlink, setuid, deletions stay deleted.
    const inside = ok(["run", "--rm", "snap:one", "sh", "-c",
      "cat /added.txt; tail -1 /etc/passwd; [ $(stat -c %i /added.txt) = $(stat -c %i /added.hard) ] && echo samefile; " +
      "stat -c %a /usr/suidbox; ls /home /etc/group 2>&1 | wc -l; ls /var; readlink /abs.link; cat /usr/rel.link | head -1"]).stdout;
    expect(inside.split("\n")).toEqual(["added", "more", "samefile", "4755", "2", "fresh", "/etc/passwd", "root:x:0:0:root:/root:/bin/sh", ""]);
    ok(["rm", "src1", "dst1"]);
  });

  it("records config and history like docker", () => {
    const doc = JSON.parse(ok(["image", "inspect", "snap:one"]).stdout)[0];
    expect(doc.Config.Cmd).toEqual(["sh"]);
    expect(doc.Config.Env).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(doc.Config.Env.some((e: string) => e.startsWith("HOSTNAME="))).toBe(false);
    expect(doc.Author).toBe("Tester <t@example.com>");
    expect(doc.Comment).toBe("round trip");
    expect(doc.RepoTags).toEqual(["snap:one"]);
    const base = JSON.parse(ok(["image", "inspect", "busybox"]).stdout)[0];
    expect(doc.RootFS.Layers.slice(0, -1)).toEqual(base.RootFS.Layers);
    expect(doc.RootFS.Layers.length).toBe(base.RootFS.Layers.length + 1);
    expect(ok(["history", "--format", "{{.Comment}}", "snap:one"]).stdout.split("\n")[0]).toBe("round trip");

    const table = ok(["history", "snap:one"]).stdout.split("\n");
    expect(table[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(table[1]).toMatch(new RegExp(`^${doc.Id.slice(7, 19)}\\s+.* ago\\s+sh -c set -e; echo added.*…\\s+[\\d.]+[kM]B\\s+round trip$`));
    expect(table[2]).toMatch(/^<missing>/);
    expect(ok(["history", "-q", "snap:one"]).stdout.split("\n")[0]).toBe(doc.Id.slice(7, 19));
    expect(ok(["history", "--no-trunc", "snap:one"]).stdout).toContain(`${doc.Id} `);
    expect(ok(["history", "--no-trunc", "snap:one"]).stdout).toContain("mkfifo /fifo");
    const rows = ok(["history", "--format", "json", "snap:one"]).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(rows[0].Comment).toBe("round trip");
    expect(Object.keys(rows[0]).sort()).toEqual(["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]);
    const bad = r.run(["history", "nosuch:image"]);
    expect(bad.code).toBe(1); // the Docker CLI exits 1 outside run/create
    expect(bad.stderr.trim().split("\n").length).toBe(1);
  });

  it("a running container, with volumes and mount points left out", async () => {
    const vol = join(work, "vol");
    const proc = r.spawn(["run", "--name", "live", "-v", `${vol}:/data/vol`, "busybox", "sh", "-c",
      "echo inside > /data/vol/file; echo state > /live.txt; touch /ready; sleep 60"]);
    const id = () => r.run(["ps", "-a", "-q", "--no-trunc", "-f", "name=^live$"]).stdout.trim();
    for (let i = 0; i < 100 && !(id() && existsSync(join(r.dir, "containers", id(), "upper", "ready"))); i++) await Bun.sleep(50);
    try {
      const res = ok(["commit", "live", "live:snap"]);
      expect(res.stdout.trim()).toMatch(/^sha256:/);
      const out = ok(["run", "--rm", "live:snap", "sh", "-c", "cat /live.txt; ls -d /data 2>&1; wc -c < /etc/hosts"]).stdout;
      expect(out.split("\n")[0]).toBe("state");
      expect(out).toContain("No such file or directory"); // neither the volume nor its mount point
      const names = sh(`tar tf '${join(r.dir, "image", "blobs", "sha256", JSON.parse(ok(["image", "inspect", "live:snap"]).stdout)[0].RootFS.Layers.at(-1).slice(7))}'`);
      expect(names).not.toContain("data/");
      expect(names).not.toContain("etc/hosts");
      expect(readFileSync(join(vol, "file"), "utf8")).toBe("inside\n");
      // Frozen only while its layer was read: it runs on.
      expect(r.run(["ps", "-f", "name=^live$"]).stdout).toMatch(/Up [^\n]*live\n$/);
      expect(r.run(["ps", "-f", "name=^live$"]).stdout).not.toContain("Paused");
    } finally {
      r.run(["rm", "-f", "live"]);
      proc.kill(9);
      await proc.exited;
    }
  });

  it("vfs storage: the diff against the image layers", () => {
    const opts = { env: { MINID_STORAGE_DRIVER: "vfs" } };
    ok(["run", "--name", "vsrc", "busybox", "sh", "-c", CHANGES], opts);
    ok(["commit", "vsrc", "vsnap"], opts);
    const names = sh(`tar tf '${join(r.dir, "image", "blobs", "sha256", JSON.parse(ok(["image", "inspect", "vsnap"]).stdout)[0].RootFS.Layers.at(-1).slice(7))}'`).split("\n");
    expect(names).toContain("etc/.wh.group");
    expect(names).toContain(".wh.home");
    expect(names).not.toContain("bin/busybox"); // unchanged files are not in the diff
    ok(["run", "--name", "vdst", "vsnap", "true"], opts);
    ok(["export", "vsrc", "-o", join(work, "vsrc.tar")]);
    ok(["export", "vdst", "-o", join(work, "vdst.tar")]);
    const before = treeOf(extract(join(work, "vsrc.tar"), "vsrc"), runtimeOnly);
    const after = treeOf(extract(join(work, "vdst.tar"), "vdst"), runtimeOnly);
    expect([...after]).toEqual([...before]);
    ok(["rm", "vsrc", "vdst"]);
  });

  it("overlay with the full-tree diff (what redirect_dir/metacopy hosts use) gives the same tree", () => {
    ok(["run", "--name", "nsrc", "busybox", "sh", "-c", CHANGES]);
    ok(["commit", "nsrc", "nsnap"], { env: { MINID_NAIVE_DIFF: "1" } });
    const names = sh(`tar tf '${join(r.dir, "image", "blobs", "sha256", JSON.parse(ok(["image", "inspect", "nsnap"]).stdout)[0].RootFS.Layers.at(-1).slice(7))}'`).split("\n");
    expect(names).toContain("etc/.wh.group");
    expect(names).not.toContain("bin/busybox");
    expect(names.filter((n) => /^etc\/(hosts|hostname|resolv\.conf)$/.test(n))).toEqual([]);
    ok(["run", "--name", "ndst", "nsnap", "true"]);
    ok(["export", "nsrc", "-o", join(work, "nsrc.tar")]);
    ok(["export", "ndst", "-o", join(work, "ndst.tar")]);
    const before = treeOf(extract(join(work, "nsrc.tar"), "nsrc"), runtimeOnly);
    const after = treeOf(extract(join(work, "ndst.tar"), "ndst"), runtimeOnly);
    expect([...after]).toEqual([...before]);
    ok(["rm", "nsrc", "ndst"]);
    expect(r.leakedMounts()).toEqual([]);
  });

  it("bad input: unknown container, bad reference, bad change", () => {
    for (const args of [["commit", "nosuch"], ["commit", "nosuch", "Bad:Name"], ["commit", "-c", "FROM x", "nosuch"]]) {
      const res = r.run(args);
      expect(res.code).toBe(1);
      expect(res.stderr.trim().split("\n").length).toBe(1);
    }
  });
});

describe("commit -o and save: archives other tools read", () => {
  requires("root", "skopeo", "umoci")("skopeo inspects and copies it, umoci unpacks the same tree the container saw", () => {
    ok(["run", "--name", "arch", "busybox", "sh", "-c", CHANGES]);
    const file = join(work, "arch.tar");
    const res = ok(["commit", "-o", file, "arch", "arch:v1"]);
    expect(res.stdout.trim()).toMatch(/^sha256:/);
    const inspect = JSON.parse(sh(`skopeo inspect docker-archive:${file}`));
    expect(inspect.Layers.length).toBe(2);
    const entries = sh(`tar tf ${file}`).split("\n").filter(Boolean);
    for (const e of ["manifest.json", "repositories", "oci-layout", "index.json"]) expect(entries).toContain(e);
    const oci = join(work, "oci");
    sh(`skopeo copy -q docker-archive:${file} oci:${oci}:v1`);
    const bundle = join(work, "bundle");
    sh(`umoci unpack --image ${oci}:v1 ${bundle}`);
    ok(["export", "arch", "-o", join(work, "arch-export.tar")]);
    const view = treeOf(extract(join(work, "arch-export.tar"), "archview"), runtimeOnly);
    const unpacked = treeOf(join(bundle, "rootfs"), runtimeOnly);
    expect([...unpacked]).toEqual([...view]);
    // The OCI layout half alone is a valid image too.
    const layoutDir = join(work, "layout");
    mkdirSync(layoutDir);
    sh(`tar xf ${file} -C ${layoutDir}`);
    expect(JSON.parse(sh(`skopeo inspect oci:${layoutDir}:v1`)).Layers.length).toBe(2);
    ok(["rm", "arch"]);
  });

  it("commit -o writes the new layer into the archive as it writes it to the store: same bytes as save, named by DiffID", () => {
    // 12 MB more than the changes: past the size where the layer is hashed on a second thread.
    ok(["run", "--name", "tee", "busybox", "sh", "-c", `${CHANGES}; head -c 12582912 /dev/urandom > /big.bin`]);
    const file = join(work, "tee.tar");
    const id = ok(["commit", "-o", file, "tee", "tee:v1"]).stdout.trim();
    const saved = join(work, "tee-saved.tar");
    ok(["save", "-o", saved, "tee:v1"]);
    const a = extract(file, "tee-a");
    const b = extract(saved, "tee-b");
    const blobs = readdirSync(join(a, "blobs", "sha256")).sort();
    expect(blobs).toEqual(readdirSync(join(b, "blobs", "sha256")).sort());
    // Every blob is what its name says, and identical to what save writes from the store.
    for (const h of blobs) {
      const data = readFileSync(join(a, "blobs", "sha256", h));
      expect(createHash("sha256").update(data).digest("hex")).toBe(h);
      expect(data.equals(readFileSync(join(b, "blobs", "sha256", h)))).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(a, "manifest.json"), "utf8"))[0].Config).toBe(`blobs/sha256/${id.slice(7)}`);
    // No archive can be written: nothing is committed, nothing is left.
    const images = ok(["images", "-q"]).stdout;
    const bad = r.run(["commit", "-o", join(work, "no-such-dir", "x.tar"), "tee", "tee:v2"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("no such directory");
    expect(ok(["images", "-q"]).stdout).toBe(images);
    ok(["rm", "tee"]);
  });

  requires("root", "podman")("podman loads it", () => {
    // Its own archive: the one above exists only when that test ran.
    ok(["run", "--name", "parch", "busybox", "sh", "-c", CHANGES]);
    const file = join(work, "parch.tar");
    ok(["commit", "-o", file, "parch", "arch:v1"]);
    ok(["rm", "parch"]);
    const p = join(work, "podman");
    const podman = `podman --root ${p}/root --runroot ${p}/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend none`;
    const out = sh(`${podman} load -i ${file} 2>&1`);
    expect(out).toMatch(/Loaded image.*arch:v1/);
    expect(sh(`${podman} images --format '{{.Repository}}:{{.Tag}}'`)).toContain("arch:v1");
  });
});

describe("save and load", () => {
  it("several images and tags round trip through a file, stdin and stdout", () => {
    ok(["tag", "snap:one", "snap:alias"]);
    ok(["tag", "busybox", "localhost:5000/team/bb:2"]);
    const file = join(work, "multi.tar");
    ok(["save", "-o", file, "snap", "busybox:latest", "localhost:5000/team/bb:2"]);
    const manifest = JSON.parse(sh(`tar xOf ${file} manifest.json`));
    expect(manifest.length).toBe(2);
    expect(manifest.flatMap((m: any) => m.RepoTags).sort()).toEqual(["busybox:latest", "localhost:5000/team/bb:2", "snap:alias", "snap:one"]);
    const ids = new Map(["snap:one", "busybox"].map((n) => [n, JSON.parse(ok(["image", "inspect", n]).stdout)[0].Id]));

    const other = new TestRoot("images-load");
    try {
      const res = other.run(["load", "-i", file]);
      expect(res.code).toBe(0);
      expect(res.stdout.trim().split("\n").sort()).toEqual(
        ["Loaded image: busybox:latest", "Loaded image: localhost:5000/team/bb:2", "Loaded image: snap:alias", "Loaded image: snap:one"],
      );
      for (const [n, id] of ids) expect(JSON.parse(other.run(["image", "inspect", n]).stdout)[0].Id).toBe(id);
      const seen = other.run(["run", "--rm", "snap:alias", "sh", "-c", "cat /added.txt; ls /var"]);
      expect(seen.stdout).toBe("added\nfresh\n");
      // Again from stdin: every layer is already there.
      const layersBefore = readdirSync(join(other.dir, "image", "layers")).sort();
      const again = other.run(["load"], { input: readFileSync(file) });
      expect(again.code).toBe(0);
      expect(readdirSync(join(other.dir, "image", "layers")).sort()).toEqual(layersBefore);
      // save to stdout (not a terminal) and load that: the same ids.
      const piped = Bun.spawnSync(["sh", "-c", `'${process.cwd()}/dist/minid' --root '${other.dir}' save snap:one | gzip > '${work}/piped.tgz'`]);
      expect(piped.exitCode).toBe(0);
    } finally {
      other.cleanup();
    }
    const third = new TestRoot("images-load3");
    try {
      expect(third.run(["load", "-i", join(work, "piped.tgz")]).stdout).toBe("Loaded image: snap:one\n");
      expect(JSON.parse(third.run(["image", "inspect", "snap:one"]).stdout)[0].Id).toBe(ids.get("snap:one"));
    } finally {
      third.cleanup();
    }
  });

  it("save writes a zstd-stored layer as its exact tar, and refuses a compressed one whose tar does not match its DiffID, writing no archive", () => {
    const other = new TestRoot("images-corrupt");
    try {
      expect(other.run(["run", "--rm", "--network", "none", "busybox", "true"]).code).toBe(0); // stores the built-in image
      const diffId: string = JSON.parse(other.run(["image", "inspect", "busybox"]).stdout)[0].RootFS.Layers[0];
      const rec = JSON.parse(readFileSync(join(other.dir, "image", "layers", diffId.slice(7), "layer.json"), "utf8"));
      expect(rec.digest).not.toBe(rec.diffId); // stored gzipped: the case under test
      const blob = join(other.dir, "image", "blobs", "sha256", rec.digest.slice(7));
      const tar = Buffer.from(Bun.gunzipSync(readFileSync(blob)));
      // Stored as zstd (compressed by the zstd tool), the layer still saves as its exact tar.
      const zst = Bun.spawnSync(["zstd", "-q", "-c"], { stdin: tar }).stdout;
      const zstDigest = `sha256:${createHash("sha256").update(zst).digest("hex")}`;
      const zstBlob = join(other.dir, "image", "blobs", "sha256", zstDigest.slice(7));
      writeFileSync(zstBlob, zst);
      const layerJson = join(other.dir, "image", "layers", diffId.slice(7), "layer.json");
      writeFileSync(layerJson, JSON.stringify({ ...rec, digest: zstDigest, mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" }));
      const zout = join(work, "zstd-stored.tar");
      expect(other.run(["save", "-o", zout, "busybox"]).code).toBe(0);
      const saved = Buffer.from(sh(`tar xOf ${zout} blobs/sha256/${diffId.slice(7)} | base64 -w0`).trim(), "base64");
      expect(saved.equals(tar)).toBe(true);
      writeFileSync(layerJson, JSON.stringify(rec));
      // Same length, one byte of a file body changed: only the DiffID check can tell.
      tar[600] = tar[600]! ^ 0xff;
      for (const [label, bytes] of [
        ["a byte changed", Bun.gzipSync(tar)],
        ["longer", Bun.gzipSync(Buffer.concat([tar, Buffer.alloc(4096)]))],
        ["not gzip", Buffer.from("not gzip at all")],
      ] as const) {
        writeFileSync(blob, bytes);
        const out = join(work, `corrupt-${label.replace(/ /g, "-")}.tar`);
        const res = other.run(["save", "-o", out, "busybox"]);
        expect({ label, code: res.code, stderr: res.stderr.trim() }).toEqual({
          label, code: 1, stderr: expect.stringContaining(`layer ${diffId} in the store is corrupt (content does not match its DiffID)`),
        });
        expect(existsSync(out)).toBe(false);
      }
    } finally {
      other.cleanup();
    }
  });

  requires("root", "skopeo")("loads an OCI archive made by skopeo (gzip layers, no manifest.json)", () => {
    const file = join(work, "snap.tar");
    ok(["save", "-o", file, "snap:one"]);
    const ociArchive = join(work, "snap-oci.tar");
    sh(`skopeo copy -q --dest-compress docker-archive:${file} oci-archive:${ociArchive}:example.com/oci/snap:v2`);
    expect(sh(`tar tf ${ociArchive}`)).not.toContain("manifest.json");
    const other = new TestRoot("images-oci");
    try {
      const res = other.run(["load", "-i", ociArchive]);
      expect(res.stderr).toBe("");
      expect(res.stdout).toBe("Loaded image: example.com/oci/snap:v2\n");
      expect(other.run(["run", "--rm", "example.com/oci/snap:v2", "cat", "/added.txt"]).stdout).toBe("added\n");
      expect(JSON.parse(other.run(["image", "inspect", "example.com/oci/snap:v2"]).stdout)[0].RootFS.Layers).toEqual(
        JSON.parse(ok(["image", "inspect", "snap:one"]).stdout)[0].RootFS.Layers,
      );
    } finally {
      other.cleanup();
    }
  });

  requires("root", "skopeo")("loads skopeo's docker-archive (legacy layout: <hex>.tar layers, symlinked <id>/layer.tar)", () => {
    const file = join(work, "snap.tar");
    if (!existsSync(file)) ok(["save", "-o", file, "snap:one"]);
    const legacy = join(work, "legacy.tar");
    sh(`skopeo copy -q docker-archive:${file} docker-archive:${legacy}:old/legacy:v0`);
    expect(sh(`tar tf ${legacy}`)).toContain("/layer.tar");
    const other = new TestRoot("images-legacy");
    try {
      expect(other.run(["load", "-i", legacy]).stdout).toBe("Loaded image: old/legacy:v0\n");
      expect(other.run(["run", "--rm", "old/legacy:v0", "cat", "/var/fresh/f"]).stdout).toBe("v\n");
    } finally {
      other.cleanup();
    }
  });

  it("bad archives: one line, exit 1, store unchanged", () => {
    const good = join(work, "snap.tar");
    if (!existsSync(good)) ok(["save", "-o", good, "snap:one"]);
    const unpacked = join(work, "bad-src");
    mkdirSync(unpacked, { recursive: true });
    sh(`tar xf ${good} -C ${unpacked}`);
    const manifest = JSON.parse(readFileSync(join(unpacked, "manifest.json"), "utf8"))[0];
    const layer: string = manifest.Layers.at(-1);
    const make = (label: string, edit: (dir: string) => void, entries = ".") => {
      const dir = join(work, `bad-${label}`);
      sh(`rm -rf ${dir} && cp -a ${unpacked} ${dir}`);
      edit(dir);
      const out = join(work, `bad-${label}.tar`);
      sh(`cd ${dir} && tar cf ${out} ${entries}`);
      return out;
    };
    const size = lstatSync(good).size;
    const cases: [string, string, RegExp][] = [
      ["truncated", (sh(`head -c ${Math.floor(size / 2)} ${good} > ${work}/trunc.tar`), `${work}/trunc.tar`), /truncated/],
      ["no manifest", make("nomanifest", (d) => { rmSync(join(d, "manifest.json")); rmSync(join(d, "index.json")); }), /no manifest\.json or index\.json/],
      ["layer missing", make("nolayer", (d) => rmSync(join(d, layer))), /missing/],
      ["digest mismatch", make("digest", (d) => writeFileSync(join(d, layer), Buffer.concat([readFileSync(join(d, layer)).subarray(0, 1024), Buffer.alloc(1024)]))), /digest mismatch/],
      ["config mismatch", make("config", (d) => {
        const m = JSON.parse(readFileSync(join(d, "manifest.json"), "utf8"));
        const cfg = JSON.parse(readFileSync(join(d, m[0].Config), "utf8"));
        cfg.config.Cmd = ["evil"];
        writeFileSync(join(d, m[0].Config), JSON.stringify(cfg));
      }), /digest mismatch/],
      ["not a tar", (writeFileSync(join(work, "plain.txt"), "hello\n".repeat(200)), join(work, "plain.txt")), /not a tar/],
      ["escaping name", (sh(`cd ${unpacked} && tar cf ${work}/escape.tar --transform='s,^\\./manifest.json,../manifest.json,' ./manifest.json`), `${work}/escape.tar`), /outside the archive/],
      ["missing file", join(work, "does-not-exist.tar"), /no such file/],
    ];
    const before = storeSnapshot();
    for (const [what, file, re] of cases) {
      const res = r.run(["load", "-i", file]);
      expect({ what, code: res.code }).toEqual({ what, code: 1 });
      expect({ what, lines: res.stderr.trim().split("\n").length }).toEqual({ what, lines: 1 });
      expect({ what, msg: res.stderr }).toEqual({ what, msg: expect.stringMatching(re) });
      expect(res.stdout).toBe("");
      expect(storeSnapshot()).toBe(before);
    }
    expect(readdirSync(join(r.dir, "image", "tmp")).filter((n) => !n.startsWith("pin-"))).toEqual([]);
    const unknown = r.run(["save", "-o", join(work, "x.tar"), "no/such:image"]);
    expect(unknown.code).toBe(1);
    expect(existsSync(join(work, "x.tar"))).toBe(false);
  });
});

describe("tag, rmi and the layers containers need", () => {
  it("rmi refuses an image in use; -f untags it and the container keeps working", () => {
    ok(["tag", "snap:one", "inuse:1"]);
    const id = JSON.parse(ok(["image", "inspect", "inuse:1"]).stdout)[0].Id;
    ok(["run", "--name", "user1", "inuse:1", "true"]);
    // Remove every other tag of that image first.
    for (const t of JSON.parse(ok(["image", "inspect", "inuse:1"]).stdout)[0].RepoTags) if (t !== "inuse:1") ok(["rmi", t]);
    const refused = r.run(["rmi", "inuse:1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^minid: conflict: unable to remove repository reference "inuse:1" \(must force\) - container [a-f0-9]{12} is using its referenced image [a-f0-9]{12}\n$/);
    // -f of the last tag, the container stopped: Docker deletes the image; the container keeps its layers.
    expect(ok(["rmi", "-f", "inuse:1"]).stdout).toMatch(new RegExp(`^Untagged: inuse:1\nDeleted: ${id}\n$`));
    const layerDirs = JSON.parse(readFileSync(join(r.dir, "containers", ok(["ps", "-a", "-q", "--no-trunc", "-f", "name=^user1$"]).stdout.trim(), "state.json"), "utf8")).storage.lowerdirs as string[];
    for (const d of layerDirs) expect(existsSync(d)).toBe(true);
    ok(["export", "user1", "-o", join(work, "user1.tar")]); // its layers are all still there
    ok(["commit", "user1", "fromorphan:1"]); // and their blobs
    ok(["save", "-o", join(work, "orphan.tar"), "fromorphan:1"]);
    ok(["rm", "user1"]);
    ok(["rmi", "fromorphan:1"]);
    expect(r.run(["image", "inspect", id]).code).not.toBe(0);
  });

  it("tag errors", () => {
    expect(r.run(["tag", "nosuch", "x:1"]).code).toBe(1);
    expect(r.run(["tag", "busybox", "Bad:Name"]).code).toBe(1);
    expect(r.run(["tag", "busybox"]).code).toBe(1);
  });
});

describe("concurrency and crashes", () => {
  it("parallel loads and commits leave a consistent store", async () => {
    const file = join(work, "multi.tar");
    const other = new TestRoot("images-par");
    try {
      other.run(["run", "--name", "p0", "busybox", "sh", "-c", "echo p > /p"]);
      const procs = [
        ...[1, 2, 3].map(() => Bun.spawn([join(process.cwd(), "dist/minid"), "--root", other.dir, "load", "-q", "-i", file], { stdout: "pipe", stderr: "pipe" })),
        ...[1, 2].map((i) => Bun.spawn([join(process.cwd(), "dist/minid"), "--root", other.dir, "commit", "p0", `par:${i}`], { stdout: "pipe", stderr: "pipe" })),
      ];
      const codes = await Promise.all(procs.map((p) => p.exited));
      expect(codes).toEqual([0, 0, 0, 0, 0]);
      checkConsistent(other.dir);
      expect(other.run(["run", "--rm", "par:2", "cat", "/p"]).stdout).toBe("p\n");
    } finally {
      other.cleanup();
    }
  });

  it("kill -9 during load leaves the store consistent; the next run cleans up", async () => {
    const other = new TestRoot("images-kill");
    try {
      // A large layer so the load is still running when it is killed.
      other.run(["run", "--name", "big", "busybox", "sh", "-c", "dd if=/dev/urandom of=/big bs=1M count=96 2>/dev/null"]);
      other.run(["commit", "big", "big:1"]);
      const file = join(work, "big.tar");
      other.run(["save", "-o", file, "big:1"]);
      other.run(["rm", "big"]);
      other.run(["rmi", "big:1"]);
      const before = sh(`cd '${other.dir}/image' && find . -path ./tmp -prune -o -print | sort`);
      for (const delay of [100, 250, 400]) {
        const p = Bun.spawn([join(process.cwd(), "dist/minid"), "--root", other.dir, "load", "-i", file], { stdout: "pipe", stderr: "pipe" });
        await Bun.sleep(delay);
        p.kill(9);
        await p.exited;
        checkConsistent(other.dir);
      }
      // The next run sweeps what the killed ones left, then loads for real.
      const res = other.run(["load", "-i", file]);
      expect(res.stdout).toBe("Loaded image: big:1\n");
      expect(readdirSync(join(other.dir, "image", "tmp")).filter((n) => !n.startsWith("pin-"))).toEqual([]);
      other.run(["rmi", "big:1"]);
      expect(sh(`cd '${other.dir}/image' && find . -path ./tmp -prune -o -print | sort`)).toBe(before);
    } finally {
      other.cleanup();
    }
  });
});

