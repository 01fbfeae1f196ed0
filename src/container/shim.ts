// The watcher (`minid _shim`): one small process per running container, started detached
// (its own session) so it outlives the CLI that started it. It
//   - spawns the container's init in a new PID namespace (init becomes PID 1 there),
//   - owns the container's stdio: a pseudo-terminal, or pipes whose output it writes to the
//     container's json-file log and to every attached client (protocol.ts),
//   - records the start (pid + start time + boot id) and, whoever else is gone, the exit
//     (exit code, time) in the container's state, or removes the container (--rm),
//   - holds shim.lock for its whole life, so other commands can tell a live watcher.
// It reports to the CLI that started it over fd 3 (JSON lines): {"listening":true} when it
// waits for the CLI to attach, then {"started":true,"pid":N} or {"error":"...","exitCode":N}.
// It imports only what it needs: it stays resident for as long as the container runs.
import { closeSync, openSync, unlinkSync, writeSync, constants } from "node:fs";
import { readToEof } from "./fdio.ts";
import { join } from "node:path";
import { ContainerStore, processStartTime, type ContainerState } from "./state.ts";
import { tryShimLock, updateState, withContainerLock, removeRecordLocked } from "./locks.ts";
import { LogWriter, logPath, nowRfc3339Nano, type Stream } from "./logs.ts";
import { encodeFrame, Frame, FrameReader, socketPathVia, type Hello } from "./protocol.ts";
import { bootId } from "./proc.ts";
import { launchInit, INIT_SPEC_ENV, INIT_SPEC_FROM_FD, type InitMode, type LaunchedInit } from "./init-launch.ts";
import { O_CLOEXEC } from "../linux/libc.ts";
import { statusFromExit, EXIT_ENGINE } from "../util/errors.ts";
import { trace } from "../util/trace.ts";

import { SHIM_ENV, PRESTART } from "./watcher.ts";
export { SHIM_ENV };
export { INIT_SPEC_ENV, INIT_SPEC_FROM_FD, type InitMode };
/** The terminal mode of a pre-started watcher (JSON InitMode). */
export const SHIM_MODE_ENV = "MINID_SHIM_MODE";
const REPORT_FD = 3;
const HELLO_TIMEOUT_MS = 10_000;
const BACKLOG_LIMIT = 4 << 20;

/** Our stderr becomes the container's shim.log. */
function logTo(path: string): void {
  const { dup2 } = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | O_CLOEXEC, 0o640);
    dup2(fd, 2);
    closeSync(fd);
  } catch {
    // keep the stderr we have
  }
}

export interface ShimRequest {
  root: string;
  id: string;
  /** Wait for the starting CLI to attach before starting the container (run without -d). */
  attach: boolean;
  cols?: number;
  rows?: number;
}

type Report = { listening: true } | { started: true; pid: number; start?: string } | { error: string; exitCode: number };

function report(msg: Report): void {
  try {
    writeSync(REPORT_FD, JSON.stringify(msg) + "\n");
  } catch {
    // the CLI is gone: nobody to tell
  }
}

/** `early`: init already launched by cli.ts before this module was loaded (prestart only). */
export async function shimMain(early?: LaunchedInit): Promise<never> {
  const raw = process.env[SHIM_ENV];
  if (!raw) {
    process.stderr.write("minid: _shim is internal and only started by minid itself\n");
    process.exit(EXIT_ENGINE);
  }
  delete process.env[SHIM_ENV];
  const shim = new Shim();
  try {
    let req: ShimRequest;
    if (raw === PRESTART) {
      // Started ahead of time (while the CLI creates the container). The terminal mode is
      // known already, so init starts now too; the request follows on fd 3, and EOF means
      // the CLI gave up.
      const mode = JSON.parse(process.env[SHIM_MODE_ENV] ?? "{}") as InitMode;
      shim.spawnEarly(mode, early);
      const { JsonLines } = await import("./fdio.ts");
      const next = new JsonLines(REPORT_FD).next<ShimRequest>();
      if (!next) {
        shim.abortInit();
        process.exit(0);
      }
      req = next;
      if (process.env.MINID_TRACE !== "1") logTo(join(new ContainerStore(req.root).containerDir(req.id), "shim.log"));
    } else req = JSON.parse(raw) as ShimRequest;
    await shim.run(req);
  } catch (e) {
    shim.abortInit();
    const message = e instanceof Error ? e.message : String(e);
    report({ error: message, exitCode: EXIT_ENGINE });
    process.stderr.write(`minid shim: ${e instanceof Error ? e.stack : message}\n`);
    process.exit(EXIT_ENGINE);
  }
  process.exit(0);
}


