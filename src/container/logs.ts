// A container's log: its stdout and stderr as JSON lines in Docker's json-file format,
//   {"log":"text\n","stream":"stdout","time":"2025-01-02T03:04:05.123456789Z"}
// one entry per line of output (a line longer than 16 KiB is split, as Docker does), written
// by the watcher and read by `minid logs`.
import { closeSync, openSync, readSync, writeSync, fstatSync } from "node:fs";
import { join } from "node:path";

export type Stream = "stdout" | "stderr";

export interface LogEntry {
  log: string;
  stream: Stream;
  time: string;
}

const MAX_LINE = 16 * 1024;

export function logPath(containerDir: string, id: string): string {
  return join(containerDir, `${id}-json.log`);
}

// Nanosecond wall-clock timestamps: one Date.now() anchor, then the monotonic clock.
const anchorNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export function nowRfc3339Nano(): string {
  const ns = anchorNs + process.hrtime.bigint();
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}Z`;
}

/** --log-opt max-size / max-file: rotate at `maxSize` bytes, keep `maxFile` files in all (the current one included). */
export interface Rotation {
  maxSize: number;
  maxFile: number;
}

/** The rotated files of a log, oldest first (PATH.N … PATH.1), as Docker's json-file names them. */
export function rotatedLogs(path: string): string[] {
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  const out: string[] = [];
  for (let i = 1; existsSync(`${path}.${i}`); i++) out.unshift(`${path}.${i}`);
  return out;
}

export class LogWriter {
  private fd: number;
  private partial: Record<Stream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  private size = 0;

  constructor(
    readonly path: string,
    private rotation?: Rotation,
  ) {
    this.fd = openSync(path, "a", 0o640);
    this.size = fstatSync(this.fd).size;
  }

  /** Before `bytes` more: start a new file when they would pass max-size (the oldest beyond max-file goes). */
  private rotate(bytes: number): void {
    const r = this.rotation;
    if (!r || this.size === 0 || this.size + bytes <= r.maxSize) return;
    const { renameSync, rmSync, ftruncateSync } = require("node:fs") as typeof import("node:fs");
    try {
      if (r.maxFile <= 1) {
        ftruncateSync(this.fd, 0);
      } else {
        rmSync(`${this.path}.${r.maxFile - 1}`, { force: true });
        for (let i = r.maxFile - 2; i >= 1; i--) {
          try {
            renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
          } catch {}
        }
        renameSync(this.path, `${this.path}.1`);
        closeSync(this.fd);
        this.fd = openSync(this.path, "a", 0o640);
      }
      this.size = 0;
    } catch {
      // keep writing where we are: a log that cannot rotate is better than none
    }
  }

  write(stream: Stream, chunk: Uint8Array): void {
    let buf = this.partial[stream].length ? Buffer.concat([this.partial[stream], chunk]) : Buffer.from(chunk);
    let out = "";
    const time = nowRfc3339Nano();
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) break;
      out += entry(buf.subarray(0, nl + 1), stream, time);
      buf = buf.subarray(nl + 1);
    }
    while (buf.length >= MAX_LINE) {
      out += entry(buf.subarray(0, MAX_LINE), stream, time);
      buf = buf.subarray(MAX_LINE);
    }
    this.partial[stream] = Buffer.from(buf);
    if (out) this.append(out);
  }

  /** Write out what is left of unterminated lines (at exit). */
  flush(): void {
    const time = nowRfc3339Nano();
    let out = "";
    for (const s of ["stdout", "stderr"] as const) {
      if (this.partial[s].length) out += entry(this.partial[s], s, time);
      this.partial[s] = Buffer.alloc(0);
    }
    if (out) this.append(out);
  }

  close(): void {
    this.flush();
    this.noteDropped(); // one last try
    closeSync(this.fd);
  }

  /** Lines that could not be written (a full disk), told in the log once writing works again. */
  private dropped = 0;
  private dropReason = "";
  /** A write stopped mid-line: the next entry must start on a line of its own. */
  private torn = false;

  /**
   * Append entries. A failing write (ENOSPC, EDQUOT, EIO) must not take the watcher down:
   * its lines are dropped and counted, and the count is written as an entry of its own as
   * soon as a write succeeds again.
   */
  private append(text: string): void {
    if (this.dropped) {
      const note = entry(
        Buffer.from(`minid: ${this.dropped} line${this.dropped === 1 ? "" : "s"} of output dropped: ${this.dropReason}\n`),
        "stderr",
        nowRfc3339Nano(),
      );
      if (!this.writeAll((this.torn ? "\n" : "") + note)) return this.drop(text);
      this.dropped = 0;
    }
    if (!this.writeAll(text)) this.drop(text);
  }

  private drop(text: string): void {
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) this.dropped++;
  }

  /** Write everything or note why not; with rotation, entry by entry so no file passes max-size. */
  private writeAll(text: string): boolean {
    if (!this.rotation) return this.writeChunk(text);
    let chunk = "";
    let chunkBytes = 0;
    for (let start = 0; start < text.length; ) {
      const nl = text.indexOf("\n", start);
      const line = nl < 0 ? text.slice(start) : text.slice(start, nl + 1);
      start += line.length;
      const n = Buffer.byteLength(line);
      if (chunk && this.size + chunkBytes + n > this.rotation.maxSize) {
        if (!this.writeChunk(chunk)) return false;
        chunk = "";
        chunkBytes = 0;
      }
      chunk += line;
      chunkBytes += n;
    }
    return chunk ? this.writeChunk(chunk) : true;
  }

  private writeChunk(text: string): boolean {
    const b = Buffer.from(text);
    this.rotate(b.length);
    this.size += b.length;
    let off = 0;
    try {
      while (off < b.length) off += writeSync(this.fd, b, off);
      this.torn = false;
      return true;
    } catch (e: any) {
      this.dropReason = e?.code === "ENOSPC" ? "no space left on device" : String(e?.code ?? e?.message ?? e);
      if (off > 0) this.torn = true;
      return false;
    }
  }

  /** Write the note of dropped lines now, if there is one and space allows. */
  noteDropped(): void {
    if (this.dropped) this.append("");
  }

  /** Lines dropped and not yet noted (tests, and the watcher's own report). */
  get droppedLines(): number {
    return this.dropped;
  }
}

function entry(bytes: Uint8Array, stream: Stream, time: string): string {
  return `{"log":${JSON.stringify(Buffer.from(bytes).toString("utf8"))},"stream":"${stream}","time":"${time}"}\n`;
}

/** Reads entries from an offset on; keeps a partial last line for the next call. */
export class LogReader {
  private fd: number | undefined;
  private offset = 0;
  private rest = "";
  private decoder = new TextDecoder();

  constructor(readonly path: string) {}

  /** Entries appended since the last call ([] when the file does not exist yet). */
  read(): LogEntry[] {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, "r");
      } catch {
        return [];
      }
    }
    const size = fstatSync(this.fd).size;
    if (size < this.offset) this.offset = 0; // truncated
    const out: LogEntry[] = [];
    const buf = Buffer.allocUnsafe(Math.min(Math.max(size - this.offset, 0), 8 << 20) || 1);
    while (this.offset < size) {
      const n = readSync(this.fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
      if (n <= 0) break;
      this.offset += n;
      const text = this.rest + this.decoder.decode(buf.subarray(0, n), { stream: true });
      const lines = text.split("\n");
      this.rest = lines.pop()!;
      for (const l of lines) {
        if (!l) continue;
        try {
          out.push(JSON.parse(l) as LogEntry);
        } catch {
          // a torn line from a crash: skip it
        }
      }
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
