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
  AT_EMPTY_PATH, AT_FDCWD, S_IFBLK, S_IFCHR, S_IFIFO, S_IFREG, chmod, fsat, lchown, lgetxattr, llistxattr, lsetxattr,
  lutimes, makedev64, mknodat,
} from "../linux/libc.ts";
import { isWhiteout } from "../storage/copy-tree.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, TreeDir, TreeEntry, inodeKey, type TreeStat } from "../storage/safe-tree.ts";

const S_IFSOCK = 0o140000;

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

/** Whether the tree's entry `u` equals the lower entry `l` (what docker's naive diff compares). */
function sameEntry(u: TreeEntry | TreeDir, l: LowerEntry): boolean {
  const a = u.st;
  const b = l.st;
  if (a.mode !== Number(b.mode) || a.uid !== Number(b.uid) || a.gid !== Number(b.gid)) return false;
  if (a.mtimeNs !== b.mtimeNs) return false;
  const fmt = a.mode & S_IFMT;
  if (fmt !== S_IFDIR && a.size !== Number(b.size)) return false;
  if ((fmt === S_IFCHR || fmt === S_IFBLK) && makedev64(a.rdevMajor, a.rdevMinor) !== b.rdev) return false;
  if (fmt === S_IFLNK && u instanceof TreeEntry && !u.readlink().equals(readlinkSync(l.path, { encoding: "buffer" }))) {
    return false;
  }
  const x = treeXattrs(u);
  const y = xattrs(l.path);
  if (x.size !== y.size) return false;
  for (const [k, v] of x) if (y.get(k) !== v) return false;
  return true;
}

