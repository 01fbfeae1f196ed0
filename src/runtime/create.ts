// `create --bundle DIR [--pid-file F] [--console-socket SOCK] [--no-pivot] ID`: the container
// is built by its init (init.ts) and left waiting on exec.fifo; this process runs the
// runtime-namespace hooks, records the state and exits, as runc create does.
import { writeFileSync, writeSync, renameSync } from "node:fs";
import { resolve, dirname, basename, join } from "node:path";
import type { Globals, Logger } from "./flags.ts";
import { parseFlags, str } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { preservedFds, childStdio } from "./preserve-fds.ts";
import { loadConfig, validateConfig, rootfsPath, type Config } from "./config.ts";
import { Store, checkId, pidStartTime, stateJson, type Record } from "./store.ts";
import { createCgroups, applyResources, procsFiles, removeCgroups } from "./cgroups.ts";
import { runHooks } from "./hooks.ts";
import { capabilityPlan, compileSeccomp } from "./process.ts";
import type { InitPlan } from "./init.ts";
import { OCI_INIT_ENV } from "./protocol.ts";
import { JsonLines } from "../container/fdio.ts";
import { selfCommand, SHORT_LIVED_ENV } from "../container/self.ts";
import { mountNamespaceBeforeSeal, sealSelfExecutable } from "../linux/sealed-exe.ts";
import { inNewPidNamespace, inPidNamespaceOf } from "../linux/pidns.ts";
import { mknodat, openat, close, kill, dupAbove, AT_FDCWD, O_RDONLY, O_CLOEXEC, S_IFIFO, CLONE_NEWTIME } from "../linux/libc.ts";
import { prepareForkedSpawn, type SpawnedProcess } from "./spawn-fork.ts";
import { giveFifo, inJoinedNamespaces, prepareUserNamespaceInit, userNamespace } from "./userns.ts";
import { idmappedTrees } from "./idmap.ts";

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot: boolean;
  /** --preserve-fds N: our fds 3 … 3+N-1 become the container process's. */
  preserveFds: number;
  /** run: init's stdio is ours and we wait for it. */
  foreground: boolean;
}

export interface Created {
  record: Record;
  store: Store;
  config: Config;
  proc: SpawnedProcess | ReturnType<typeof Bun.spawn>;
}

export const CREATE_FLAGS = {
  bool: ["no-pivot", "no-new-keyring", "detach", "keep", "no-subreaper"],
  value: ["bundle", "pid-file", "console-socket", "preserve-fds", "pidfd-socket"],
  alias: { b: "bundle", d: "detach" },
};

export function createOptions(argv: string[], cmd: string): { id: string; opts: CreateOptions; flags: Map<string, unknown> } {
  const { flags, args } = parseFlags(argv, CREATE_FLAGS, cmd);
  if (args.length !== 1) throw new RuntimeError(`"${cmd}" requires exactly 1 argument(s)`);
  const id = checkId(args[0]);
  return {
    id,
    flags,
    opts: {
      bundle: resolve(str(flags, "bundle") ?? "."),
      pidFile: str(flags, "pid-file") && resolve(str(flags, "pid-file")!),
      consoleSocket: str(flags, "console-socket") && resolve(str(flags, "console-socket")!),
      noPivot: flags.get("no-pivot") === true,
      preserveFds: preservedFds(str(flags, "preserve-fds")),
      foreground: false,
    },
  };
}

export default async function create(g: Globals, log: Logger, argv: string[]): Promise<number> {
  const { id, opts } = createOptions(argv, "create");
  const c = await createContainer(g, log, id, opts);
  c.proc.unref();
  return 0;
}

