// The watcher (`minid _watcher`): one small process per running container, started detached
// (its own session) so it outlives the CLI that started it. It
//   - spawns the container's init in a new PID namespace (init becomes PID 1 there),
//   - owns the container's stdio: a pseudo-terminal, or pipes whose output it writes to the
//     container's json-file log and to every attached client (protocol.ts),
//   - records the start (pid + start time + boot id) and, whoever else is gone, the exit
//     (exit code, time) in the container's state, or removes the container (--rm); on a full
//     disk it keeps the exit in the pre-allocated exit.json, retries the record, and counts
//     the log lines it had to drop (logs.ts) — no write failure takes it down,
//   - holds watcher.lock for its whole life, so other commands can tell a live watcher.
// It reports to the CLI that started it over fd 3 (JSON lines): {"listening":true} when it
// waits for the CLI to attach, then {"started":true,"pid":N} or {"error":"...","exitCode":N}.
// It imports only what it needs: it stays resident for as long as the container runs.
import { closeSync, openSync, writeSync, constants } from "node:fs";
import { readToEof } from "./fdio.ts";
import { join } from "node:path";
import { ContainerStore, processStartTime, type ContainerState } from "./state.ts";
import { tryWatcherLock, withContainerLock, removeRecordLocked, updateState } from "./locks.ts";
import { canStart, recordRunning, recordStartFailed, recordExitLocked, recordRestartingLocked, type Exit } from "./lifecycle.ts";
import { nextBackoff, shouldRestart } from "./restart-policy.ts";
import { preallocateExitFile, recordExitInPlace } from "./state.ts";
import { LogWriter, logPath, nowRfc3339Nano, type Stream } from "./logs.ts";
import { Frame } from "./protocol.ts";
import { AttachServer } from "./attach-server.ts";
import { bootId } from "./proc.ts";
import { launchInit, INIT_EXEC_MARK, INIT_GO, INIT_SPEC_ENV, INIT_SPEC_FROM_FD, type InitMode, type LaunchedInit } from "./init-launch.ts";
import { O_CLOEXEC } from "../linux/libc.ts";
import { statusFromExit, EXIT_ENGINE } from "../util/errors.ts";
import { trace } from "../util/trace.ts";

import { WATCHER_ENV, PRESTART, type WatcherRequest } from "./watcher.ts";
export { WATCHER_ENV };
export { INIT_SPEC_ENV, INIT_SPEC_FROM_FD, type InitMode };
/** The terminal mode of a pre-started watcher (JSON InitMode). */
export const WATCHER_MODE_ENV = "MINID_WATCHER_MODE";
/** "1": the pre-started watcher's container will be on a bridge network (prewarm its namespace). */
export const WATCHER_NET_ENV = "MINID_WATCHER_NET";
const REPORT_FD = 3;
const HELLO_TIMEOUT_MS = 10_000;

/** Our stderr becomes the container's watcher.log. */
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


type Report = { listening: true } | { started: true; pid: number; start?: string } | { error: string; exitCode: number };

function report(msg: Report): void {
  try {
    writeSync(REPORT_FD, JSON.stringify(msg) + "\n");
  } catch {
    // the CLI is gone: nobody to tell
  }
}

/** `early`: init already launched by cli.ts before this module was loaded (prestart only). */
export async function watcherMain(early?: LaunchedInit): Promise<never> {
  const raw = process.env[WATCHER_ENV];
  if (!raw) {
    process.stderr.write("minid: _watcher is internal and only started by minid itself\n");
    process.exit(EXIT_ENGINE);
  }
  delete process.env[WATCHER_ENV];
  const watcher = new WatcherProcess();
  try {
    let req: WatcherRequest;
    if (raw === PRESTART) {
      // Started ahead of time (while the CLI creates the container). The terminal mode is
      // known already, so init starts now too; the request follows on fd 3, and EOF means
      // the CLI gave up.
      const mode = JSON.parse(process.env[WATCHER_MODE_ENV] ?? "{}") as InitMode;
      watcher.spawnEarly(mode, early);
      // The container will be on a bridge network (the CLI says so): its namespace and veth
      // pair are made now, while the CLI creates the container (network/attach.ts).
      if (process.env[WATCHER_NET_ENV] === "1") watcher.prewarm();
      const { JsonLines } = await import("./fdio.ts");
      const next = new JsonLines(REPORT_FD).next<WatcherRequest>();
      if (!next) {
        watcher.abortInit();
        watcher.dropWarm();
        process.exit(0);
      }
      req = next;
      if (process.env.MINID_TRACE !== "1") logTo(join(new ContainerStore(req.root).containerDir(req.id), "watcher.log"));
    } else req = JSON.parse(raw) as WatcherRequest;
    await watcher.run(req);
  } catch (e) {
    watcher.abortInit();
    watcher.dropWarm();
    const message = e instanceof Error ? e.message : String(e);
    report({ error: message, exitCode: EXIT_ENGINE });
    process.stderr.write(`minid watcher: ${e instanceof Error ? e.stack : message}\n`);
    process.exit(EXIT_ENGINE);
  }
  process.exit(0);
}


