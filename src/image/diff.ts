// Changes between a full root tree and the image layers under it, for storage without an
// upper directory to read (vfs copies) or whose upper directory is not a plain diff
// (overlay with redirect_dir/metacopy).
//
// The lower side is the merge of overlay-form layer directories (whiteouts are 0/0 character
// devices, opaque directories carry trusted.overlay.opaque=y). The result is written as an
// overlay-form directory of its own: changed and added entries hard-linked (or copied) from the
// full tree with their parents, deletions as 0/0 character devices. writeLayerTar turns it
// into a layer tar. An entry counts as changed when its type, mode, owner, size, mtime,
// device number, symlink target or xattrs differ (what docker's naive diff compares).
import {
  copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, type BigIntStats,
} from "node:fs";
import { join } from "node:path";
import {
  AT_FDCWD, S_IFBLK, S_IFCHR, S_IFIFO, chmod, lchown, lgetxattr, llistxattr, lsetxattr, lutimes, mknodat, symlinkat,
} from "../linux/libc.ts";
import { isWhiteout } from "../storage/copy-tree.ts";

const OPAQUE = "trusted.overlay.opaque";

function lstat(p: string): BigIntStats | undefined {
  try {
    return lstatSync(p, { bigint: true });
  } catch (e: any) {
    if (e?.code === "ENOENT" || e?.code === "ENOTDIR") return undefined;
    throw e;
  }
}

function isOpaque(path: string): boolean {
  return lgetxattr(path, OPAQUE)?.toString() === "y";
}

interface LowerEntry {
  path: string;
  st: BigIntStats;
  /** For a directory: the layer directories merged into it, topmost first. */
  sources: string[];
}

/**
 * The merged listing of a directory present in `sources` (topmost first, already cut at the
 * first opaque one). Whiteouts hide names; a non-directory hides the same name below it.
 */
export function mergedChildren(sources: string[]): Map<string, LowerEntry> {
  const out = new Map<string, LowerEntry>();
  const hidden = new Set<string>();
  for (let i = 0; i < sources.length; i++) {
    let names: string[];
    try {
      names = readdirSync(sources[i]!);
    } catch {
      continue;
    }
    for (const name of names) {
      if (out.has(name) || hidden.has(name)) continue;
      const path = join(sources[i]!, name);
      const st = lstat(path);
      if (!st) continue;
      if (isWhiteout(st)) {
        hidden.add(name);
        continue;
      }
      const entry: LowerEntry = { path, st, sources: [] };
      if (st.isDirectory()) {
        entry.sources.push(path);
        if (!isOpaque(path)) {
          for (let j = i + 1; j < sources.length; j++) {
            const p2 = join(sources[j]!, name);
            const s2 = lstat(p2);
            if (!s2) continue;
            if (!s2.isDirectory()) break; // a whiteout or a file ends the stack
            entry.sources.push(p2);
            if (isOpaque(p2)) break;
          }
        }
      }
      out.set(name, entry);
    }
  }
  return out;
}

function xattrs(path: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const n of llistxattr(path)) {
    if (n.startsWith("trusted.overlay.")) continue;
    m.set(n, lgetxattr(path, n)?.toString("base64") ?? "");
  }
  return m;
}

function sameXattrs(a: string, b: string): boolean {
  const x = xattrs(a);
  const y = xattrs(b);
  if (x.size !== y.size) return false;
  for (const [k, v] of x) if (y.get(k) !== v) return false;
  return true;
}

const TYPE_MASK = 0o170000n;

function sameEntry(aPath: string, a: BigIntStats, bPath: string, b: BigIntStats): boolean {
  if ((a.mode & TYPE_MASK) !== (b.mode & TYPE_MASK)) return false;
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (!a.isDirectory()) {
    if (a.size !== b.size || a.mtimeNs !== b.mtimeNs) return false;
  } else if (a.mtimeNs !== b.mtimeNs) return false;
  if ((a.isCharacterDevice() || a.isBlockDevice()) && a.rdev !== b.rdev) return false;
  if (a.isSymbolicLink() && readlinkSync(aPath) !== readlinkSync(bPath)) return false;
  return sameXattrs(aPath, bPath);
}

export interface DiffOptions {
  /** Relative paths ("etc/hosts") to leave out, with everything under them. */
  exclude?: (rel: string) => boolean;
}

export interface DiffStats {
  changed: number;
  deleted: number;
}

/**
 * Write the changes of `tree` over `layers` (lowest first, overlay form) into `out` (created)
 * as an overlay-form directory.
 */
export function diffTree(tree: string, layers: string[], out: string, opts: DiffOptions = {}): DiffStats {
  const d = new Differ(tree, out, opts);
  mkdirSync(out, { mode: 0o755 });
  d.dir("", [...layers].reverse().filter((l) => lstat(l)?.isDirectory()));
  d.finish();
  return d.stats;
}

