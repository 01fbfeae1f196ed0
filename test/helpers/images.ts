// Shared by the image feature tests (commit-save-load, export, image-crashes): shell, tree
// listings, tar extraction, the change script a container makes, and a store consistency check.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "bun:test";
import { TestRoot, ensureBuilt } from "./minid.ts";
import { have } from "./requires.ts";

/**
 * A file's store (`r`) and scratch directory (`work`), made when the file loads and removed
 * after its tests; `ok` runs minid and throws on failure, `extract` unpacks a tar into `work`.
 */
export function useImageRoot(label: string) {
  const r = new TestRoot(label);
  const work = mkdtempSync(join(tmpdir(), `minid-${label}-work-`));
  beforeAll(() => {
    if (have("root")) ensureBuilt();
  });
  afterAll(() => {
    r.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const ok = (args: string[], opts: Parameters<TestRoot["run"]>[1] = {}) => {
    const res = r.run(args, opts);
    if (res.code !== 0) throw new Error(`minid ${args.join(" ")} failed (${res.code}): ${res.stderr}`);
    return res;
  };
  return { r, work, ok, extract: (tarFile: string, name: string) => extract(work, tarFile, name) };
}

export function sh(cmd: string): string {
  const res = Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" });
  if (res.exitCode !== 0) throw new Error(`${cmd}: ${res.stderr.toString()}`);
  return res.stdout.toString();
}

/** path → "type mode uid:gid size target/hash" for every entry under dir. */
export function treeOf(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r2 = rel ? `${rel}/${name}` : name;
      if (skip(r2)) continue;
      const p = join(dir, r2);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      let what: string;
      if (st.isDirectory()) what = "dir";
      else if (st.isSymbolicLink()) what = `link ${readlinkSync(p)}`;
      else if (st.isFile()) what = `file ${st.size} ${createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16)}`;
      else if (st.isFIFO()) what = "fifo";
      else what = `other ${st.rdev}`;
      out.set(r2, `${what} ${st.isSymbolicLink() ? "" : mode} ${st.uid}:${st.gid}`);
      if (st.isDirectory()) walk(r2);
    }
  };
  walk("");
  return out;
}

export function extract(work: string, tarFile: string, label: string): string {
  const dir = join(work, `${label}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  sh(`tar --numeric-owner --xattrs --xattrs-include='*' -xpf '${tarFile}' -C '${dir}'`);
  return dir;
}

/** Everything minid's runtime mounts over, which a container's view has and an image has not. */
export const runtimeOnly = (rel: string) => /^(proc|sys|dev)\/|^etc\/(hosts|hostname|resolv\.conf)$/.test(rel);


/** What a test container changes: every kind of entry a layer can hold. */
export const CHANGES = [
  "set -e",
  "echo added > /added.txt",
  "ln /added.txt /added.hard",
  "echo more >> /etc/passwd",
  "rm /etc/group",
  "rm -rf /home",
  "chmod 0750 /root",
  "ln -s /etc/passwd /abs.link",
  "ln -s ../etc/passwd /usr/rel.link",
  "cp /bin/busybox /usr/suidbox && chmod 4755 /usr/suidbox",
  "rm -rf /var && mkdir -p /var/fresh && echo v > /var/fresh/f",
  "mkdir /emptydir",
  "mkfifo /fifo",
].join("; ");

/** Every image's config blob and layers exist; every layer dir is complete. */
export function checkConsistent(root: string): void {
  const img = join(root, "image");
  for (const f of readdirSync(join(img, "images"))) {
    if (!f.endsWith(".json")) continue;
    const rec = JSON.parse(readFileSync(join(img, "images", f), "utf8"));
    expect(existsSync(join(img, "blobs", "sha256", rec.configDigest.slice(7)))).toBe(true);
    for (const l of rec.layers) {
      expect(existsSync(join(img, "layers", l.diffId.slice(7), "layer.json"))).toBe(true);
      expect(existsSync(join(img, "blobs", "sha256", l.digest.slice(7)))).toBe(true);
    }
  }
  for (const d of readdirSync(join(img, "layers"))) {
    expect({ d, complete: existsSync(join(img, "layers", d, "layer.json")) }).toEqual({ d, complete: true });
  }
  const tags = JSON.parse(readFileSync(join(img, "repositories.json"), "utf8"));
  for (const id of Object.values(tags) as string[]) expect(existsSync(join(img, "images", `${id.slice(7)}.json`))).toBe(true);
}
