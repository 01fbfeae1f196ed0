// Raw tar blocks for tests: lets a test say exactly what a (possibly hostile or broken) archive
// contains, independently of the code under test. Also tree snapshots, to compare results.

import fs from "node:fs";
import { createHash } from "node:crypto";
import { fsat } from "../../src/linux/libc.ts";

export interface HeaderSpec {
  name: string | Buffer;
  type?: string; // typeflag character, default "0"
  mode?: number;
  uid?: number;
  gid?: number;
  /** Declared size; defaults to the data length in entry(). */
  size?: number;
  mtime?: number;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  uname?: string;
  gname?: string;
  prefix?: string;
  /** "ustar" (POSIX, default), "gnu" (old GNU "ustar  ") or "v7" (no magic). */
  format?: "ustar" | "gnu" | "v7";
  /** Store this checksum instead of the correct one. */
  checksum?: number;
}

function put(buf: Buffer, off: number, len: number, v: string | Buffer): void {
  const b = typeof v === "string" ? Buffer.from(v, "utf8") : v;
  if (b.length > len) throw new Error(`tar-craft: field at ${off} too long (${b.length} > ${len})`);
  b.copy(buf, off);
}

/** Octal with NUL terminator, or GNU base-256 when the value does not fit. */
function num(buf: Buffer, off: number, len: number, v: number): void {
  const oct = Math.trunc(v).toString(8);
  if (v >= 0 && oct.length <= len - 1) {
    put(buf, off, len, oct.padStart(len - 1, "0") + "\0");
    return;
  }
  let big = BigInt(Math.trunc(v));
  if (big < 0n) big += 1n << BigInt(8 * len);
  for (let i = len - 1; i >= 0; i--) {
    buf[off + i] = Number(big & 0xffn);
    big >>= 8n;
  }
  buf[off] = v < 0 ? 0xff : 0x80;
}

export function header(s: HeaderSpec): Buffer {
  const h = Buffer.alloc(512);
  put(h, 0, 100, s.name);
  num(h, 100, 8, s.mode ?? 0o644);
  num(h, 108, 8, s.uid ?? 0);
  num(h, 116, 8, s.gid ?? 0);
  num(h, 124, 12, s.size ?? 0);
  num(h, 136, 12, s.mtime ?? 1_700_000_000);
  h[156] = (s.type ?? "0").charCodeAt(0);
  if (s.type === "\0") h[156] = 0;
  if (s.linkname !== undefined) put(h, 157, 100, s.linkname);
  const format = s.format ?? "ustar";
  if (format === "ustar") put(h, 257, 8, "ustar\x0000");
  else if (format === "gnu") put(h, 257, 8, "ustar  \0");
  if (format !== "v7") {
    put(h, 265, 32, s.uname ?? "");
    put(h, 297, 32, s.gname ?? "");
    num(h, 329, 8, s.devmajor ?? 0);
    num(h, 337, 8, s.devminor ?? 0);
    if (s.prefix) put(h, 345, 155, s.prefix);
  }
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(h, 148, 8, (s.checksum ?? sum).toString(8).padStart(6, "0") + "\0 ");
  return h;
}

function padded(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return pad ? Buffer.concat([data, Buffer.alloc(pad)]) : data;
}

/** Header plus body plus padding. */
export function entry(s: HeaderSpec & { data?: string | Buffer }): Buffer {
  const data = typeof s.data === "string" ? Buffer.from(s.data) : (s.data ?? Buffer.alloc(0));
  return Buffer.concat([header({ ...s, size: s.size ?? data.length }), padded(data)]);
}

export function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** A PAX extended header ('x', or 'g' for global) applying to the next entry. */
export function pax(records: [string, string | Buffer][], type: "x" | "g" = "x"): Buffer {
  const body = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  return entry({ name: "PaxHeaders/x", type, data: body });
}

/** A GNU long name ('L') or long link ('K') entry. */
export function gnuLong(type: "L" | "K", value: string | Buffer): Buffer {
  return entry({ name: "././@LongLink", type, format: "gnu", data: Buffer.concat([Buffer.from(value), Buffer.alloc(1)]) });
}

export const endBlocks = (): Buffer => Buffer.alloc(1024);

/** Concatenates parts and appends the end-of-archive marker. */
export function tar(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, endBlocks()]);
}

// ---- Tree snapshots, to compare what was extracted with what was meant ----


export interface SnapshotOptions {
  /** Compare mtimes in whole seconds (tars written by writeLayerTar) instead of nanoseconds. */
  seconds?: boolean;
  /** Leave out the root directory's own metadata (layer tars have no entry for it). */
  skipRoot?: boolean;
  /** Relative paths (latin1) to leave out, with their subtrees. */
  skip?: (rel: string) => boolean;
  /** Xattr names to leave out (security.selinux always is). */
  ignoreXattr?: (name: string) => boolean;
}

/**
 * One line per path: type, mode, owner, size/device, mtime, link target, content hash,
 * xattrs, and the first path sharing its inode (hard links). Paths are latin1 strings.
 */
export function snapshot(root: string, opts: SnapshotOptions = {}): Map<string, string> {
  const out = new Map<string, string>();
  const inodes = new Map<string, string>();
  const walk = (abs: Buffer, rel: string) => {
    const st = fs.lstatSync(abs, { bigint: true });
    const mode = Number(st.mode);
    const fmt = mode & 0o170000;
    const kind = { 0o040000: "dir", 0o100000: "file", 0o120000: "symlink", 0o020000: "chr", 0o060000: "blk", 0o010000: "fifo", 0o140000: "sock" }[fmt] ?? "?";
    const parts = [kind, (mode & 0o7777).toString(8), `${st.uid}:${st.gid}`];
    if (kind === "file") parts.push(`size=${st.size}`, createHash("sha256").update(fs.readFileSync(abs)).digest("hex").slice(0, 16));
    if (kind === "chr" || kind === "blk") parts.push(`rdev=${st.rdev}`);
    if (kind === "symlink") parts.push(`-> ${fs.readlinkSync(abs, { encoding: "buffer" }).toString("latin1")}`);
    const mt = opts.seconds ? st.mtimeNs / 1_000_000_000n : st.mtimeNs;
    parts.push(`mtime=${mt}`);
    const xs = fsat.llistxattr(abs).filter((n) => n !== "security.selinux" && !opts.ignoreXattr?.(n)).sort();
    for (const x of xs) parts.push(`${x}=${fsat.lgetxattr(abs, x)?.toString("hex")}`);
    if (kind !== "dir" && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = inodes.get(key);
      if (first === undefined) inodes.set(key, rel);
      else parts.push(`link=${first}`);
    }
    if (!(rel === "" && opts.skipRoot)) out.set(rel === "" ? "." : rel, parts.join(" "));
    if (kind === "dir") {
      const names = fs.readdirSync(abs, { encoding: "buffer" }).map((b) => b.toString("latin1")).sort();
      for (const n of names) {
        const r = rel === "" ? n : `${rel}/${n}`;
        if (opts.skip?.(r)) continue;
        walk(Buffer.concat([abs, Buffer.from(`/${n}`, "latin1")]), r);
      }
    }
  };
  walk(Buffer.from(root), "");
  return out;
}

/** A readable diff of two snapshots ("" when equal). */
export function diffSnapshots(a: Map<string, string>, b: Map<string, string>): string {
  const lines: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) lines.push(`${k}:\n  - ${a.get(k) ?? "(absent)"}\n  + ${b.get(k) ?? "(absent)"}`);
  }
  return lines.join("\n");
}