class WatcherProcess {
  private req!: WatcherRequest;
  private store!: ContainerStore;
  private dir!: string;
  private attach!: AttachServer;
  private log?: LogWriter;
  private proc!: ReturnType<typeof Bun.spawn>;
  private mode?: InitMode;
  private specFd = -1;
  private terminal?: Bun.Terminal;
  private stdinOpen = false;
  private trimTimer?: ReturnType<typeof setTimeout>;
  private st!: ContainerState;

  async run(req: WatcherRequest): Promise<void> {
    trace("watcher start");
    this.req = req;
    this.store = new ContainerStore(req.root);
    this.dir = this.store.containerDir(req.id);
    const { id } = req;
    const lock = tryWatcherLock(this.store, id);
    if (lock !== undefined) this.lockFd = lock;
    if (lock === undefined) {
      this.abortInit();
      const gone = !this.store.load(id);
      report({ error: gone ? `No such container: ${id}` : `container ${id} is already running`, exitCode: EXIT_ENGINE });
      return;
    }
    const st = this.store.load(id);
    if (!st || !canStart(st)) {
      this.abortInit();
      return report({ error: !st ? `No such container: ${id}` : st.broken ? `container ${id} has an unreadable record (${st.broken}): remove it with minid rm -f` : `container ${id} cannot be started from state ${st.state.status}`, exitCode: EXIT_ENGINE });
    }
    this.st = st;
    const mode: InitMode = { tty: st.config.tty, interactive: st.config.interactive, cols: req.cols, rows: req.rows };
    if (this.mode && (this.mode.tty !== mode.tty || this.mode.interactive !== mode.interactive)) this.abortInit();
    // --pid host|container:NAME: init was started early in a PID namespace of its own.
    this.pidMode = this.pidModeOf(st);
    if (this.pidMode) this.abortInit();
    if (!this.mode) this.spawnEarly(mode);
    else if (mode.cols && mode.rows) this.resize(mode.cols, mode.rows);
    // Init builds the container while we set up the rest; it runs the command on the go.
    const netns = this.earlyNetns();
    if (netns !== undefined) this.sendSpec(netns);
    process.chdir("/");
    this.log = logWriterFor(st, logPath(this.dir, id));
    const server = (this.attach = new AttachServer(this.dir, this.req.attach, this.handlers()));

    if (this.req.attach) {
      report({ listening: true });
      if (!(await server.firstClient(HELLO_TIMEOUT_MS))) {
        server.stop();
        this.abortInit();
        return; // the CLI never attached: leave the container as it was
      }
    }

    trace("watcher spawn init");
    const started = await this.spawnInit();
    trace("watcher started");
    if (!started) {
      server.stop();
      return;
    }
    report({ started: true, pid: this.proc.pid, start: processStartTime(this.proc.pid) });
    try {
      closeSync(REPORT_FD);
    } catch {}

    // One run of the command per turn; the restart policy (restart-policy.ts) decides whether
    // there is another, after Docker's back-off. Each run has its own attach server: clients
    // attached to one run hear its exit, as with Docker.
    let backoff = 0;
    for (let attach = server; ; ) {
      const ranFrom = Date.now();
      this.scheduleTrim(500);
      const health = this.startHealthchecks();
      const exitCode = await this.waitExit();
      this.ports?.stop();
      health?.stop();
      trace("watcher exited");
      const recorded = this.recordExit(exitCode);
      trace("watcher recorded");
      // Clients hear the exit even when the record has to wait for space.
      await attach.close(JSON.stringify({ exitCode, removed: recorded === "removed" }), 1000);
      if (recorded !== "restarting") break;
      backoff = nextBackoff(backoff, Date.now() - ranFrom);
      if (!(await this.restartAfter(backoff))) {
        // Stopped (or removed) while waiting: as after any exit, no cgroup is kept.
        const s = this.store.load(this.req.id);
        if (s?.cgroupPaths) dropCgroup(s.cgroupPaths);
        return this.log?.close();
      }
      attach = this.attach = new AttachServer(this.dir, false, this.handlers());
      this.spawnEarly(mode);
      if (!(await this.spawnInit(true))) {
        attach.stop();
        return;
      }
    }
    await this.retryRecord();
    this.log?.close();
  }

