// Image archives (what `save` writes and `load` reads): reading a tar of JSON documents and
// blobs safely, and writing one.
//
// Reading streams the archive (plain, gzip or zstd) through node-tar's parser and keeps only
// regular files, each in a numbered scratch file with its sha256 computed on the way: names
// never become host paths, so an entry cannot escape whatever it claims to be. Absolute names
// and names with `..` are refused; symlinks and hardlinks between entries (older docker-save
// layouts use them for shared layers) are resolved inside the archive, never on the host.
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, posix } from "node:path";
import { isatty } from "node:tty";
import { UserError, stdoutWriteError } from "../util/errors.ts";
import { removeTree, tempSibling } from "../util/fs.ts";

export interface ArchiveFile {
  /** Normalised name inside the archive. */
  name: string;
  /** Where its bytes are on disk (scratch). */
  path: string;
  size: number;
  /** "sha256:<hex>" of the content. */
  digest: string;
}

/** A normalised entry name, or a UserError for one that could escape. */
export function safeArchivePath(name: string): string {
  if (name.includes("\0")) throw new UserError(`invalid archive: entry name contains a NUL byte`);
  if (name.startsWith("/")) throw new UserError(`invalid archive: entry "${name}" has an absolute name`);
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") throw new UserError(`invalid archive: entry "${name}" points outside the archive`);
    parts.push(p);
  }
  return parts.join("/");
}

/** The entry a link at `from` with target `target` names, inside the archive. */
export function resolveLinkTarget(from: string, target: string, hard: boolean): string {
  if (target.startsWith("/")) throw new UserError(`invalid archive: link "${from}" points to absolute "${target}"`);
  const joined = hard ? target : posix.join(posix.dirname(from), target);
  const norm = posix.normalize(joined);
  if (norm === ".." || norm.startsWith("../")) {
    throw new UserError(`invalid archive: link "${from}" points outside the archive`);
  }
  return safeArchivePath(norm);
}

export class ArchiveIndex {
  readonly files = new Map<string, ArchiveFile>();
  readonly links = new Map<string, string>();
  constructor(readonly dir: string) {}