function treeXattrs(u: TreeEntry | TreeDir): Map<string, string> {
  const m = new Map<string, string>();
  for (const [n, v] of u.xattrs()) if (!n.startsWith("trusted.overlay.")) m.set(n, v.toString("base64"));
  return m;
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
 * as an overlay-form directory. `tree` may be a running container's root: it is read through
 * fds without following any of its symlinks (storage/safe-tree.ts).
 */
export function diffTree(tree: string, layers: string[], out: string, opts: DiffOptions = {}): DiffStats {
  const root = TreeDir.open(tree);
  try {
    const d = new Differ(root, out, opts);
    mkdirSync(out, { mode: 0o755 });
    d.dir("", root, [...layers].reverse().filter((l) => lstat(l)?.isDirectory()));
    d.finish();
    return d.stats;
  } finally {
    root.close();
  }
}

// Names as the lower side spells them (UTF-8 strings) and as the tree's fds take them (bytes).
const toLatin1 = (name: string) => Buffer.from(name, "utf8").toString("latin1");
const fromLatin1 = (name: string) => Buffer.from(name, "latin1").toString("utf8");

class Differ {
  stats: DiffStats = { changed: 0, deleted: 0 };
  private made = new Set<string>([""]);
  /** Directories created in `out`, whose times are set last (creating children moves them). */
  private dirTimes: [string, TreeStat][] = [];
  private links = new Map<string, string>();
  /** The tree's directories on the current path, by relative path, for their metadata. */
  private open = new Map<string, TreeDir>();
  constructor(
    private root: TreeDir,
    private out: string,
    private opts: DiffOptions,
  ) {}

  private excluded(rel: string): boolean {
    return Boolean(rel && this.opts.exclude?.(rel));
  }

  dir(rel: string, here: TreeDir, sources: string[]): void {
    this.open.set(rel, here);
    const lower = mergedChildren(sources);
    const names = here.names().map(fromLatin1);
    const seen = new Set(names);
    for (const [name] of lower) {
      const r = rel ? `${rel}/${name}` : name;
      if (!seen.has(name) && !this.excluded(r)) this.whiteout(r);
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (this.excluded(r)) continue;
      const u = here.entry(toLatin1(name));
      if (!u) continue; // gone since the listing
      const l = lower.get(name);
      try {
        if ((u.st.mode & S_IFMT) === S_IFDIR) {
          const sub = u.openDir();
          try {
            if (l?.st.isDirectory()) {
              if (!sameEntry(sub, l)) this.ensureDir(r, sub);
              this.dir(r, sub, l.sources);
            } else {
              this.ensureDir(r, sub);
              this.dir(r, sub, []);
            }
          } finally {
            this.open.delete(r);
            sub.close();
          }
          continue;
        }
        if (l && sameEntry(u, l)) continue;
        this.add(r, u);
      } finally {
        u.close();
      }
    }
  }

  /** Create the directory `rel` in out (and its parents) with the tree's metadata. */
  private ensureDir(rel: string, src = this.open.get(rel)): void {
    if (this.made.has(rel)) return;
    const slash = rel.lastIndexOf("/");
    this.ensureDir(slash < 0 ? "" : rel.slice(0, slash));
    if (!src) throw new Error(`diff: ${rel} is not on the walk`);
    const dst = join(this.out, rel);
    mkdirSync(dst, { mode: 0o700 });
    copyMeta(dst, src.st, src.xattrs());
    this.made.add(rel);
    this.dirTimes.push([dst, src.st]);
    this.stats.changed++;
  }

  private whiteout(rel: string): void {
    const slash = rel.lastIndexOf("/");
    this.ensureDir(slash < 0 ? "" : rel.slice(0, slash));
    mknodat(AT_FDCWD, join(this.out, rel), S_IFCHR, 0);
    this.stats.deleted++;
  }

  private add(rel: string, u: TreeEntry): void {
    const slash = rel.lastIndexOf("/");
    this.ensureDir(slash < 0 ? "" : rel.slice(0, slash));
    const dst = join(this.out, rel);
    const st = u.st;
    const fmt = st.mode & S_IFMT;
    this.stats.changed++;
    if (fmt === S_IFSOCK) return; // not content
    try {
      // The held inode itself (AT_EMPTY_PATH): content and every attribute come along, and a
      // name swapped meanwhile cannot substitute another file.
      fsat.linkat(u.fd, "", AT_FDCWD, dst, AT_EMPTY_PATH);
      return;
    } catch (e: any) {
      if (!["EXDEV", "EPERM", "EMLINK", "ENOENT"].includes(e?.code)) throw e;
    }
    const key = inodeKey(st);
    const first = st.nlink > 1 ? this.links.get(key) : undefined;
    if (first) {
      linkSync(first, dst);
      return;
    }
    const perm = st.mode & 0o7777;
    if (fmt === S_IFLNK) fsat.symlinkat(u.readlink(), AT_FDCWD, dst);
    else if (fmt === S_IFREG) copyFileSync(u.procPath, dst); // the held inode, reopened
    else if (fmt === S_IFCHR) fsat.mknodat(AT_FDCWD, dst, S_IFCHR | perm, makedev64(st.rdevMajor, st.rdevMinor));
    else if (fmt === S_IFBLK) fsat.mknodat(AT_FDCWD, dst, S_IFBLK | perm, makedev64(st.rdevMajor, st.rdevMinor));
    else if (fmt === S_IFIFO) mknodat(AT_FDCWD, dst, S_IFIFO | perm, 0);
    if (st.nlink > 1) this.links.set(key, dst);
    copyMeta(dst, st, u.xattrs());
    lutimes(dst, st.atimeNs, st.mtimeNs);
  }

  finish(): void {
    copyMeta(this.out, this.root.st, this.root.xattrs());
    this.dirTimes.push([this.out, this.root.st]);
    for (const [p, st] of this.dirTimes.reverse()) lutimes(p, st.atimeNs, st.mtimeNs);
  }
}

function copyMeta(dst: string, st: TreeStat, attrs: [string, Buffer][]): void {
  lchown(dst, st.uid, st.gid);
  for (const [name, v] of attrs) {
    if (name.startsWith("trusted.overlay.")) continue;
    lsetxattr(dst, name, v);
  }
  if ((st.mode & S_IFMT) !== S_IFLNK) chmod(dst, st.mode & 0o7777); // after chown, which clears setuid
}