  private handlers() {
    return {
      stdin: (d: Uint8Array) => this.writeStdin(d),
      stdinEof: () => this.closeStdin(),
      resize: (cols: number, rows: number) => this.resize(cols, rows),
    };
  }

  private wake?: () => void;

  /** One healthcheck loop per run of the command (health-runner.ts; loaded only when needed). */
  private startHealthchecks(): { stop(): void } | undefined {
    const hc = this.st.healthcheck;
    if (!hc) return undefined;
    const { HealthRunner } = require("./health-runner.ts") as typeof import("./health-runner.ts");
    const r = new HealthRunner(this.req.root, this.req.id, this.dir, hc, () => this.scheduleTrim(500));
    r.start();
    return r;
  }

  /**
   * Wait out the back-off; true when the container is still ours to start (a `stop` meanwhile
   * marks it exited and wakes us with SIGUSR1; `rm -f` removes it).
   */
  private async restartAfter(ms: number): Promise<boolean> {
    const onSignal = () => this.wake?.();
    process.on("SIGUSR1", onSignal);
    try {
      await Promise.race([Bun.sleep(ms), new Promise<void>((r) => (this.wake = r))]);
    } finally {
      process.off("SIGUSR1", onSignal);
      this.wake = undefined;
    }
    const s = this.store.load(this.req.id);
    return !!s && s.state.status === "restarting" && s.state.watcherPid === process.pid;
  }

  // ---- the container ----

  /**
   * Spawn init as soon as the terminal mode is known: its start-up then overlaps everything
   * else. It waits for the path of its spec on fd 4 before doing anything (see go()).
   */
  private pidMode?: "host" | string;

  /** --pid: "host", the namespace file of the running container it names, or undefined (a new one). */
  private pidModeOf(st: ContainerState): "host" | string | undefined {
    const m = st.runOptions?.pid;
    if (!m) return undefined;
    if ("host" in m) return "host";
    const other = this.store.load(m.container);
    const p = other && other.state.pid ? { pid: other.state.pid, start: other.state.pidStart, bootId: other.state.bootId } : undefined;
    const { isAlive } = require("./proc.ts") as typeof import("./proc.ts");
    if (!other || !isAlive(p)) throw new Error(`cannot join PID of a non running container: ${m.container}`);
    return `/proc/${p!.pid}/ns/pid`;
  }

  /** The network namespace path init was sent with its spec ("" for none); undefined until sent. */
  private specSent?: string;

  /**
   * The network namespace init can be given now: "" when there is none to prepare, the
   * pre-warmed one of a bridge network (setupNetwork takes that one); undefined when it is
   * only known once the network is set up.
   */
  private earlyNetns(): string | undefined {
    if (!this.st.network?.endpoints.length) return "";
    const { modeKind } = require("../network/config.ts") as typeof import("../network/config.ts");
    if (this.warm && modeKind(this.st.network) === "bridge") return `/proc/${process.pid}/fd/${this.warm.nsFd}`;
    return undefined;
  }

  /** init's spec (fd 4: init-launch.ts INIT_SPEC_FROM_FD), once per init. */
  private sendSpec(netns: string): void {
    if (this.specSent !== undefined) return;
    this.specSent = netns;
    const msg = Buffer.from(`${join(this.dir, "init.json")}\n${netns}\n`);
    try {
      let off = 0;
      while (off < msg.length) off += writeSync(this.specFd, msg, off);
    } catch {
      // init is gone: its status says why
    }
  }

