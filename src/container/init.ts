// The container's init: spawned by the engine as PID 1 of a new PID namespace, it enters the
// remaining namespaces, builds the root filesystem, and execs the user's command in place, so
// the command itself becomes PID 1. Errors travel to the engine over fd 3 (a socket the engine
// holds); a successful exec closes fd 3 (CLOEXEC), which the engine reads as "started".
import { closeSync, readFileSync, writeSync } from "node:fs";
import type { InitSpec } from "../spec/init-spec.ts";
import { execve, closeRangeCloexec, SyscallError, AT_FDCWD, O_PATH, O_DIRECTORY, O_CLOEXEC, realSyscalls } from "../linux/libc.ts";
import type { Syscalls } from "../linux/syscalls.ts";
import { mountImageRoot } from "../linux/rootfs.ts";
import { bundleConfig } from "../spec/oci-config.ts";
import { mountRootfs, enterRootfs } from "../runtime/rootfs.ts";
import type { Config } from "../runtime/config.ts";
import type { ExecUser } from "../linux/users.ts";
import { mkdirAllInRoot } from "../linux/safepath.ts";
import { EXIT_ENGINE, UserError } from "../util/errors.ts";
import { applyProcessSecurity, resolveContainerUser } from "./security.ts";
import { trace } from "../util/trace.ts";
import { findExecutable, execFailure } from "./executable.ts";
import { attachConsole } from "./console.ts";
import { enterNamespaces } from "./init-namespaces.ts";
import { readSome } from "./fdio.ts";
import { argBytes } from "../util/argbytes.ts";
import { setThreadName } from "../linux/libc.ts";
import { resetSignalsForExec } from "../linux/signals.ts";

export const INIT_ENV = "MINID_INIT_SPEC";
/** Must equal INIT_GO in init-launch.ts (not imported: init does not load the watcher's code). */
const INIT_GO = "g";
const STATUS_FD = 3;

class InitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Never returns, except with --init (init serves as the reaper from then on: reaper.ts). */
export function initMain(): void {
  const specPath = process.env[INIT_ENV];
  if (!specPath) {
    // A re-exec that lost its marker must stop here, never fall through into the CLI again.
    process.stderr.write("minid: _init is internal and only started by minid itself\n");
    process.exit(EXIT_ENGINE);
  }
  try {
    // "fd:4": started ahead of its container, init waits there for its spec's path (and,
    // on a second line, the path of the network namespace the watcher prepared), then for the
    // go (init-launch.ts INIT_SPEC_FROM_FD).
    const channel = specPath === "fd:4" ? new WatcherChannel(4) : undefined;
    const [path, netns] = channel ? channel.spec() : [specPath];
    const spec = JSON.parse(readFileSync(path!, "utf8")) as InitSpec;
    if (spec.netns === "prepared") spec.netns = netns || "new";
    start(spec, realSyscalls, channel);
  } catch (e) {
    const exitCode = e instanceof InitError || e instanceof UserError ? e.exitCode : EXIT_ENGINE;
    const message = e instanceof Error ? e.message : String(e);
    report({ message, exitCode });
    process.exit(exitCode);
  }
}

function report(status: { message: string; exitCode: number }): void {
  try {
    writeSync(STATUS_FD, JSON.stringify(status));
  } catch {
    process.stderr.write(`minid: ${status.message}\n`);
  }
}

/** fd 4 from the watcher: the spec's two lines, then the go (init-launch.ts INIT_SPEC_FROM_FD). */
class WatcherChannel {
  private got = Buffer.alloc(0);
  private eof = false;
  constructor(private readonly fd: number) {}

  private more(): boolean {
    if (this.eof) return false;
    const b = Buffer.allocUnsafe(4096);
    const n = readSome(this.fd, b);
    if (n <= 0) return !(this.eof = true);
    this.got = Buffer.concat([this.got, b.subarray(0, n)]);
    return true;
  }

  /** [spec path, network namespace path ("" for none)]: two lines (fewer at EOF). */
  spec(): [string, string] {
    const lineEnd = (from: number) => this.got.indexOf(10, from);
    while ((lineEnd(0) < 0 || lineEnd(lineEnd(0) + 1) < 0) && this.more());
    const first = lineEnd(0);
    const second = first < 0 ? -1 : lineEnd(first + 1);
    const end = (i: number) => (i < 0 ? this.got.length : i);
    const path = this.got.toString("utf8", 0, end(first));
    const netns = first < 0 ? "" : this.got.toString("utf8", first + 1, end(second));
    this.got = this.got.subarray(second < 0 ? this.got.length : second + 1);
    return [path, netns];
  }

  /** Whether the container may run: the go came (false: EOF first, the watcher gave up). */
  go(): boolean {
    while (!this.got.length && this.more());
    const ok = this.got.toString("latin1", 0, 1) === INIT_GO;
    closeSync(this.fd);
    return ok;
  }
}

