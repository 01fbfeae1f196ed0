// The client side of attaching to a container (run, start -a, attach): output frames go to our
// stdout/stderr as they arrive; our stdin goes to the container (scanning for the detach
// keys); with a terminal, the host terminal is put in raw mode and restored on every way out,
// and window size changes are forwarded; signals we receive are passed to the container.
import { O_CLOEXEC } from "../linux/libc.ts";
import { openSync, writeSync, constants } from "node:fs";
import { encodeFrame, Frame, FrameReader, socketPathVia, type Hello } from "./protocol.ts";
import { signalProc, type ProcRef } from "./proc.ts";
import { UserError, signalNumber } from "../util/errors.ts";

export class AttachConnection {
  private reader = new FrameReader();
  private sock!: import("bun").Socket<undefined>;
  private exitInfo?: { exitCode: number; removed?: boolean };
  private output = true;
  /** run -a/--attach: the streams that reach us (the others are only logged). */
  streams = { stdout: true, stderr: true };
  private closedResolve!: () => void;
  /** Resolves when the watcher closes the connection. */
  readonly closed: Promise<void> = new Promise((r) => (this.closedResolve = r));

  /** `output: false` (for `wait`): only the exit is of interest, the container's output is dropped. */
  static async connect(dir: string, opts: { output?: boolean } = {}): Promise<AttachConnection> {
    const c = new AttachConnection();
    c.output = opts.output ?? true;
    const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC);
    try {
      c.sock = await Bun.connect<undefined>({
        unix: socketPathVia(dirFd),
        socket: {
          data: (_s, chunk) => c.onData(chunk),
          close: () => c.closedResolve(),
          error: () => c.closedResolve(),
          end: () => c.closedResolve(),
        },
      });
    } catch (e) {
      throw new UserError(`cannot attach to the container: ${(e as Error).message}`);
    } finally {
      try {
        require("node:fs").closeSync(dirFd);
      } catch {}
    }
    return c;
  }

  get exit(): { exitCode: number; removed?: boolean } | undefined {
    return this.exitInfo;
  }

  hello(h: Hello): void {
    this.send(Frame.Hello, JSON.stringify(h));
  }

  send(type: Frame, payload?: Uint8Array | string): void {
    const f = encodeFrame(type, payload);
    let off = 0;
    // Small frames on a local socket: write() takes them whole unless the watcher is stuck.
    while (off < f.length) {
      const n = this.sock.write(f.subarray(off));
      if (n <= 0) break;
      off += n;
    }
  }

  close(): void {
    try {
      this.sock.end();
    } catch {}
  }

  private onData(chunk: Uint8Array): void {
    for (const f of this.reader.push(chunk)) {
      if (f.type === Frame.Stdout) this.output && this.streams.stdout && writeAll(1, f.payload);
      else if (f.type === Frame.Stderr) this.output && this.streams.stderr && writeAll(2, f.payload);
      else if (f.type === Frame.Exit) this.exitInfo = JSON.parse(f.payload.toString());
    }
  }
}

/** Blocking write of everything (stdout may be a non-blocking pipe). */
export function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off);
    } catch (e: any) {
      if (e?.code === "EAGAIN") {
        Bun.sleepSync(1);
        continue;
      }
      if (e?.code === "EPIPE") return;
      throw e;
    }
  }
}

// ---- detach keys ----

/** Docker's --detach-keys: "ctrl-p,ctrl-q", "a,b", "ctrl-@"... → bytes. */
export function parseDetachKeys(spec: string): Uint8Array {
  const out: number[] = [];
  for (const part of spec.split(",")) {
    const k = part.trim();
    if (k.length === 1) {
      out.push(k.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/i.exec(k);
    const ch = m?.[1]?.toLowerCase();
    if (!ch) throw new UserError(`invalid detach keys "${spec}": use a comma-separated list of characters or ctrl-<value>`);
    if (ch >= "a" && ch <= "z") out.push(ch.charCodeAt(0) - 96);
    else if ("@[\\]^_".includes(ch)) out.push("@[\\]^_".indexOf(ch) === 0 ? 0 : 27 + "[\\]^_".indexOf(ch));
    else throw new UserError(`invalid detach keys "${spec}": unknown key ctrl-${ch}`);
  }
  if (!out.length) throw new UserError(`invalid detach keys "${spec}"`);
  return new Uint8Array(out);
}

export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

/** Scans input for the detach sequence; bytes that turn out not to be part of it pass on. */
export class DetachScanner {
  private matched = 0;
  constructor(private keys: Uint8Array) {}

  /** Returns the bytes to forward, and whether the sequence completed. */
  feed(chunk: Uint8Array): { forward: Uint8Array; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { forward: new Uint8Array(out), detach: true };
        continue;
      }
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = 0;
      if (b === this.keys[0]) {
        this.matched = 1;
        if (this.keys.length === 1) return { forward: new Uint8Array(out), detach: true };
      } else out.push(b);
    }
    return { forward: new Uint8Array(out), detach: false };
  }
}

