// The attach protocol between a client (run, start -a, attach) and a container's watcher, over
// the unix socket <container dir>/attach.sock. Every message is a frame laid out like Docker's
// multiplexed stream: [type u8, 0, 0, 0, length u32 big-endian] then `length` bytes.

export const enum Frame {
  Stdin = 0,
  Stdout = 1,
  Stderr = 2,
  /** watcher → client: JSON { exitCode } once the container has exited and state says so. */
  Exit = 3,
  /** client → watcher, first frame: JSON Hello. */
  Hello = 4,
  /** client → watcher: JSON { cols, rows }. */
  Resize = 5,
  /** client → watcher: the client's stdin reached end of file. */
  StdinEof = 6,
}

export interface Hello {
  /** Forward this client's stdin to the container. */
  stdin: boolean;
  cols?: number;
  rows?: number;
}

export function encodeFrame(type: Frame, payload: Uint8Array | string = new Uint8Array(0)): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const out = Buffer.allocUnsafe(8 + body.length);
  out[0] = type;
  out[1] = out[2] = out[3] = 0;
  out.writeUInt32BE(body.length, 4);
  out.set(body, 8);
  return out;
}

/** Incremental decoder: push bytes, get whole frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): { type: Frame; payload: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const frames: { type: Frame; payload: Buffer }[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      frames.push({ type: this.buf[0] as Frame, payload: this.buf.subarray(8, 8 + len) });
      this.buf = this.buf.subarray(8 + len);
    }
    return frames;
  }
}

/** The socket path, short enough for sun_path whatever the root: through a directory fd. */
export function socketPathVia(dirFd: number): string {
  return `/proc/self/fd/${dirFd}/attach.sock`;
}
