// The tar format's fields: NUL-terminated strings, octal and GNU base-256 numbers, and PAX
// extended headers (kept byte-exact: xattr values are binary). Pure functions over a header
// block or a header body; the extractor (layer-extract.ts) decides what an entry means.
import { reject } from "./layer-error.ts";

// Extended headers and GNU long names are held in memory; Go's archive/tar uses the same cap.
export const META_MAX = 1 << 20;

export interface Pax {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: bigint;
  atime?: bigint;
  xattrs?: Map<string, Buffer>;
  sparse?: boolean;
}

export function cstring(h: Uint8Array, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && h[end] !== 0) end++;
  return Buffer.from(h.buffer, h.byteOffset + off, end - off).toString("latin1");
}

/** Octal field: leading spaces/NULs, digits, then only spaces/NULs. NaN if malformed. */
export function octal(h: Uint8Array, off: number, len: number): number {
  let i = off;
  const end = off + len;
  while (i < end && (h[i] === 0x20 || h[i] === 0)) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = h[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return NaN;
    v = v * 8 + (c - 0x30);
  }
  for (; i < end; i++) if (h[i] !== 0x20 && h[i] !== 0) return NaN;
  return v;
}

/** Numeric field, octal or GNU base-256. Only mtime may be negative. */
export function number(h: Uint8Array, off: number, len: number, what: string, signed = false): number {
  let v: number;
  if (h[off]! & 0x80) {
    const neg = (h[off]! & 0x40) !== 0;
    let big = BigInt(h[off]! & 0x7f);
    for (let i = 1; i < len; i++) big = (big << 8n) | BigInt(h[off + i]!);
    if (neg) big -= 1n << BigInt(8 * len - 1);
    v = big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER) ? NaN : Number(big);
  } else {
    v = octal(h, off, len);
  }
  if (!Number.isFinite(v) || (v < 0 && !signed)) throw reject(`invalid ${what} field in a tar header`);
  return v;
}

export function parsePax(buf: Buffer, into: Pax): Pax {
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    const lenStr = sp < 0 ? "" : buf.toString("latin1", i, sp);
    const len = /^\d{1,7}$/.test(lenStr) ? Number(lenStr) : NaN;
    if (!(len > sp - i + 1) || i + len > buf.length || buf[i + len - 1] !== 0x0a) {
      throw reject("malformed PAX extended header");
    }
    const eq = buf.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= i + len - 1) throw reject("malformed PAX extended header");
    const key = buf.toString("utf8", sp + 1, eq);
    const val = buf.subarray(eq + 1, i + len - 1);
    i += len;
    const str = () => val.toString("latin1");
    const int = () => {
      const s = str();
      if (!/^\d{1,16}$/.test(s) || Number(s) > Number.MAX_SAFE_INTEGER) {
        throw reject(`invalid PAX ${key} value ${JSON.stringify(s.slice(0, 40))}`);
      }
      return Number(s);
    };
    // An empty value unsets the key (POSIX).
    if (val.length === 0 && !key.includes("xattr.")) {
      delete (into as Record<string, unknown>)[key];
      continue;
    }
    if (key === "path") into.path = str();
    else if (key === "linkpath") into.linkpath = str();
    else if (key === "size") into.size = int();
    else if (key === "uid") into.uid = int();
    else if (key === "gid") into.gid = int();
    else if (key === "mtime") into.mtime = paxTime(str(), key);
    else if (key === "atime") into.atime = paxTime(str(), key);
    else if (key.startsWith("SCHILY.xattr.")) {
      (into.xattrs ??= new Map()).set(key.slice(13), Buffer.from(val));
    } else if (key.startsWith("LIBARCHIVE.xattr.")) {
      // bsdtar: URL-encoded name, base64 value.
      let n: string;
      try {
        n = decodeURIComponent(key.slice(17));
      } catch {
        throw reject(`malformed PAX key ${JSON.stringify(key.slice(0, 80))}`);
      }
      (into.xattrs ??= new Map()).set(n, Buffer.from(str(), "base64"));
    } else if (key.startsWith("GNU.sparse.")) into.sparse = true;
  }
  return into;
}

/** PAX time "[-]seconds[.fraction]" as nanoseconds. */
export function paxTime(s: string, key: string): bigint {
  const m = /^(-?)(\d{1,19})(?:\.(\d*))?$/.exec(s);
  if (!m) throw reject(`invalid PAX ${key} value ${JSON.stringify(s.slice(0, 40))}`);
  const ns = BigInt(m[2]!) * 1_000_000_000n + BigInt((m[3] ?? "").slice(0, 9).padEnd(9, "0"));
  return m[1] ? -ns : ns;
}
