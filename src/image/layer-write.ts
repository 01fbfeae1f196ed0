// Writes a directory tree (a rootfs, or an overlay upper dir on commit) as a layer tar.
//
// Headers are written here rather than with node-tar's Pack, which skips device nodes (and so
// overlay whiteouts) and drops xattrs (design.md, "node-tar and root filesystems"). Output is
// deterministic for a given tree: entries depth-first in byte order, numeric owners only,
// mtimes in whole seconds (as Docker writes them), no atime/ctime.
import { adaptiveHasher, writeAll, type Hasher } from "./layer-hash.ts";
import fs from "node:fs";
import { isUtf8 } from "node:buffer";
import type zlibT from "node:zlib";
import * as libc from "../linux/libc.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, TreeDir, fgetxattrs, inodeKey, type TreeEntry, type TreeStat } from "../storage/safe-tree.ts";
import { untilEvent } from "../util/stream-event.ts";

export interface WriteOptions {
  /** Turn overlayfs whiteouts (0/0 char devices, opaque xattrs) into OCI .wh. entries. */
  overlayWhiteouts: boolean;
  /** Paths (relative, "/"-separated, no trailing slash) to leave out, with their subtrees. */
  exclude?: (relPath: string) => boolean;
  gzip?: boolean;
  /** Archive the root itself as "./" and every entry under "./" (what `cp CTR:DIR/. -` streams). */
  dotRoot?: boolean;
  /**
   * Also write every byte of the (uncompressed) tar to this fd, at its offset, as it is
   * written: commit -o puts the layer into its archive at the same time as into the store, in
   * one pass over the tree. The fd must stay open until writeLayerTar has settled.
   */
  teeFd?: number;
}

export interface WriteResult {
  /** "sha256:<hex>" of the uncompressed tar. */
  diffId: string;
  /** "sha256:<hex>" of the file written. */
  digest: string;
  size: number;
  compressedSize: number;
}

const CHUNK = 1 << 20;
const MAX_OCTAL_12 = 0o77777777777;
const MAX_OCTAL_8 = 0o7777777;

// Host-specific or overlay-internal: never part of a layer. (overlay's own xattrs would make
// the layer's meaning depend on the upper dir it came from; SELinux labels are the host's.)
const SKIP_XATTR = /^(trusted\.overlay\.|user\.overlay\.|security\.selinux$)/;