  spawnEarly(mode: InitMode, launched: LaunchedInit = launchInit(mode, this.pidMode)): void {
    this.specSent = undefined;
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

  /**
   * Let init go: it reads its spec, builds the container and execs the command. "running" is
   * recorded first (init's PID is the command's PID, before and after its execve), so that
   * whenever this watcher dies, the record names the process that is really there.
   */
  private async spawnInit(byPolicy = false): Promise<boolean> {
    const pid = this.proc.pid;
    // Space the exit will need is taken now: on a full disk the exit still gets recorded.
    preallocateExitFile(this.dir);
    const before = recordRunning(this.store, this.req.id, {
      pid,
      pidStart: processStartTime(pid),
      bootId: bootId(),
      watcherPid: process.pid,
      watcherStart: processStartTime(process.pid),
      byPolicy,
    });
    if (!before) {
      // `rm` got there first: the container must not run.
      this.abortInit();
      report({ error: `container ${this.req.id} is being removed`, exitCode: EXIT_ENGINE });
      this.log?.close();
      return false;
    }
    // The network: one more step while init waits (network/attach.ts); its namespace's path
    // follows the spec's on fd 4.
    let net: { path: string; close(): void } | undefined;
    // A failed step: init goes, the record says why, the CLI hears it once.
    const fail = (e: unknown): false => {
      const failure = { message: e instanceof Error ? e.message : String(e), exitCode: (e as { exitCode?: number }).exitCode ?? EXIT_ENGINE };
      this.abortInit();
      recordStartFailed(this.store, this.req.id, pid, before, failure);
      report({ error: failure.message, exitCode: failure.exitCode });
      this.log?.close();
      return false;
    };
    if (this.st.network?.endpoints.length) {
      try {
        net = this.setupNetwork();
      } catch (e) {
        return fail(e);
      }
    } else this.dropWarm();
    // Published ports and the embedded DNS (network/container-ports.ts): one more step.
    if (net) {
      try {
        const { startPortsAndDns } = await import("../network/container-ports.ts");
        this.ports = await startPortsAndDns(this.req.root, this.st, this.dir);
      } catch (e) {
        net.close();
        this.teardownNetwork();
        return fail(e);
      }
    }
    const netns = net ? net.path : "";
    if (this.specSent !== undefined && this.specSent !== netns) {
      // By construction the prepared namespace is the one init was given (earlyNetns).
      net?.close();
      this.ports?.stop();
      if (net) this.teardownNetwork();
      return fail(new Error(`init was given the network namespace ${this.specSent || "(none)"}, the container's is ${netns || "(none)"}`));
    }
    this.sendSpec(netns);
    try {
      writeSync(this.specFd, INIT_GO);
    } catch {
      // init is gone: its status says why
    }
    closeSync(this.specFd);
    this.specFd = -1;
    let status = parseInitStatus(readToEof(this.proc.stdio[3] as unknown as number));
    // init has joined the namespace (or died): the container holds it now, not us.
    net?.close();
    if (status === "died") {
      // No word from init, not even "about to exec": it was killed before the command ran.
      const code = await this.proc.exited;
      const sig = this.proc.signalCode;
      status = {
        message: `the container's init ${sig ? `was killed by ${sig}` : `exited with status ${code}`} before it could run the command`,
        exitCode: EXIT_ENGINE,
      };
    }
    if (status) {
      // init failed before exec'ing the command: nothing ran
      void this.proc.exited;
      recordStartFailed(this.store, this.req.id, pid, before, status);
      this.ports?.stop();
      if (net) this.teardownNetwork();
      report({ error: status.message, exitCode: status.exitCode });
      this.terminal?.close();
      this.log?.close();
      return false;
    }
    return true;
  }

  /**
   * Addresses, veths and the namespace for a container on bridge networks. The record is
   * written only when it carried running fields of an earlier, hot-plugged life (see
   * network/attach.ts withRuntime): a start on the default bridge costs no extra write.
   */
  private warm?: import("../network/attach.ts").WarmNetwork;

  prewarm(): void {
    const { prewarmNetwork } = require("../network/attach.ts") as typeof import("../network/attach.ts");
    this.warm = prewarmNetwork();
  }

  dropWarm(): void {
    this.warm?.dispose();
    this.warm = undefined;
  }

  private setupNetwork(): { path: string; close(): void } | undefined {
    const { setupNetwork, teardownNetwork, hasRuntime, stripRuntime } = require("../network/attach.ts") as typeof import("../network/attach.ts");
    const stale = this.st.network!.endpoints.some(hasRuntime);
    const warm = this.warm;
    this.warm = undefined; // setupNetwork owns it now (uses or disposes it)
    const net = setupNetwork(this.req.root, this.st, this.dir, warm);
    if (!net || !stale) return net;
    let saved: unknown;
    try {
      saved = updateState(this.store, this.req.id, (s) => {
        if (s.network) s.network.endpoints = stripRuntime(s.network.endpoints);
      });
    } finally {
      if (!saved) {
        // removed meanwhile, or the record could not be written: nothing may stay allocated
        net.close();
        teardownNetwork(this.req.root, this.st);
      }
    }
    if (!saved) throw new Error(`container ${this.req.id} is being removed`);
    return net;
  }

  private teardownNetwork(): void {
    try {
      const { teardownNetwork } = require("../network/attach.ts") as typeof import("../network/attach.ts");
      updateState(this.store, this.req.id, (s) => (teardownNetwork(this.req.root, s) ? undefined : false));
    } catch (e) {
      process.stderr.write(`minid watcher: network teardown: ${(e as Error).message}\n`);
    }
  }

  private ports?: import("../network/container-ports.ts").PortsAndDns;
  private pumps: Promise<void>[] = [];
  private ttyClosed?: () => void;

  private async pump(stream: ReadableStream<Uint8Array>, name: Stream): Promise<void> {
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      this.output(name, value);
      await this.attach?.drained();
    }
  }

