// `exec [--process process.json | ID CMD…] [-d] [-t] [--pid-file F] [--console-socket S]
// [--cwd D] [--env K=V] [--user UID[:GID]] [--cap CAP] [--no-new-privs] ID`: a new process in a
// running container (exec-init.ts does the entering). In the foreground its exit status is
// ours; -d returns once it runs.
import { readFileSync, writeFileSync, renameSync, readlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { constants } from "node:os";
import type { Globals, Logger } from "./flags.ts";
import { parseFlags, str } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { preservedFds, childStdio } from "./preserve-fds.ts";
import { Store, stateJson } from "./store.ts";
import { procsFiles } from "./cgroups.ts";
import type { Namespace, Process } from "./config.ts";
import { NAMESPACE_FLAGS, NAMESPACE_PROC } from "./config.ts";
import { capabilityPlan, compileSeccomp } from "./process.ts";
import type { ExecPlan } from "./exec-init.ts";
import { OCI_EXEC_ENV } from "./protocol.ts";
import { selfCommand, SHORT_LIVED_ENV } from "../container/self.ts";
import { readToEof } from "../container/fdio.ts";
import { kill, close, openat, connectUnix, AT_FDCWD, O_RDONLY, O_CLOEXEC, CLONE_NEWTIME, CLONE_NEWUSER } from "../linux/libc.ts";
import { inPidNamespaceOf } from "../linux/pidns.ts";
import { prepareForkedSpawn, type SpawnedProcess } from "./spawn-fork.ts";

const FORWARD = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

export default async function exec(g: Globals, log: Logger, argv: string[]): Promise<number> {
  const { flags, args } = parseFlags(argv, {
    bool: ["detach", "tty", "no-new-privs", "ignore-paused", "no-subreaper"],
    value: ["process", "pid-file", "console-socket", "cwd", "user", "apparmor", "process-label", "preserve-fds", "cgroup", "pidfd-socket"],
    multi: ["env", "cap", "additional-gids"],
    alias: { d: "detach", t: "tty", p: "process", e: "env", u: "user", c: "cap", g: "additional-gids" },
  }, "exec");
  if (args.length < 1) throw new RuntimeError(`"exec" requires a minimum of 1 argument(s)`);
  const store = new Store(g.root);
  const r = store.get(args[0]!);
  const status = store.status(r);
  if (status === "stopped") throw new RuntimeError("cannot exec in a stopped container");
  if (status === "paused" && !flags.get("ignore-paused")) throw new RuntimeError("cannot exec in a paused container (use --ignore-paused to override)");
  if (status === "creating") throw new RuntimeError("cannot exec in a container that is being created");
  const config = store.config(r.id);
  if (!config) throw new RuntimeError("container's config.json is missing from its state");
  if (str(flags, "apparmor") || str(flags, "process-label")) throw new RuntimeError("--apparmor/--process-label are not supported: this host has neither AppArmor nor SELinux");
  const preserveFds = preservedFds(str(flags, "preserve-fds"));

  let p: Process;
  const file = str(flags, "process");
  if (file) {
    try {
      p = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new RuntimeError(`cannot read process file ${file}: ${(e as Error).message}`);
    }
  } else {
    if (args.length < 2) throw new RuntimeError("exec: no command given (args or --process)");
    const base = config.process!;
    p = { ...base, args: args.slice(1), terminal: flags.get("tty") === true, consoleSize: undefined };
    p.env = [...(base.env ?? []), ...((flags.get("env") as string[]) ?? [])];
    if (str(flags, "cwd")) p.cwd = str(flags, "cwd")!;
    const u = str(flags, "user");
    if (u) {
      const [uid, gid] = u.split(":");
      if (!/^\d+$/.test(uid!) || (gid !== undefined && !/^\d+$/.test(gid))) throw new RuntimeError(`parsing ${u} as uid[:gid]: numbers only`);
      p.user = { ...p.user, uid: Number(uid), gid: gid === undefined ? 0 : Number(gid), additionalGids: p.user.additionalGids };
    }
    const gids = flags.get("additional-gids") as string[] | undefined;
    if (gids) p.user = { ...p.user, additionalGids: gids.map(Number) };
    const caps = flags.get("cap") as string[] | undefined;
    if (caps && p.capabilities) {
      const add = (l?: string[]) => [...new Set([...(l ?? []), ...caps])];
      p.capabilities = { ...p.capabilities, bounding: add(p.capabilities.bounding), effective: add(p.capabilities.effective), permitted: add(p.capabilities.permitted) };
    }
    if (flags.get("no-new-privs")) p.noNewPrivileges = true;
  }
  if (!p.args?.length) throw new RuntimeError("process.args must not be empty");
  if (!p.cwd) p.cwd = "/";
  if (!p.user) p.user = { uid: 0, gid: 0 };
  capabilityPlan(p);
  const consoleSocket = str(flags, "console-socket") && resolve(str(flags, "console-socket")!);
  if (p.terminal && !consoleSocket) throw new RuntimeError("cannot allocate tty if runc will detach without setting console socket");
  const detach = flags.get("detach") === true;

  // The container's namespaces that differ from ours are joined; the PID one by the spawn.
  const nsPath = (t: string) => `/proc/${r.pid}/ns/${NAMESPACE_PROC[t]}`;
  const differs = (t: string) => {
    try {
      return readlinkSync(nsPath(t)) !== readlinkSync(`/proc/self/ns/${NAMESPACE_PROC[t]}`);
    } catch {
      return false;
    }
  };
  // setns into a time or user namespace refuses a multithreaded caller (EUSERS, EINVAL): the
  // exec process is then forked (a single thread) and born in them (spawn-fork.ts). In the
  // container's user namespace it becomes that namespace's root, which cannot open the host's
  // files: its plan comes as an fd, and this process moves it into the cgroup.
  const ownTime = differs("time");
  const ownUser = differs("user");
  // In a user namespace the child joins the network, IPC and UTS ones too, before the user one
  // (as the host's root it may join any): _oci-exec never stands in the host's network.
  const childJoins = ownUser ? ["network", "ipc", "uts"].filter(differs) : [];
  const namespaces: Namespace[] = ["ipc", "uts", "network", "cgroup", "mount"].filter((t) => differs(t) && !childJoins.includes(t)).map((t) => ({ type: t, path: nsPath(t) }));
  const seccomp = compileSeccomp(config, join(g.root, ".seccomp"));
  const cgroupProcs = r.cgroup ? procsFiles(r.cgroup) : [];
  const plan: ExecPlan = {
    process: p, config, namespaces, preserveFds, state: stateJson(r, "running") as { [k: string]: unknown },
    cgroupProcs: ownUser ? [] : cgroupProcs, consoleSocket,
    seccomp: seccomp && { filter: seccomp.filter.toString("base64"), flags: seccomp.flags },
  };
  const planPath = join(store.dir(r.id), `exec-${process.pid}-${Date.now()}.json`);
  const extraFds: number[] = [];
  let proc: SpawnedProcess | ReturnType<typeof Bun.spawn>;
  try {
    if (ownUser && p.terminal) {
      extraFds[1] = connectUnix(consoleSocket!);
      plan.consoleFd = 5 + preserveFds;
    }
    writeFileSync(planPath, JSON.stringify(plan));
    const options = {
      env: { [OCI_EXEC_ENV]: planPath, ...SHORT_LIVED_ENV },
      stdio: childStdio(Boolean(p.terminal), preserveFds),
      detached: Boolean(p.terminal),
    } as any;
    const joins = [
      ...childJoins.map((t) => ({ type: t, path: nsPath(t), flag: NAMESPACE_FLAGS[t]! })),
      ...(ownTime ? [{ type: "time", path: nsPath("time"), flag: CLONE_NEWTIME }] : []),
      ...(ownUser ? [{ type: "user", path: nsPath("user"), flag: CLONE_NEWUSER }] : []),
    ];
    if (ownUser) {
      extraFds[0] = openat(AT_FDCWD, planPath, O_RDONLY | O_CLOEXEC);
      options.env[OCI_EXEC_ENV] = `fd:${4 + preserveFds}`;
    }
    const forked = joins.length
      ? prepareForkedSpawn(selfCommand("_oci-exec"), {
        env: options.env, terminal: Boolean(p.terminal), preserve: preserveFds, joins, becomeRoot: ownUser, extraFds,
        afterClone: ownUser ? (child) => cgroupProcs.forEach((f) => writeFileSync(f, String(child))) : undefined,
        where: ownUser ? `user namespace ${nsPath("user")}` : `time namespace ${nsPath("time")}`,
      })
      : undefined;
    const spawn = () => (forked ? forked() : Bun.spawn(selfCommand("_oci-exec"), options));
    proc = differs("pid") ? inPidNamespaceOf(nsPath("pid"), spawn) : spawn();
    const report = readToEof(proc.stdio[3 + preserveFds] as unknown as number).toString();
    if (report) {
      await proc.exited;
      throw new RuntimeError(`exec failed: ${JSON.parse(report).message}`, 255);
    }
  } finally {
    for (const fd of extraFds) if (fd !== undefined) close(fd);
    try {
      require("node:fs").unlinkSync(planPath);
    } catch {}
  }
  const pidFile = str(flags, "pid-file");
  if (pidFile) {
    const f = resolve(pidFile);
    const tmp = join(dirname(f), `.${basename(f)}.tmp`);
    writeFileSync(tmp, String(proc.pid));
    renameSync(tmp, f);
  }
  if (detach) {
    proc.unref();
    return 0;
  }
  const handlers = FORWARD.map((s) => {
    const h = () => kill(proc.pid, (constants.signals as Record<string, number>)[s]!);
    process.on(s, h);
    return [s, h] as const;
  });
  await proc.exited;
  for (const [s, h] of handlers) process.off(s, h);
  void log;
  if (proc.signalCode) return 128 + ((constants.signals as Record<string, number>)[proc.signalCode] ?? 0);
  return proc.exitCode ?? 0;
}