class Differ {
  stats: DiffStats = { changed: 0, deleted: 0 };
  private made = new Set<string>([""]);
  /** Directories created in `out`, whose times are set last (creating children moves them). */
  private dirTimes: [string, BigIntStats][] = [];
  private links = new Map<string, string>();
  constructor(
    private tree: string,
    private out: string,
    private opts: DiffOptions,
  ) {}

  private excluded(rel: string): boolean {
    return Boolean(rel && this.opts.exclude?.(rel));
  }

  dir(rel: string, sources: string[]): void {
    const lower = mergedChildren(sources);
    const here = join(this.tree, rel);
    const names = readdirSync(here);
    const seen = new Set(names);
    for (const [name] of lower) {
      const r = rel ? `${rel}/${name}` : name;
      if (!seen.has(name) && !this.excluded(r)) this.whiteout(r);
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (this.excluded(r)) continue;
      const p = join(here, name);
      const u = lstat(p);
      if (!u) continue;
      const l = lower.get(name);
      if (u.isDirectory()) {
        if (l?.st.isDirectory()) {
          if (!sameEntry(p, u, l.path, l.st)) this.ensureDir(r);
          this.dir(r, l.sources);
        } else {
          this.ensureDir(r);
          this.dir(r, []);
        }
        continue;
      }
      if (l && sameEntry(p, u, l.path, l.st)) continue;
      this.add(r, p, u);
    }
  }

  /** Create the directory `rel` in out (and its parents) with the tree's metadata. */
  private ensureDir(rel: string): void {
    if (this.made.has(rel)) return;
    const slash = rel.lastIndexOf("/");
    this.ensureDir(slash < 0 ? "" : rel.slice(0, slash));
    const src = join(this.tree, rel);
    const dst = join(this.out, rel);
    const st = lstatSync(src, { bigint: true });
    mkdirSync(dst, { mode: 0o700 });
    copyMeta(src, dst, st);
    this.made.add(rel);
    this.dirTimes.push([dst, st]);
    this.stats.changed++;
  }

  private whiteout(rel: string): void {
    const slash = rel.lastIndexOf("/");
    this.ensureDir(slash < 0 ? "" : rel.slice(0, slash));
    mknodat(AT_FDCWD, join(this.out, rel), S_IFCHR, 0);
    this.stats.deleted++;
  }

  private add(rel: string, src: string, st: BigIntStats): void {
    const slash = rel.lastIndexOf("/");
    this.ensureDir(slash < 0 ? "" : rel.slice(0, slash));
    const dst = join(this.out, rel);
    this.stats.changed++;
    if (st.isSocket()) return; // not content
    try {
      linkSync(src, dst); // same inode: content and every attribute come along
      return;
    } catch (e: any) {
      if (e?.code !== "EXDEV" && e?.code !== "EPERM" && e?.code !== "EMLINK") throw e;
    }
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1n ? this.links.get(key) : undefined;
    if (first) {
      linkSync(first, dst);
      return;
    }
    if (st.isSymbolicLink()) symlinkat(readlinkSync(src), AT_FDCWD, dst);
    else if (st.isFile()) copyFileSync(src, dst);
    else if (st.isCharacterDevice()) mknodat(AT_FDCWD, dst, S_IFCHR | Number(st.mode & 0o7777n), Number(st.rdev));
    else if (st.isBlockDevice()) mknodat(AT_FDCWD, dst, S_IFBLK | Number(st.mode & 0o7777n), Number(st.rdev));
    else if (st.isFIFO()) mknodat(AT_FDCWD, dst, S_IFIFO | Number(st.mode & 0o7777n), 0);
    if (st.nlink > 1n) this.links.set(key, dst);
    copyMeta(src, dst, st);
    lutimes(dst, st.atimeNs, st.mtimeNs);
  }

  finish(): void {
    const root = lstatSync(this.tree, { bigint: true });
    copyMeta(this.tree, this.out, root);
    this.dirTimes.push([this.out, root]);
    for (const [p, st] of this.dirTimes.reverse()) lutimes(p, st.atimeNs, st.mtimeNs);
  }
}

function copyMeta(src: string, dst: string, st: BigIntStats): void {
  lchown(dst, Number(st.uid), Number(st.gid));
  for (const name of llistxattr(src)) {
    if (name.startsWith("trusted.overlay.")) continue;
    const v = lgetxattr(src, name);
    if (v) lsetxattr(dst, name, v);
  }
  if (!st.isSymbolicLink()) chmod(dst, Number(st.mode & 0o7777n)); // after chown, which clears setuid
}