  private output(name: Stream, chunk: Uint8Array): void {
    this.log?.write(name, chunk);
    this.attach?.broadcast(name === "stdout" ? Frame.Stdout : Frame.Stderr, chunk);
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
    this.log?.flush();
    return statusFromExit(code, this.proc.signalCode ?? null);
  }

  /**
   * Record the exit (or remove the container for --rm). "pending" when the record could not
   * be written (a full disk): the exit is then in the pre-allocated exit file, and
   * retryRecord() keeps trying.
   */
  private recordExit(exitCode: number, prior?: Exit): "recorded" | "removed" | "pending" | "restarting" {
    const exit: Exit = prior ?? { pid: this.proc.pid, exitCode, finishedAt: nowRfc3339Nano() };
    let gone: ContainerState | undefined;
    let tomb: string | undefined;
    let restarting = false;
    try {
      withContainerLock(this.store, this.req.id, () => {
        const s = this.store.load(this.req.id, { raw: true });
        if (!s || s.state.pid !== exit.pid) return;
        if (s.autoRemove) {
          gone = s;
          tomb = removeRecordLocked(this.store, this.req.id);
          return;
        }
        exit.oomKilled = oomKilled(s);
        if (!prior && shouldRestart(s.restartPolicy, exit.exitCode, Boolean(s.state.manuallyStopped), s.state.restartCount ?? 0)) {
          // The cgroup stays: the next run joins it.
          restarting = recordRestartingLocked(this.store, s, exit);
          return;
        }
        if (!recordExitLocked(this.store, s, exit)) return;
        // Docker gives the addresses back when a container stops.
        if (s.network?.endpoints.length) {
          try {
            const { teardownNetwork } = require("../network/attach.ts") as typeof import("../network/attach.ts");
            if (teardownNetwork(this.req.root, s)) this.store.save(s);
          } catch (e) {
            process.stderr.write(`minid watcher: network teardown: ${(e as Error).message}\n`);
          }
        }
        // As with runc, a stopped container keeps no cgroup (start makes it again), so deleting
        // a --root with only stopped containers leaves nothing in /sys/fs/cgroup.
        if (s.cgroupPaths) dropCgroup(s.cgroupPaths);
      });
    } catch (e) {
      process.stderr.write(`minid watcher: cannot record the exit (${(e as Error).message}): keeping it, retrying\n`);
      recordExitInPlace(this.dir, { ...exit, finishedAt: exit.finishedAt! });
      this.pendingExit = exit;
      return "pending";
    }
    if (tomb && gone) {
      // Our own lock must not hold up the removal we do.
      this.releaseLock();
      const { finishRemoval } = require("./remove.ts") as typeof import("./remove.ts");
      finishRemoval(gone, tomb);
      try {
        const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
        const attributes = { exitCode: String(exit.exitCode), image: gone.image, name: gone.name };
        recordEvent(this.req.root, { Type: "container", Action: "die", id: gone.id, attributes });
        const { announceDestroy } = require("./remove.ts") as typeof import("./remove.ts");
        announceDestroy(this.req.root, gone);
      } catch {}
      // --rm removes the container's anonymous volumes too, as Docker's does.
      try {
        const { removeAnonymousVolumes } = require("./mounts.ts") as typeof import("./mounts.ts");
        removeAnonymousVolumes(this.req.root, gone, () => this.store.list());
      } catch (e) {
        process.stderr.write(`minid watcher: cannot remove the container's anonymous volumes (${(e as Error).message})\n`);
      }
      return "removed";
    }
    return restarting ? "restarting" : "recorded";
  }