// ---- the host terminal ----

let savedTermios: Uint8Array | undefined;

/** Put our stdin terminal in raw mode; restored by restoreTerminal() and at process exit. */
export function enterRawMode(): void {
  const { tcgetattr, tcsetattr, makeRaw } = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  const t = tcgetattr(0);
  if (!t) return;
  savedTermios = t;
  process.on("exit", restoreTerminal);
  tcsetattr(0, makeRaw(t));
}

export function restoreTerminal(): void {
  if (!savedTermios) return;
  const { tcsetattr } = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  tcsetattr(0, savedTermios, 1 /* TCSADRAIN */);
  savedTermios = undefined;
}

export function terminalSize(): { cols: number; rows: number } | undefined {
  const { windowSize } = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  for (const fd of [0, 1, 2]) {
    const ws = windowSize(fd);
    if (ws && ws.cols && ws.rows) return ws;
  }
  return undefined;
}

const PROXIED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

export interface SessionOptions {
  /** The container has a terminal: forward our window size changes. */
  tty: boolean;
  /** Put our terminal in raw mode (a terminal container with our stdin attached). */
  raw: boolean;
  stdin: boolean;
  detachKeys: Uint8Array;
  /** The container's init, for --sig-proxy; undefined disables proxying. */
  proxyTo?: ProcRef;
}

export type SessionEnd = { exitCode: number; removed?: boolean } | { detached: true } | { lost: true };

/** Run an attached session until the container exits, the user detaches, or the watcher goes. */
export async function runSession(conn: AttachConnection, opts: SessionOptions): Promise<SessionEnd> {
  let detached = false;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const cleanups: (() => void)[] = [];

  if (opts.raw) {
    enterRawMode();
    cleanups.push(restoreTerminal);
  }
  if (opts.tty) {
    const onWinch = () => {
      const size = terminalSize();
      if (size) conn.send(Frame.Resize, JSON.stringify(size));
    };
    process.on("SIGWINCH", onWinch);
    cleanups.push(() => process.off("SIGWINCH", onWinch));
  }
  if (opts.proxyTo) {
    for (const sig of PROXIED) {
      const h = () => signalProc(opts.proxyTo, signalNumber(sig)!);
      process.on(sig, h);
      cleanups.push(() => process.off(sig, h));
    }
  } else if (opts.raw) {
    // Without a proxy a terminal signal must still restore the terminal on its way out.
    for (const sig of ["SIGTERM", "SIGHUP"] as const) {
      const h = () => {
        restoreTerminal();
        process.exit(128 + signalNumber(sig)!);
      };
      process.on(sig, h);
      cleanups.push(() => process.off(sig, h));
    }
  }
  if (opts.stdin) {
    const scanner = new DetachScanner(opts.detachKeys);
    const onData = (d: Buffer) => {
      const { forward, detach } = scanner.feed(d);
      if (forward.length) conn.send(Frame.Stdin, forward);
      if (detach) {
        detached = true;
        done();
      }
    };
    const onEnd = () => conn.send(Frame.StdinEof);
    process.stdin.on("data", onData);
    process.stdin.on("end", onEnd);
    cleanups.push(() => {
      process.stdin.off("data", onData);
      process.stdin.off("end", onEnd);
      process.stdin.pause();
    });
  }
  conn.closed.then(done);
  try {
    await finished;
  } finally {
    for (const c of cleanups.reverse()) c();
  }
  if (detached) {
    conn.close();
    return { detached: true };
  }
  return conn.exit ?? { lost: true };
}