  /** The file an entry name leads to, following links inside the archive. */
  get(name: string): ArchiveFile | undefined {
    let n: string;
    try {
      n = safeArchivePath(name);
    } catch {
      return undefined;
    }
    for (let hops = 0; hops < 16; hops++) {
      const f = this.files.get(n);
      if (f) return f;
      const l = this.links.get(n);
      if (l === undefined) return undefined;
      n = l;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** A small JSON document from the archive (manifest.json, index.json, configs). */
  json<T = unknown>(name: string, what = name): T {
    const f = this.get(name);
    if (!f) throw new UserError(`invalid archive: ${what} is missing`);
    if (f.size > 64 << 20) throw new UserError(`invalid archive: ${what} is too large`);
    try {
      return JSON.parse(readFileSync(f.path, "utf8")) as T;
    } catch {
      throw new UserError(`invalid archive: ${what} is not valid JSON`);
    }
  }

  raw(name: string, what = name): Buffer {
    const f = this.get(name);
    if (!f) throw new UserError(`invalid archive: ${what} is missing`);
    if (f.size > 64 << 20) throw new UserError(`invalid archive: ${what} is too large`);
    return readFileSync(f.path);
  }

  cleanup(): void {
    removeTree(this.dir);
  }
}

type Source = AsyncIterable<Uint8Array>;

/**
 * Stream a tar archive into `dir` (created; the caller removes it). Rejects with a one-line
 * UserError on anything malformed: not a tar, truncated, bad names, corrupt compression.
 */
export async function indexArchive(source: Source, dir: string): Promise<ArchiveIndex> {
  const { Parser } = await import("tar");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const index = new ArchiveIndex(dir);
  let problem: string | undefined;
  let seq = 0;
  const fail = (msg: string) => {
    problem ??= msg;
  };
  const parser = new Parser({
    strict: false,
    maxDecompressionRatio: Infinity,
    onwarn: (code: string, message: string | Error) => {
      const m = message instanceof Error ? message.message : String(message);
      if (code === "TAR_ENTRY_INFO" || code === "TAR_ENTRY_UNSUPPORTED") return;
      fail(m);
    },
  } as any);
  parser.on("entry", (entry: any) => {
    let name: string;
    try {
      name = safeArchivePath(String(entry.path));
      if (entry.type === "SymbolicLink" || entry.type === "Link") {
        index.links.set(name, resolveLinkTarget(name, String(entry.linkpath ?? ""), entry.type === "Link"));
      }
    } catch (e) {
      fail((e as Error).message);
      entry.resume();
      return;
    }
    if (problem || !(entry.type === "File" || entry.type === "OldFile" || entry.type === "ContiguousFile")) {
      entry.resume();
      return;
    }
    const path = join(dir, String(++seq));
    const fd = openSync(path, "wx", 0o600);
    const hash = createHash("sha256");
    let size = 0;
    entry.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off);
    });
    entry.on("end", () => {
      closeSync(fd);
      const prev = index.files.get(name);
      if (prev) removeTree(prev.path); // a later entry of the same name wins, as in tar
      index.links.delete(name);
      index.files.set(name, { name, path, size, digest: `sha256:${hash.digest("hex")}` });
    });
  });
  const done = new Promise<void>((resolve) => {
    parser.on("end", () => resolve());
    parser.on("close", () => resolve());
    parser.on("error", (e: Error) => {
      fail(e.message);
      resolve();
    });
  });
  let total = 0;
  try {
    for await (const chunk of source) {
      total += chunk.length;
      if (problem) break;
      if (!parser.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        await new Promise<void>((r) => parser.once("drain", () => r()));
      }
    }
  } catch (e) {
    fail((e as Error).message);
  }
  if (!problem) parser.end();
  else (parser as any).abort?.(new Error(problem));
  if (!problem) await done;
  if (total === 0) problem ??= "the input is empty";
  if (problem) {
    index.cleanup();
    throw new UserError(`invalid archive: ${oneLine(problem)}`);
  }
  return index;
}

function oneLine(s: string): string {
  const l = s.split("\n")[0]!.trim();
  if (/unexpected end of file|Truncated input/i.test(l)) return `truncated (${l})`;
  if (/Unrecognized archive format/i.test(l)) return "not a tar archive";
  if (/checksum failure|invalid entry/i.test(l)) return `not a tar archive (${l})`;
  return l;
}

// ---------------------------------------------------------------------------------------------
// Writing

const BLOCK = 512;
const CHUNK = 1 << 20;