  private pendingExit?: Exit;

  /**
   * Write a pending exit once space returns (until the container is removed), and the note
   * of dropped log lines (for a minute at most, when only that is left).
   */
  private async retryRecord(): Promise<void> {
    let delay = 200;
    const noteUntil = Date.now() + 60_000;
    while (this.pendingExit || (this.log?.droppedLines && Date.now() < noteUntil)) {
      await Bun.sleep(delay);
      delay = Math.min(delay * 2, 2000);
      if (!this.store.load(this.req.id)) return; // removed meanwhile
      this.log?.noteDropped();
      const exit = this.pendingExit;
      if (!exit) continue;
      this.pendingExit = undefined;
      this.recordExit(exit.exitCode, exit);
    }
  }

  private lockFd = -1;
  private releaseLock(): void {
    if (this.lockFd < 0) return;
    try {
      closeSync(this.lockFd);
    } catch {}
    this.lockFd = -1;
  }

  // ---- memory ----

  private scheduleTrim(afterMs: number): void {
    if (process.env.MINID_WATCHER_TRIM === "0") return;
    if (this.trimTimer) clearTimeout(this.trimTimer);
    this.trimTimer = setTimeout(() => {
      Bun.gc(true);
      // Also drops compiled code and heap pages the collection left unused (~0.2 MB, measured).
      (Bun as unknown as { shrink(): void }).shrink();
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

/** What init said on its status fd: undefined (the command runs), a failure, or "died" (nothing at all). */
function parseInitStatus(b: Buffer): { message: string; exitCode: number } | "died" | undefined {
  if (!b.length) return "died";
  if (b[0] === INIT_EXEC_MARK.charCodeAt(0)) b = b.subarray(1);
  if (!b.length) return undefined;
  try {
    return JSON.parse(b.toString("utf8"));
  } catch {
    return { message: b.toString("utf8"), exitCode: EXIT_ENGINE };
  }
}

/** --log-driver: none keeps no log; json-file (Docker's default: unbounded) and local (Docker's default 20 MB × 5) rotate by --log-opt. */
function logWriterFor(st: ContainerState, path: string): LogWriter | undefined {
  const o = st.runOptions;
  if (o?.logDriver === "none") return undefined;
  const opts = o?.logOpts ?? {};
  const local = o?.logDriver === "local";
  if (opts["max-size"] === undefined && !local) return new LogWriter(path);
  const { parseBytes } = require("../util/units.ts") as typeof import("../util/units.ts");
  const maxSize = opts["max-size"] !== undefined ? parseBytes(opts["max-size"], "max-size") : 20 * 1024 * 1024;
  const maxFile = opts["max-file"] !== undefined ? Number(opts["max-file"]) : local ? 5 : 1;
  return new LogWriter(path, { maxSize, maxFile });
}

function dropCgroup(p: NonNullable<ContainerState["cgroupPaths"]>): void {
  const { removeCgroup } = require("../linux/cgroups.ts") as typeof import("../linux/cgroups.ts");
  try {
    removeCgroup(p);
  } catch {}
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