interface Client {
  sock: import("bun").Socket<ClientData>;
}
interface ClientData {
  reader: FrameReader;
  queue: Buffer[];
  pending: number;
  stdin: boolean;
  stdinOnce: boolean;
  hello: boolean;
  ended: boolean;
}

class Shim {
  private req!: ShimRequest;
  private store!: ContainerStore;
  private dir!: string;
  private clients = new Set<import("bun").Socket<ClientData>>();
  private log?: LogWriter;
  private proc!: ReturnType<typeof Bun.spawn>;
  private mode?: InitMode;
  private specFd = -1;
  private terminal?: Bun.Terminal;
  private stdinOpen = false;
  private firstHello!: Promise<boolean>;
  private onFirstHello: (ok: boolean) => void = () => {};
  private drainWaiters: (() => void)[] = [];
  private trimTimer?: ReturnType<typeof setTimeout>;
  private st!: ContainerState;

  async run(req: ShimRequest): Promise<void> {
    trace("shim start");
    this.req = req;
    this.store = new ContainerStore(req.root);
    this.dir = this.store.containerDir(req.id);
    const { id } = req;
    const lock = tryShimLock(this.store, id);
    if (lock === undefined) {
      this.abortInit();
      const gone = !this.store.load(id);
      report({ error: gone ? `No such container: ${id}` : `container ${id} is already running`, exitCode: EXIT_ENGINE });
      return;
    }
    const st = this.store.load(id);
    if (!st || st.state.status === "removing") {
      this.abortInit();
      return report({ error: st ? `container ${id} is marked for removal and cannot be started` : `No such container: ${id}`, exitCode: EXIT_ENGINE });
    }
    this.st = st;
    const mode: InitMode = { tty: st.config.tty, interactive: st.config.interactive, cols: req.cols, rows: req.rows };
    if (this.mode && (this.mode.tty !== mode.tty || this.mode.interactive !== mode.interactive)) this.abortInit();
    if (!this.mode) this.spawnEarly(mode);
    else if (mode.cols && mode.rows) this.resize(mode.cols, mode.rows);
    process.chdir("/");
    this.log = new LogWriter(logPath(this.dir, id));
    const server = this.listen();

    if (this.req.attach) {
      this.firstHello = new Promise((resolve) => {
        this.onFirstHello = resolve;
        setTimeout(() => resolve(false), HELLO_TIMEOUT_MS).unref();
      });
      report({ listening: true });
      if (!(await this.firstHello)) {
        server.stop(true);
        this.abortInit();
        return; // the CLI never attached: leave the container as it was
      }
    }

    trace("shim spawn init");
    const started = await this.spawnInit();
    trace("shim started");
    if (!started) {
      server.stop(true);
      return;
    }
    report({ started: true, pid: this.proc.pid, start: processStartTime(this.proc.pid) });
    try {
      closeSync(REPORT_FD);
    } catch {}
    this.scheduleTrim(500);

    const exitCode = await this.waitExit();
    trace("shim exited");
    const removed = this.recordExit(exitCode);
    trace("shim recorded");
    this.broadcast(Frame.Exit, JSON.stringify({ exitCode, removed }));
    for (const c of this.clients) this.endClient(c);
    await this.flushClients(1000);
    server.stop(true);
    try {
      unlinkSync(join(this.dir, "attach.sock"));
    } catch {}
  }