export async function writeLayerTar(dir: string, out: string, opts: WriteOptions): Promise<WriteResult> {
  const tmp = `${out}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
  let sink: Sink | undefined;
  let root: TreeDir | undefined;
  try {
    // node:zlib is imported only when needed: loading it costs ~30-50 ms.
    sink = new Sink(fd, opts.gzip ? await import("node:zlib") : null, opts.teeFd);
    const w = new Walker(sink, opts, inodeKey(libc.statxAt(fd, null)));
    // The tree may belong to a running container: it is read through fds from here on, never
    // by path (storage/safe-tree.ts).
    root = TreeDir.open(dir, { clone: true });
    // The root itself has no entry (layer tars name "etc/", not "./etc/"), but it can be opaque.
    if (opts.overlayWhiteouts && root.xattrs().some(([k, v]) => k === OPAQUE && isY(v))) await w.opaqueMarker("", root.st);
    if (opts.dotRoot) await w.dotRoot(root.st);
    await w.walk(root, opts.dotRoot ? "." : "");
    const res = await sink.finish();
    fs.closeSync(fd);
    fs.renameSync(tmp, out);
    return res;
  } catch (e) {
    sink?.abort();
    try {
      fs.closeSync(fd);
    } catch {}
    fs.rmSync(tmp, { force: true });
    const msg = (e as Error)?.message ?? String(e);
    throw new Error(`writing layer tar from ${dir} failed: ${msg.split("\n")[0]}`);
  } finally {
    root?.close();
  }
}

const OPAQUE = "trusted.overlay.opaque";
const isY = (v: Buffer) => v.length === 1 && v[0] === 0x79; // "y"

interface Entry {
  name: Buffer;
  type: number; // typeflag character code
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: Buffer;
  devmajor?: number;
  devminor?: number;
  xattrs?: [string, Buffer][];
}

class Walker {
  /** dev:ino of every multiply-linked file already written, to its entry name. */
  private links = new Map<string, Buffer>();

  constructor(
    private readonly sink: Sink,
    private readonly opts: WriteOptions,
    private readonly selfKey: string,
  ) {}

  async walk(dir: TreeDir, rel: string): Promise<void> {
    // Names as latin1 strings: one char per byte, so sort() is byte order and nothing is
    // lost for names that are not UTF-8.
    const { names, types } = dir.list();
    const order = names.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : 1));
    for (const i of order) {
      const name = names[i]!;
      const r = rel === "" ? name : `${rel}/${name}`;
      if (this.opts.exclude?.(display(r))) continue;
      // Held as it is now; gone since the listing (a live tree) means not archived.
      const ent = dir.entry(name, types[i]);
      if (!ent) continue;
      let sub: TreeDir | undefined;
      try {
        sub = await this.entry(ent, rel, r);
      } finally {
        ent.close();
      }
      if (sub) {
        try {
          await this.walk(sub, r);
        } finally {
          sub.close();
        }
      }
    }
  }

  /** Archive one held entry; for a directory, return it opened for the walk to descend. */
  private async entry(ent: TreeEntry, rel: string, r: string): Promise<TreeDir | undefined> {
    const st = ent.st;
    const key = inodeKey(st);
    if (key === this.selfKey) return; // our own output, if it is inside dir
    const fmt = st.mode & S_IFMT;
    const e: Entry = {
      name: Buffer.from(r, "latin1"),
      type: 0x30,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: 0,
      mtime: seconds(st.mtimeNs),
    };

    if (fmt === fs.constants.S_IFCHR && st.rdevMajor === 0 && st.rdevMinor === 0 && this.opts.overlayWhiteouts) {
      // overlayfs whiteout -> OCI whiteout. Checked before hard links: overlay shares one
      // whiteout inode between many names.
      e.name = Buffer.from(rel === "" ? `.wh.${ent.name}` : `${rel}/.wh.${ent.name}`, "latin1");
      e.mode = 0o600;
      await this.sink.entry(e);
      return;
    }
    if (fmt !== S_IFDIR && st.nlink > 1) {
      const first = this.links.get(key);
      if (first) {
        e.type = 0x31;
        e.linkname = first;
        await this.sink.entry(e); // xattrs belong to the inode, written with the first name
        return;
      }
    }

    // Files and directories are opened (from the held inode) before anything is read of them,
    // so their xattrs come from the open fd; other types are never opened.
    let file = -1;
    let sub: TreeDir | undefined;
    if (fmt === fs.constants.S_IFREG) file = ent.openFile();
    else if (fmt === S_IFDIR) sub = ent.openDir();
    try {
      let opaque = false;
      const xattrs: [string, Buffer][] = [];
      for (const [x, v] of file >= 0 ? fgetxattrs(file) : sub ? sub.xattrs() : ent.xattrs()) {
        if (x === OPAQUE) opaque = isY(v);
        if (!SKIP_XATTR.test(x)) xattrs.push([x, v]);
      }
      if (xattrs.length) e.xattrs = xattrs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      if (fmt !== S_IFDIR && st.nlink > 1) this.links.set(key, e.name);

      switch (fmt) {
        case fs.constants.S_IFREG:
          e.size = st.size;
          await this.sink.entry(e, file);
          return;
        case S_IFDIR: {
          e.type = 0x35;
          e.name = Buffer.from(`${r}/`, "latin1");
          await this.sink.entry(e);
          if (opaque && this.opts.overlayWhiteouts) await this.opaqueMarker(r, st);
          const open = sub;
          sub = undefined; // the walk descends into it and closes it
          return open;
        }
        case S_IFLNK:
          e.type = 0x32;
          e.linkname = ent.readlink();
          await this.sink.entry(e);
          return;
        case fs.constants.S_IFCHR:
        case fs.constants.S_IFBLK:
          e.type = fmt === fs.constants.S_IFCHR ? 0x33 : 0x34;
          e.devmajor = st.rdevMajor;
          e.devminor = st.rdevMinor;
          await this.sink.entry(e);
          return;
        case fs.constants.S_IFIFO:
          e.type = 0x36;
          await this.sink.entry(e);
          return;
        default:
          // Sockets cannot be archived (GNU tar skips them too).
          if (this.links.get(key) === e.name) this.links.delete(key);
      }
    } finally {
      if (file >= 0) fs.closeSync(file);
      sub?.close();
    }
  }

  /** ".wh..wh..opq" inside an opaque directory, right after the directory's own entry. */
  /** The root directory's own entry, "./". */
  async dotRoot(st: TreeStat): Promise<void> {
    await this.sink.entry({ name: Buffer.from("./"), type: 0x35, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, mtime: seconds(st.mtimeNs) });
  }

  async opaqueMarker(rel: string, st: TreeStat): Promise<void> {
    await this.sink.entry({
      name: Buffer.from(rel === "" ? ".wh..wh..opq" : `${rel}/.wh..wh..opq`, "latin1"),
      type: 0x30,
      mode: st.mode & 0o777,
      uid: st.uid,
      gid: st.gid,
      size: 0,
      mtime: seconds(st.mtimeNs),
    });
  }
}

/** What exclude() sees: the path as UTF-8 text if it is UTF-8, else one char per byte. */
function display(latin1: string): string {
  if (!/[^\x00-\x7f]/.test(latin1)) return latin1;
  const b = Buffer.from(latin1, "latin1");
  return isUtf8(b) ? b.toString("utf8") : latin1;
}

function seconds(ns: bigint): number {
  let s = ns / 1_000_000_000n;
  if (ns < 0n && ns % 1_000_000_000n !== 0n) s -= 1n;
  return Number(s);
}

/** Buffers the tar stream, hashes it, and writes it to the file (through gzip if asked). */
class Sink {
  private buf = Buffer.allocUnsafe(CHUNK);
  private len = 0;
  private size = 0;
  // Hashing, and for an uncompressed layer also writing it, happen off this thread for big
  // layers (layer-hash.ts): together about 40% of writing one, free on a second core.
  private readonly hash: Hasher;
  private readonly gz: zlibT.Gzip | null;
  private readonly hashOut = new Bun.CryptoHasher("sha256");
  private written = 0;
  private failure: unknown;
  private blocked = false; // gzip asked us to wait for 'drain'

  constructor(
    private readonly fd: number,
    zlib: typeof zlibT | null,
    teeFd?: number,
  ) {
    const tee = teeFd === undefined ? [] : [teeFd];
    // With gzip the file gets zlib's output (written below); the tee always gets the tar.
    this.hash = adaptiveHasher(undefined, zlib ? tee : [fd, ...tee]);
    this.gz = zlib ? zlib.createGzip({ chunkSize: 256 << 10 }) : null;
    this.gz?.on("data", (d: Buffer) => {
      if (this.failure !== undefined) return;
      try {
        this.hashOut.update(d);
        this.written += d.length;
        writeAll(this.fd, d);
      } catch (e) {
        this.failure = e;
        this.gz!.destroy(e as Error);
      }
    });
    this.gz?.on("error", (e) => (this.failure ??= e));
  }

  /** Appends one entry; returns only after the file body, if any, is in the stream. */
  async entry(e: Entry, file?: number): Promise<void> {
    const pax: Buffer[] = [];
    let name = e.name;
    let prefix: Buffer | null = null;
    if (name.length > 100) {
      const split = splitName(name);
      if (split) [prefix, name] = split;
      else {
        pax.push(record("path", e.name));
        name = e.name.subarray(0, 100);
      }
    }
    // PAX strings are UTF-8 unless declared otherwise; GNU tar and Go both honour this.
    if ((e.name.length > 100 && !isUtf8(e.name)) || (e.linkname && e.linkname.length > 100 && !isUtf8(e.linkname))) {
      pax.unshift(record("hdrcharset", "BINARY"));
    }
    let linkname = e.linkname;
    if (linkname && linkname.length > 100) {
      pax.push(record("linkpath", linkname));
      linkname = linkname.subarray(0, 100);
    }
    let { uid, gid, size, mtime } = e;
    if (uid > MAX_OCTAL_8) (pax.push(record("uid", String(uid))), (uid = 0));
    if (gid > MAX_OCTAL_8) (pax.push(record("gid", String(gid))), (gid = 0));
    if (size > MAX_OCTAL_12) (pax.push(record("size", String(size))), (size = 0));
    if (mtime < 0 || mtime > MAX_OCTAL_12) (pax.push(record("mtime", String(mtime))), (mtime = 0));
    for (const [k, v] of e.xattrs ?? []) pax.push(record(`SCHILY.xattr.${k}`, v));

    if (pax.length) {
      const body = Buffer.concat(pax);
      const base = e.name.subarray(e.name.lastIndexOf(0x2f, e.name.length - 2) + 1);
      this.header({
        name: Buffer.concat([Buffer.from("PaxHeaders.0/"), base]).subarray(0, 100),
        type: 0x78,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: body.length,
        mtime: 0,
      });
      this.put(body);
      this.pad(body.length);
    }
    this.header({ ...e, name, prefix, linkname, uid, gid, size, mtime });
    if (file !== undefined) await this.copyFile(file, e.size, e.name);
    if (this.blocked) await this.unblock();
  }

  /** Copy `size` bytes of the open file (the held inode, never what a name points to now). */
  private async copyFile(fd: number, size: number, name: Buffer): Promise<void> {
    let left = size;
    while (left > 0) {
      if (this.len === CHUNK) {
        this.flush();
        // Only gzip can make us wait, and must: a big file would otherwise pile up in zlib.
        if (this.blocked) await this.unblock();
      }
      const n = fs.readSync(fd, this.buf, this.len, Math.min(CHUNK - this.len, left), null);
      if (n === 0) throw new Error(`${name.toString()} shrank while being archived`);
      this.len += n;
      left -= n;
    }
    this.pad(size);
  }

  // The stream is block-aligned before every header and after every pad, and CHUNK is a
  // multiple of the block: a header or a pad always fits in the buffer where it starts
  // (after a flush if the buffer is full), so both are written in place.
  private header(f: HeaderFields): void {
    if (this.len === CHUNK) this.flush();
    header(f, this.buf, this.len);
    this.len += 512;
  }

  private pad(n: number): void {
    const k = (512 - (n % 512)) % 512;
    if (!k) return;
    this.buf.fill(0, this.len, this.len + k);
    this.len += k;
  }

  // Headers and small bodies are buffered synchronously: an await per write would cost more
  // than the writing itself for trees of small files.
  private put(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) {
      if (this.len === CHUNK) this.flush();
      const k = Math.min(CHUNK - this.len, b.length - off);
      this.buf.set(b.subarray(off, off + k), this.len);
      this.len += k;
      off += k;
    }
  }

  private flush(): void {
    if (this.failure !== undefined) throw this.failure;
    const chunk = this.buf.subarray(0, this.len);
    this.size += chunk.length;
    this.len = 0;
    this.hash.update(chunk); // and written, unless it goes through gzip
    if (this.gz) {
      // zlib keeps the buffer until it has consumed it: hand it over and start a new one.
      this.buf = Buffer.allocUnsafe(CHUNK);
      if (!this.gz.write(chunk)) this.blocked = true;
    }
  }

  private async unblock(): Promise<void> {
    await untilEvent(this.gz!, "drain");
    this.blocked = false;
    if (this.failure !== undefined) throw this.failure;
  }

  async finish(): Promise<WriteResult> {
    this.put(ZEROS.subarray(0, 1024)); // end of archive
    this.flush();
    const diffId = `sha256:${await this.hash.digest()}`;
    this.hash.dispose();
    if (!this.gz) return { diffId, digest: diffId, size: this.size, compressedSize: this.size };
    this.gz.end();
    await untilEvent(this.gz, "end");
    if (this.failure !== undefined) throw this.failure;
    return { diffId, digest: `sha256:${this.hashOut.digest("hex")}`, size: this.size, compressedSize: this.written };
  }

  abort(): void {
    this.gz?.destroy();
    this.hash.dispose();
  }
}

const ZEROS = Buffer.alloc(1024);


/** ustar prefix/name split of a long name, if one exists (ASCII only, as Go does). */
function splitName(name: Buffer): [Buffer, Buffer] | null {
  for (const c of name) if (c > 0x7f) return null;
  const end = name[name.length - 1] === 0x2f ? name.length - 1 : name.length;
  for (let i = Math.max(1, name.length - 101); i <= Math.min(155, end - 1); i++) {
    if (name[i] === 0x2f) return [name.subarray(0, i), name.subarray(i + 1)];
  }
  return null;
}

/** One PAX record: "<len> <key>=<value>\n", len counting its own digits. */
function record(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** What a ustar header holds: an entry without its PAX-only parts, plus the name's prefix. */
type HeaderFields = Omit<Entry, "xattrs"> & { prefix?: Buffer | null };

/** The 512-byte ustar header of `f`, written into `h` at `at`. */
function header(f: HeaderFields, h: Buffer, at: number): void {
  h.fill(0, at, at + 512);
  f.name.copy(h, at, 0, 100);
  octal(h, at + 100, 8, f.mode);
  octal(h, at + 108, 8, f.uid);
  octal(h, at + 116, 8, f.gid);
  octal(h, at + 124, 12, f.size);
  octal(h, at + 136, 12, f.mtime);
  h[at + 156] = f.type;
  f.linkname?.copy(h, at + 157, 0, 100);
  h.set(USTAR, at + 257);
  octal(h, at + 329, 8, f.devmajor ?? 0);
  octal(h, at + 337, 8, f.devminor ?? 0);
  f.prefix?.copy(h, at + 345, 0, 155);
  h.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += h[i]!;
  digits(h, at + 148, 6, sum);
  h[at + 154] = 0;
  h[at + 155] = 0x20;
}

const USTAR = Buffer.from("ustar\x0000", "latin1");

/** `v` as `n` zero-padded octal digits at `off` (digit by digit: a string per field costs
 * more than the rest of the header, for trees of many small files; profiled). */
function digits(h: Buffer, off: number, n: number, v: number): void {
  for (let i = off + n - 1; i >= off; i--) {
    h[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
}

/** NUL-terminated octal, or GNU base-256 for device numbers too large for it. */
function octal(h: Buffer, off: number, len: number, v: number): void {
  if (v >= 0 && v < 8 ** (len - 1)) {
    digits(h, off, len - 1, v);
    h[off + len - 1] = 0;
    return;
  }
  let big = BigInt(v);
  for (let i = len - 1; i > 0; i--) {
    h[off + i] = Number(big & 0xffn);
    big >>= 8n;
  }
  h[off] = 0x80;
}
