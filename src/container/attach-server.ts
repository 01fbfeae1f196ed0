// The watcher's attach server: the container's attach socket (attach.sock in its directory,
// reached through a directory fd so the path length never matters), the framed protocol of
// protocol.ts, and back-pressure: output is queued per client, and the container's output
// pumps wait (drained()) while clients hold more than BACKLOG_LIMIT unsent.
import { openSync, unlinkSync, constants } from "node:fs";
import { join } from "node:path";
import { encodeFrame, Frame, FrameReader, socketPathVia, type Hello } from "./protocol.ts";
import { O_CLOEXEC } from "../linux/libc.ts";

const BACKLOG_LIMIT = 4 << 20;

interface ClientData {
  reader: FrameReader;
  queue: Buffer[];
  pending: number;
  stdin: boolean;
  stdinOnce: boolean;
  hello: boolean;
  ended: boolean;
}

/** What clients ask of the container. */
export interface AttachHandlers {
  stdin(data: Uint8Array): void;
  /** The first client (the CLI that started the container) closed its stdin. */
  stdinEof(): void;
  resize(cols: number, rows: number): void;
}

export class AttachServer {
  private clients = new Set<import("bun").Socket<ClientData>>();
  private drainWaiters: (() => void)[] = [];
  private onFirstHello: (ok: boolean) => void = () => {};
  private server: ReturnType<AttachServer["listen"]>;

  /** `attachFirst`: the first client to say hello is the starting CLI (its stdin EOF closes the container's). */
  constructor(
    private dir: string,
    private attachFirst: boolean,
    private on: AttachHandlers,
  ) {
    this.server = this.listen();
  }

  /** Resolves true when the first client said hello, false after `timeoutMs`. */
  firstClient(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.onFirstHello = resolve;
      setTimeout(() => resolve(false), timeoutMs).unref();
    });
  }

  /** Resolves once clients have taken enough of their backlog for more output. */
  drained(): Promise<void> {
    if (this.backlog() <= BACKLOG_LIMIT) return Promise.resolve();
    return new Promise<void>((r) => this.drainWaiters.push(r));
  }

  stop(): void {
    this.server.stop(true);
  }

  /** Tell every client the exit, let them read what is queued (up to `timeoutMs`), close. */
  async close(exitPayload: string, timeoutMs: number): Promise<void> {
    this.broadcast(Frame.Exit, exitPayload);
    for (const c of this.clients) this.endClient(c);
    await this.flushClients(timeoutMs);
    this.server.stop(true);
    try {
      unlinkSync(join(this.dir, "attach.sock"));
    } catch {}
  }

  private listen() {
    const dirFd = openSync(this.dir, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC);
    try {
      unlinkSync(join(this.dir, "attach.sock"));
    } catch {}
    let first = true;
    return Bun.listen<ClientData>({
      unix: socketPathVia(dirFd),
      socket: {
        open: (s) => {
          s.data = { reader: new FrameReader(), queue: [], pending: 0, stdin: false, stdinOnce: false, hello: false, ended: false };
          this.clients.add(s);
        },
        data: (s, chunk) => {
          for (const f of s.data.reader.push(chunk)) {
            switch (f.type) {
              case Frame.Hello: {
                const h = JSON.parse(f.payload.toString()) as Hello;
                s.data.hello = true;
                s.data.stdin = Boolean(h.stdin);
                if (first && this.attachFirst) {
                  first = false;
                  s.data.stdinOnce = true;
                  this.onFirstHello(true);
                }
                if (h.cols && h.rows) this.on.resize(h.cols, h.rows);
                break;
              }
              case Frame.Stdin:
                if (s.data.stdin) this.on.stdin(f.payload);
                break;
              case Frame.StdinEof:
                if (s.data.stdin && s.data.stdinOnce) this.on.stdinEof();
                break;
              case Frame.Resize: {
                const r = JSON.parse(f.payload.toString()) as { cols: number; rows: number };
                this.on.resize(r.cols, r.rows);
                break;
              }
            }
          }
        },
        drain: (s) => this.flushClient(s),
        close: (s) => {
          this.clients.delete(s);
          this.wakeDrainWaiters();
        },
        error: (s) => {
          this.clients.delete(s);
          this.wakeDrainWaiters();
        },
      },
    });
  }

  private send(s: import("bun").Socket<ClientData>, frame: Buffer): void {
    if (s.data.ended) return;
    if (s.data.queue.length === 0) {
      const n = s.write(frame);
      if (n >= frame.length) return;
      frame = frame.subarray(Math.max(n, 0));
    }
    s.data.queue.push(frame);
    s.data.pending += frame.length;
  }

  private flushClient(s: import("bun").Socket<ClientData>): void {
    while (s.data.queue.length) {
      const f = s.data.queue[0]!;
      const n = s.write(f);
      if (n >= f.length) {
        s.data.queue.shift();
        s.data.pending -= f.length;
        continue;
      }
      if (n > 0) {
        s.data.queue[0] = f.subarray(n);
        s.data.pending -= n;
      }
      break;
    }
    if (!s.data.queue.length && s.data.ended) s.end();
    this.wakeDrainWaiters();
  }

  private endClient(s: import("bun").Socket<ClientData>): void {
    s.data.ended = true;
    if (!s.data.queue.length) s.end();
  }

  private backlog(): number {
    let n = 0;
    for (const c of this.clients) n += c.data.pending;
    return n;
  }

  private wakeDrainWaiters(): void {
    if (this.backlog() > BACKLOG_LIMIT) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  private async flushClients(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.clients].some((c) => c.data.queue.length) && Date.now() < deadline) await Bun.sleep(5);
  }

  broadcast(type: Frame, payload: Uint8Array | string): void {
    if (!this.clients.size) return;
    const frame = encodeFrame(type, payload);
    for (const c of this.clients) if (c.data.hello) this.send(c, frame);
  }

}