/** Join `path`'s PID namespace for the one spawn; a namespace that cannot be opened is the config's fault. */
function inPidNamespace<T>(path: string, spawn: () => T): T {
  try {
    close(openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  } catch (e) {
    throw new RuntimeError(`cannot open pid namespace ${path}: ${(e as Error).message}`);
  }
  return inPidNamespaceOf(path, spawn);
}

export async function createContainer(g: Globals, log: Logger, id: string, opts: CreateOptions): Promise<Created> {
  const t0 = performance.now();
  const step = (what: string) => log.debug(`create ${id}: ${what} (+${(performance.now() - t0).toFixed(1)} ms)`);
  const store = new Store(g.root);
  const config = loadConfig(opts.bundle);
  validateConfig(config);
  const rootfs = rootfsPath(opts.bundle, config);
  // Fail on bad capabilities or seccomp here, before anything is made.
  capabilityPlan(config.process!);
  const seccomp = compileSeccomp(config, join(g.root, ".seccomp"));
  if (config.process!.terminal && !opts.consoleSocket && !opts.foreground) {
    throw new RuntimeError("cannot allocate tty if runc will detach without setting console socket");
  }
  if (config.process!.terminal && !opts.consoleSocket) throw new RuntimeError("process.terminal without --console-socket is not supported by minid-runtime run; pass --console-socket");
  if (!config.process!.terminal && opts.consoleSocket) throw new RuntimeError("cannot use console socket if runc will not detach or allocate tty");
  const dir = store.claim(id);
  const record: Record = {
    id, bundle: opts.bundle, rootfs, pid: 0, pidStart: "", created: new Date().toISOString(),
    annotations: config.annotations ?? {}, phase: "creating", owner: "root",
    creator: { pid: process.pid, start: pidStartTime(process.pid) },
  };
  let proc: SpawnedProcess | ReturnType<typeof Bun.spawn> | undefined;
  let chan: JsonLines | undefined;
  let trees = new Map<number, number>();
  const copies: number[] = [];
  try {
    store.write(record);
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    mknodat(AT_FDCWD, store.fifo(id), S_IFIFO | 0o600, 0);
    record.cgroup = createCgroups(config.linux?.cgroupsPath, id, g.systemdCgroup);
    store.write(record);
    step("cgroup made");
    applyResources(record.cgroup, config.linux?.resources, { devices: true, warn: (m) => log.warn(m), nodes: config.linux?.devices });
    const state = stateJson(record, "creating") as { [k: string]: unknown };
    const user = userNamespace(config);
    const plan: InitPlan = {
      id, bundle: opts.bundle, rootfs, stateDir: dir, config,
      // In a user namespace init cannot open these (they are root's): it is moved from here.
      cgroupProcs: procsFiles(record.cgroup),
      consoleSocket: opts.consoleSocket, noPivot: opts.noPivot, state, preserveFds: opts.preserveFds,
      seccomp: seccomp && { filter: seccomp.filter.toString("base64"), flags: seccomp.flags },
    };
    const planPath = join(dir, "init.json");
    const pidNs = config.linux?.namespaces?.find((n) => n.type === "pid");
    const argv = selfCommand("_oci-init");
    // rootfsPropagation shared: init makes its mount namespace from ours before the seal, so
    // that the host's shared mounts bound in are peers of the host's (rootfs.ts).
    const prop = config.linux?.rootfsPropagation;
    sealSelfExecutable({ keepMountNamespace: !user && (prop === "shared" || prop === "rshared") });
    const terminal = Boolean(config.process!.terminal);
    const env: { [k: string]: string } = { [OCI_INIT_ENV]: planPath, PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...SHORT_LIVED_ENV, ...(process.env.MINID_TRACE ? { MINID_TRACE: process.env.MINID_TRACE } : {}) };
    const options = {
      env,
      stdio: childStdio(terminal, opts.preserveFds),
      // A terminal needs init to lead its own session (TIOCSCTTY).
      detached: terminal,
      cwd: opts.bundle,
    } as any;
    let forked: (() => SpawnedProcess) | undefined;
    let makesPidNs = false;
    // Idmapped mounts: made here, as the host's root (idmap.ts); init gets them as fds after
    // the others it is given, and attaches them.
    trees = idmappedTrees(config, opts.bundle);
    const giveTrees = (first: number): number[] => {
      if (trees.size) plan.idmappedTrees = Object.fromEntries([...trees.keys()].map((index, i) => [index, first + i]));
      return [...trees.values()];
    };
    if (user) {
      // The plan's fds are known before it is written; the file is opened after.
      const base = 4 + opts.preserveFds;
      const consoleFd = terminal && opts.consoleSocket ? base + 2 : undefined;
      plan.inherited = { fifo: base + 1, console: consoleFd };
      const treeFds = giveTrees(consoleFd ? base + 3 : base + 2);
      writeFileSync(planPath, JSON.stringify(plan));
      env[OCI_INIT_ENV] = `fd:${base}`;
      const u = prepareUserNamespaceInit(config, user, {
        cmd: argv, env, planPath, fifo: store.fifo(id), consoleSocket: opts.consoleSocket, terminal,
        preserve: opts.preserveFds, cwd: opts.bundle, cgroupProcs: procsFiles(record.cgroup), extraFds: treeFds,
      });
      forked = () => inJoinedNamespaces(config, u.start);
      makesPidNs = u.makesPidNamespace;
    } else {
      const hostMnt = mountNamespaceBeforeSeal();
      const extra: number[] = [];
      if (hostMnt >= 0) {
        plan.mountNamespaceFd = 4 + opts.preserveFds;
        extra.push(hostMnt);
      }
      extra.push(...giveTrees(4 + opts.preserveFds + extra.length));
      // Bun.spawn dups its stdio entries in order: a source numbered like an earlier entry's
      // slot would be overwritten before its turn, one equal to its own slot would keep
      // close-on-exec. Copies above every slot have neither problem.
      for (const fd of extra) copies.push(dupAbove(fd, 4 + opts.preserveFds + extra.length));
      options.stdio.push(...copies);
      writeFileSync(planPath, JSON.stringify(plan));
      // A time namespace to join: init is forked into it (setns(CLONE_NEWTIME) needs a single
      // thread), and its command inherits it.
      const timeNs = config.linux?.namespaces?.find((n) => n.type === "time" && n.path);
      if (timeNs) {
        forked = prepareForkedSpawn(argv, {
          env, terminal, preserve: opts.preserveFds, cwd: opts.bundle,
          joins: [{ type: "time", path: timeNs.path!, flag: CLONE_NEWTIME }], where: `time namespace ${timeNs.path}`,
          extraFds: extra,
        });
      }
    }
    const spawn = (): SpawnedProcess | ReturnType<typeof Bun.spawn> => (forked ? forked() : Bun.spawn(argv, options));
    step("init spawning");
    try {
      proc = pidNs && !makesPidNs ? (pidNs.path ? inPidNamespace(pidNs.path, spawn) : inNewPidNamespace(spawn)) : spawn();
    } finally {
      // Init holds its copies.
      for (const fd of [...trees.values(), ...copies.splice(0)]) close(fd);
      trees.clear();
    }
    if (user) giveFifo(store.fifo(id), proc.pid);
    const chanFd = proc.stdio[3 + opts.preserveFds] as unknown as number;
    chan = new JsonLines(chanFd);
    const first = chan.next<{ type: string; message?: string }>();
    if (!first) throw new RuntimeError(await initDied(proc));
    if (first.type === "error") throw new RuntimeError(first.message ?? "init failed");
    step("init mounted");
    record.pid = proc.pid;
    record.pidStart = pidStartTime(proc.pid);
    store.write(record);
    const hookState = stateJson(record, "creating");
    // prestart (deprecated) sees "created" as runtime-tools checks and crun gives; createRuntime "creating".
    const hookErr = runHooks(config.hooks?.prestart, { ...hookState, status: "created" }) ?? runHooks(config.hooks?.createRuntime, hookState);
    if (hookErr) throw new RuntimeError(hookErr);
    writeSync(chanFd, JSON.stringify({ type: "go" }) + "\n");
    const done = chan.next<{ type: string; message?: string }>();
    if (!done) throw new RuntimeError(await initDied(proc));
    if (done.type === "error") throw new RuntimeError(done.message ?? "init failed");
    chan.close();
    step("init created");
    record.phase = "created";
    store.write(record);
    if (opts.pidFile) {
      const tmp = join(dirname(opts.pidFile), `.${basename(opts.pidFile)}.tmp`);
      writeFileSync(tmp, String(proc.pid));
      renameSync(tmp, opts.pidFile);
    }
    return { record, store, config, proc };
  } catch (e) {
    chan?.close();
    for (const fd of [...trees.values(), ...copies]) close(fd);
    if (proc) {
      kill(proc.pid, 9);
      await proc.exited;
    }
    if (record.cgroup) removeCgroups(record.cgroup);
    store.remove(id);
    throw e;
  }
}

async function initDied(proc: { exited: Promise<number> }): Promise<string> {
  const code = await proc.exited;
  return `container init exited (status ${code}) before the container was created`;
}