/** Write bytes to an fd, waiting out EAGAIN on a non-blocking pipe. */
export function writeAllSync(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e: any) {
      if (e?.code !== "EAGAIN") throw stdoutWriteError(fd, e);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/**
 * A minimal, synchronous tar writer for archives of documents and blobs (short names, regular
 * files and directories only). Layer contents are never written with it.
 */
export class TarWriter {
  private HeaderCls: any;
  // A fixed time (the Unix epoch) for every entry: saving the same images twice gives the
  // same bytes, so an archive can be checksummed or cached.
  private mtime = new Date(0);
  constructor(
    private fd: number,
    HeaderCls: unknown,
  ) {
    this.HeaderCls = HeaderCls;
  }

  static async open(fd: number): Promise<TarWriter> {
    const { Header } = await import("tar");
    return new TarWriter(fd, Header);
  }

  private headerBlock(path: string, type: "File" | "Directory", size: number, mode: number): Uint8Array {
    const h = new this.HeaderCls({ path, type, size, mode, uid: 0, gid: 0, uname: "", gname: "", mtime: this.mtime });
    h.encode();
    if (h.needPax) throw new Error(`archive entry name too long: ${path}`);
    return h.block;
  }

  private header(path: string, type: "File" | "Directory", size: number, mode: number): void {
    writeAllSync(this.fd, this.headerBlock(path, type, size, mode));
  }

  // A file whose name and size are known only once its bytes are written (commit -o's new
  // layer, named by its digest): its header is a reserved block, filled in by endFile. Only
  // for an archive written to a file (the header is written back in place).
  private open?: { at: number };

  /**
   * Reserve the header of the file whose bytes follow, and return the fd to append them to
   * (they are written by whoever has them: commit -o's layer writer, off this thread for a
   * big layer).
   */
  rawFd(): number {
    if (this.open) throw new Error("archive: a file is already open");
    this.open = { at: fstatSync(this.fd).size };
    writeAllSync(this.fd, new Uint8Array(BLOCK));
    return this.fd;
  }

  /** End the file begun with rawFd(): pad it, and write its header in the reserved block. */
  endFile(path: string, size: number): void {
    const o = this.open;
    if (!o) throw new Error("archive: no file is open");
    this.open = undefined;
    const written = fstatSync(this.fd).size - o.at - BLOCK;
    if (written !== size) throw new Error(`${path}: ${written} bytes written for ${size}`);
    this.pad(size);
    const h = this.headerBlock(path, "File", size, 0o644);
    if (writeSync(this.fd, h, 0, h.length, o.at) !== h.length) throw new Error(`${path}: short header write`);
  }

  dir(path: string): void {
    this.header(path.endsWith("/") ? path : `${path}/`, "Directory", 0, 0o755);
  }

  bytes(path: string, data: string | Uint8Array): void {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    this.header(path, "File", buf.length, 0o644);
    writeAllSync(this.fd, buf);
    this.pad(buf.length);
  }

  /** Copy a file's bytes into the archive; its size must not change while we read it. */
  file(path: string, source: string): void {
    const size = statSync(source).size;
    this.header(path, "File", size, 0o644);
    const fd = openSync(source, "r");
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      let left = size;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, left), null);
        if (n <= 0) throw new Error(`${source} shrank while being archived`);
        writeAllSync(this.fd, buf.subarray(0, n));
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    this.pad(size);
  }

  /** Stream of unknown content whose size is known up front (a decompressed layer). */
  async stream(path: string, size: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.header(path, "File", size, 0o644);
    let n = 0;
    for await (const c of chunks) {
      if (n + c.length > size) throw new Error(`${path}: more data than announced`);
      writeAllSync(this.fd, c);
      n += c.length;
    }
    if (n !== size) throw new Error(`${path}: ${n} bytes instead of ${size}`);
    this.pad(size);
  }

  private pad(size: number): void {
    const rem = size % BLOCK;
    if (rem) writeAllSync(this.fd, new Uint8Array(BLOCK - rem));
  }

  finish(): void {
    writeAllSync(this.fd, new Uint8Array(BLOCK * 2));
  }
}

/**
 * Write an archive to `dest` ("-" = stdout) with `fill`; a file appears only complete (temp
 * name, fsync, rename), and a failed write leaves nothing.
 */
export async function writeArchive(dest: string, fill: (w: TarWriter) => Promise<void>): Promise<void> {
  if (dest === "-") {
    const w = await TarWriter.open(1);
    await fill(w);
    w.finish();
    return;
  }
  const tmp = tempSibling(dest);
  let fd: number;
  try {
    fd = openSync(tmp, "wx", 0o644);
  } catch (e: any) {
    throw new UserError(`cannot write ${dest}: ${e?.code === "ENOENT" ? "no such directory" : (e?.code ?? e?.message)}`);
  }
  try {
    const w = await TarWriter.open(fd);
    await fill(w);
    w.finish();
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, dest);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    removeTree(tmp);
    throw e;
  }
}

/** Refuse to pour binary into a terminal, as docker does. */
export function checkStdoutNotTerminal(what: string): void {
  if (isatty(1)) {
    throw new UserError(`cowardly refusing to ${what} to a terminal. Use the -o flag or redirect`);
  }
}