  // ---- clients ----

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
                if (first && this.req.attach) {
                  first = false;
                  s.data.stdinOnce = true;
                  this.onFirstHello(true);
                }
                if (h.cols && h.rows) this.resize(h.cols, h.rows);
                break;
              }
              case Frame.Stdin:
                if (s.data.stdin) this.writeStdin(f.payload);
                break;
              case Frame.StdinEof:
                if (s.data.stdin && s.data.stdinOnce) this.closeStdin();
                break;
              case Frame.Resize: {
                const r = JSON.parse(f.payload.toString()) as { cols: number; rows: number };
                this.resize(r.cols, r.rows);
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

  private broadcast(type: Frame, payload: Uint8Array | string): void {
    if (!this.clients.size) return;
    const frame = encodeFrame(type, payload);
    for (const c of this.clients) if (c.data.hello) this.send(c, frame);
  }

  // ---- the container ----

  /**
   * Spawn init as soon as the terminal mode is known: its start-up then overlaps everything
   * else. It waits for the path of its spec on fd 4 before doing anything (see go()).
   */
  spawnEarly(mode: InitMode, launched: LaunchedInit = launchInit(mode)): void {
    this.mode = mode;
    this.proc = launched.proc;
    this.specFd = launched.specFd;
    if (mode.tty) {
      this.terminal = launched.terminal;
      launched.attachTerminal({ data: (d) => this.output("stdout", d), exit: () => this.ttyClosed?.() });
      this.stdinOpen = true;
    } else {
      this.stdinOpen = mode.interactive;
      this.pumps = [
        this.pump(this.proc.stdout as ReadableStream<Uint8Array>, "stdout"),
        this.pump(this.proc.stderr as ReadableStream<Uint8Array>, "stderr"),
      ];
    }
  }

  /** An init spawned early that will not be used goes away. */
  abortInit(): void {
    if (!this.mode) return;
    this.mode = undefined;
    try {
      this.proc.kill(9);
    } catch {}
    try {
      closeSync(this.specFd);
    } catch {}
    this.terminal?.close();
    this.terminal = undefined;
  }

  /** Let init go: it reads its spec, builds the container and execs the command. */
  /**
   * Let init go: it reads its spec, builds the container and execs the command. "running" is
   * recorded first (init's PID is the command's PID, before and after its execve), so that
   * whenever this watcher dies, the record names the process that is really there.
   */
  private async spawnInit(): Promise<boolean> {
    const pid = this.proc.pid;
    const shimStart = processStartTime(process.pid);
    let before: ContainerState["state"] | undefined;
    updateState(this.store, this.req.id, (s) => {
      if (s.state.status === "removing") return false;
      before = { ...s.state };
      s.state = {
        status: "running",
        pid,
        pidStart: processStartTime(pid),
        bootId: bootId(),
        exitCode: 0,
        startedAt: nowRfc3339Nano(),
        finishedAt: s.state.finishedAt,
        oomKilled: false,
        shimPid: process.pid,
        shimStart,
      };
    });
    if (!before) {
      // `rm` got there first: the container must not run.
      this.abortInit();
      report({ error: `container ${this.req.id} is being removed`, exitCode: EXIT_ENGINE });
      this.log?.close();
      return false;
    }
    const path = Buffer.from(join(this.dir, "init.json"));
    let off = 0;
    while (off < path.length) off += writeSync(this.specFd, path, off);
    closeSync(this.specFd);
    this.specFd = -1;
    const status = parseInitStatus(readToEof(this.proc.stdio[3] as unknown as number));
    if (status) {
      // init failed before exec'ing the command: nothing ran
      void this.proc.exited;
      const prev = before;
      updateState(this.store, this.req.id, (s) => {
        if (s.state.pid !== pid) return false;
        s.state = {
          ...prev,
          status: prev.startedAt ? "exited" : "created",
          pid: 0,
          pidStart: undefined,
          exitCode: status.exitCode,
          error: status.message,
          finishedAt: prev.startedAt ? nowRfc3339Nano() : prev.finishedAt,
          shimPid: undefined,
          shimStart: undefined,
        };
      });
      report({ error: status.message, exitCode: status.exitCode });
      this.terminal?.close();
      this.log?.close();
      return false;
    }
    return true;
  }

  private pumps: Promise<void>[] = [];
  private ttyClosed?: () => void;

  private async pump(stream: ReadableStream<Uint8Array>, name: Stream): Promise<void> {
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      this.output(name, value);
      if (this.backlog() > BACKLOG_LIMIT) await new Promise<void>((r) => this.drainWaiters.push(r));
    }
  }

  private output(name: Stream, chunk: Uint8Array): void {
    this.log?.write(name, chunk);
    this.broadcast(name === "stdout" ? Frame.Stdout : Frame.Stderr, chunk);
    this.scheduleTrim(3000);
  }

  private writeStdin(data: Uint8Array): void {
    if (!this.stdinOpen) return;
    if (this.terminal) {
      this.terminal.write(data);
      return;
    }
    const sink = this.proc.stdin as import("bun").FileSink | undefined;
    try {
      sink?.write(data);
      sink?.flush();
    } catch {
      this.stdinOpen = false;
    }
  }

  private closeStdin(): void {
    if (!this.stdinOpen || this.terminal) return;
    this.stdinOpen = false;
    try {
      (this.proc.stdin as import("bun").FileSink | undefined)?.end();
    } catch {}
  }

  private resize(cols: number, rows: number): void {
    if (this.terminal && cols > 0 && rows > 0) {
      try {
        this.terminal.resize(cols, rows);
      } catch {}
    }
  }

  private async waitExit(): Promise<number> {
    const code = await this.proc.exited;
    // Output written just before the exit is still in the pipes or the pty: drain it.
    if (this.terminal) {
      await Promise.race([new Promise<void>((r) => (this.ttyClosed = r)), Bun.sleep(300)]);
      this.terminal.close();
    } else {
      this.closeStdin();
      await Promise.race([Promise.all(this.pumps), Bun.sleep(2000)]);
    }
    this.log?.close();
    return statusFromExit(code, this.proc.signalCode ?? null);
  }

  /** Record the exit (or remove the container for --rm). Returns true when removed. */
  private recordExit(exitCode: number): boolean {
    const finishedAt = nowRfc3339Nano();
    let tomb: string | undefined;
    let gone: ContainerState | undefined;
    withContainerLock(this.store, this.req.id, () => {
      const s = this.store.load(this.req.id);
      if (!s || s.state.status === "removing") return;
      if (s.autoRemove) {
        gone = s;
        tomb = removeRecordLocked(this.store, this.req.id);
        return;
      }
      s.state = {
        ...s.state,
        status: "exited",
        pid: 0,
        pidStart: undefined,
        exitCode,
        finishedAt,
        oomKilled: oomKilled(s),
        shimPid: undefined,
        shimStart: undefined,
      };
      this.store.save(s);
      // As with runc, a stopped container keeps no cgroup (start makes it again), so deleting
      // a --root with only stopped containers leaves nothing in /sys/fs/cgroup.
      if (s.cgroupPaths) {
        const { removeCgroup } = require("../linux/cgroups.ts") as typeof import("../linux/cgroups.ts");
        try {
          removeCgroup(s.cgroupPaths);
        } catch {}
      }
    });
    if (tomb && gone) {
      const { finishRemoval } = require("./remove.ts") as typeof import("./remove.ts");
      finishRemoval(gone, tomb);
      return true;
    }
    return false;
  }

  // ---- memory ----

  private scheduleTrim(afterMs: number): void {
    if (process.env.MINID_SHIM_TRIM === "0") return;
    if (this.trimTimer) clearTimeout(this.trimTimer);
    this.trimTimer = setTimeout(() => {
      Bun.gc(true);
      // Let the collector's helper threads finish before the text they ran is dropped.
      this.trimTimer = setTimeout(() => {
        this.trimTimer = undefined;
        const { trimResidentText } = require("./trim.ts") as typeof import("./trim.ts");
        trimResidentText();
      }, 200);
      this.trimTimer.unref();
    }, afterMs);
    this.trimTimer.unref();
  }
}

function parseInitStatus(b: Buffer): { message: string; exitCode: number } | undefined {
  if (!b.length) return undefined;
  try {
    return JSON.parse(b.toString("utf8"));
  } catch {
    return { message: b.toString("utf8"), exitCode: EXIT_ENGINE };
  }
}

/** Whether the kernel's OOM killer struck in the container's cgroup. */
function oomKilled(st: ContainerState): boolean {
  const p = st.cgroupPaths;
  if (!p) return false;
  const { readFileSync } = require("node:fs") as typeof import("node:fs");
  try {
    if (p.version === "v2") return /^oom_kill [1-9]/m.test(readFileSync(join(p.path, "memory.events"), "utf8"));
    const mem = p.paths.memory;
    return mem ? /^oom_kill [1-9]/m.test(readFileSync(join(mem, "memory.oom_control"), "utf8")) : false;
  } catch {
    return false;
  }
}