/** Returns only for --init (init then serves as the reaper from the event loop). */
function start(spec: InitSpec, sys: Syscalls = realSyscalls, channel?: WatcherChannel): void {
  trace("init start");
  // --runtime: another OCI runtime builds the container from a bundle (oci-runtime.ts).
  // Built while the watcher recorded the start, set up the network and met the attaching CLI;
  // the command may run only once it says so (and still as root: the wait is no business of a
  // seccomp profile's).
  const awaitGo = () => {
    if (channel && !channel.go()) throw new InitError("the container's watcher gave up before the start", EXIT_ENGINE);
  };
  if (spec.runtime) (require("./oci-runtime.ts") as typeof import("./oci-runtime.ts")).runWithRuntime(spec as InitSpec & { runtime: NonNullable<InitSpec["runtime"]> }, STATUS_FD, awaitGo);
  const user = enterContainer(spec, sys);
  if (!spec.env.some((e) => e.startsWith("HOME="))) spec.env.push(`HOME=${user.home}`);
  enterWorkdir(spec.cwd, sys);
  const path = findExecutable(spec.args[0]!, spec.env);
  if (spec.runOptions?.ulimits || spec.runOptions?.oomScoreAdj !== undefined) {
    const { applyUlimits, applyOomScoreAdj } = require("./run-limits.ts") as typeof import("./run-limits.ts");
    if (spec.runOptions.ulimits) applyUlimits(spec.runOptions.ulimits);
    if (spec.runOptions.oomScoreAdj !== undefined) applyOomScoreAdj(spec.runOptions.oomScoreAdj);
  }
  awaitGo();
  applyProcessSecurity(spec, user, sys);
  closeRangeCloexec(STATUS_FD);
  trace("init exec");
  // "About to exec" (INIT_EXEC_MARK in init-launch.ts): an EOF without it means init died
  // before the command could run, which the watcher must not take for a start.
  writeSync(STATUS_FD, "x");
  // Bun's ignored SIGPIPE/SIGXFSZ and this thread's mask would survive execve.
  resetSignalsForExec();
  try {
    if (spec.runOptions?.init) return becomeReaper(path, spec);
    // Words carry non-UTF-8 bytes as escapes (util/argbytes.ts): exec the bytes themselves.
    execve(path, spec.args.map(argBytes), spec.env.map(argBytes));
  } catch (e) {
    throw execFailure(spec.args[0]!, e);
  }
}

/**
 * --init: stay as PID 1 and reap (container/reaper.ts). Named first, so that whoever sees the
 * start (the watcher reads EOF on the status fd) also sees a running container, not init.
 */
function becomeReaper(path: string, spec: InitSpec): void {
  const { reap } = require("./reaper.ts") as typeof import("./reaper.ts");
  const { REAPER_NAME } = require("./reaper.ts") as typeof import("./reaper.ts");
  setThreadName(REAPER_NAME);
  const cmd = [Buffer.from(path), ...spec.args.map(argBytes)];
  const env = spec.env.map(argBytes);
  closeSync(STATUS_FD);
  reap(cmd, env);
}

/**
 * Everything from the host's view to the container's: cgroups joined, namespaces entered,
 * hostname set, the image's root mounted, then the container's filesystem built from its
 * runtime-spec config by the runtime layer (the same plan `minid-runtime create --bundle` runs)
 * and entered. Returns the container's user, read through the container's own view. Exported
 * for the root-free tests of the order of these calls (test/unit/rootfs-plan.test.ts).
 */
export function enterContainer(spec: InitSpec, sys: Syscalls = realSyscalls): ExecUser {
  const { consoleTree, shmTree } = enterNamespaces(spec, sys, { cgroupNamespace: true, console: spec.tty });
  mountImageRoot(spec, sys);
  const root = spec.rootfs.target;
  // The process half of the config is minid's to apply (security.ts), as exec applies it too.
  const config = bundleConfig(spec, { env: spec.env, cgroupMount: Boolean(spec.cgroupProcs?.length) }) as Config;
  const optional = new Set([...spec.etcFiles.map((f) => f.destination), "/dev/mqueue"]);
  enterRootfs(config, root, mountRootfs(config, root, "/", sys, { optional, rootMounted: true, noCoreLink: true }), false, sys);
  if (consoleTree >= 0) attachConsole(consoleTree, sys);
  if (shmTree >= 0) {
    try {
      // /dev is the container's fresh tmpfs, its shm directory made by the mount plan.
      sys.moveMount(shmTree, "/dev/shm");
    } finally {
      sys.close(shmTree);
    }
  }
  return resolveContainerUser(spec);
}

/** chdir into the working directory inside the container, creating it as Docker does. */
export function enterWorkdir(cwd: string, sys: Syscalls = realSyscalls): void {
  try {
    sys.chdir(cwd);
    return;
  } catch (e) {
    if (!(e instanceof SyscallError) || e.code !== "ENOENT") {
      throw new InitError(`cannot enter working directory ${cwd}: ${(e as Error).message}`, EXIT_ENGINE);
    }
  }
  // Docker creates a missing working directory.
  const root = sys.openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    sys.close(mkdirAllInRoot(sys, root, cwd));
  } finally {
    sys.close(root);
  }
  sys.chdir(cwd);
}

