// Reading the socketpair ends Bun.spawn gives for extra stdio slots (handshakes between a
// parent and the minid child it started). Bun makes them non-blocking; these helpers make
// them blocking and read synchronously: the reader has nothing else to do until the answer.
// node:fs and libc.ts are loaded on first use: `run` starts its watcher through this module
// before the CLI has loaded anything, and loading them first would only delay that spawn.
const fs = () => require("node:fs") as typeof import("node:fs");
const closeSync = (fd: number) => fs().closeSync(fd);
const readSync = (fd: number, buf: Buffer, off: number, len: number, pos: null) => fs().readSync(fd, buf, off, len, pos);

function setBlocking(fd: number): void {
  (require("../linux/libc.ts") as typeof import("../linux/libc.ts")).setBlocking(fd);
}

export function readSome(fd: number, buf: Buffer): number {
  for (;;) {
    try {
      return readSync(fd, buf, 0, buf.length, null);
    } catch (e: any) {
      if (e?.code === "EINTR") continue;
      if (e?.code === "EAGAIN") {
        setBlocking(fd);
        continue;
      }
      return 0; // ECONNRESET and friends: the peer is gone
    }
  }
}

/** Everything up to EOF (the peer closed, exited, or exec'd with the fd close-on-exec). */
export function readToEof(fd: number): Buffer {
  setBlocking(fd);
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(65536);
  for (;;) {
    const n = readSome(fd, buf);
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  try {
    closeSync(fd);
  } catch {}
  return Buffer.concat(chunks);
}

/** A reader of newline-terminated JSON messages from one fd. */
export class JsonLines {
  private rest = Buffer.alloc(0);
  private buf = Buffer.allocUnsafe(65536);
  constructor(private fd: number) {
    setBlocking(fd);
  }

  /** The next message, or undefined at EOF. */
  next<T>(): T | undefined {
    for (;;) {
      const nl = this.rest.indexOf(10);
      if (nl >= 0) {
        const line = this.rest.subarray(0, nl).toString("utf8");
        this.rest = this.rest.subarray(nl + 1);
        return JSON.parse(line) as T;
      }
      const n = readSome(this.fd, this.buf);
      if (n <= 0) return undefined;
      this.rest = Buffer.concat([this.rest, this.buf.subarray(0, n)]);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {}
    this.fd = -1;
  }
}
