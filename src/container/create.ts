// Turning `run` options into a registered container: image lookup, validation of every
// user-supplied piece before anything is written, then state, writable layer and init spec.
import { nowRfc3339Nano } from "./logs.ts";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import type { InitSpec, MountSpec } from "../spec/init-spec.ts";
import { parseMountFlags, prepareBindSources, resolveMounts, volumeStore, copyUpVolumes } from "./mounts.ts";
import { buildEnv, configEnv, parseEnvFile } from "./env.ts";
import { newId, shortId } from "../util/ids.ts";
import { UserError } from "../util/errors.ts";
import { chooseDriver, driverByName } from "../storage/select.ts";
import { ensureImage } from "../image/ensure.ts";
import { writeJsonAtomic } from "../util/fs.ts";
import type { ImageConfig } from "../image/config.ts";
import { trace } from "../util/trace.ts";
import { createdState } from "./lifecycle.ts";
import { parseResources, parseSecurity, DEFAULT_SYSCTLS, MASKED_PATHS, READONLY_PATHS, type ResourceFlags, type SecurityFlags } from "./options.ts";
import { checkServiceFlags, serviceSettings, type ServiceFlags } from "./service-options.ts";

export interface CreateOptions {
  image: string;
  cmd: string[];
  name?: string;
  env: string[];
  envFiles: string[];
  workdir?: string;
  hostname?: string;
  entrypoint?: string;
  user?: string;
  volumes: string[];
  tmpfs: string[];
  /** --mount and --volumes-from (container/mounts.ts). */
  mounts?: string[];
  volumesFrom?: string[];
  readOnly: boolean;
  rm: boolean;
  interactive: boolean;
  tty: boolean;
  resources?: ResourceFlags;
  security?: Partial<SecurityFlags>;
  /** -p/-P/--expose, --dns*, --network-alias (network/options.ts). */
  ports?: import("../network/options.ts").PortAndDnsFlags;
  /** --runtime: an OCI runtime (name on PATH or path) to build the container instead of minid's init. */
  runtime?: string;
  /** Settings kept with the container for later commands (stop signal and timeout). */
  extra?: Record<string, unknown>;
  /** --network (default bridge), --ip, --add-host, --network-alias (network/config.ts). */
  network?: import("../network/config.ts").NetworkFlags;
  /** Restart policy, --init, healthcheck, labels, ulimits, devices, … (service-options.ts). */
  service?: ServiceFlags;
}

const HOSTNAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}))*$/;

export async function createContainer(engine: Engine, opts: CreateOptions): Promise<ContainerState> {
  trace("create start");
  // Validate everything the user typed before touching the store.
  const parsedMounts = parseMountFlags(opts);
  for (const f of opts.envFiles) parseEnvFile(f);
  if (opts.hostname !== undefined && !HOSTNAME_RE.test(opts.hostname)) {
    throw new UserError(`invalid hostname "${opts.hostname}": use letters, digits, '-' and '.' (at most 63 per label)`);
  }
  if (opts.workdir !== undefined && !opts.workdir.startsWith("/")) {
    throw new UserError(`the working directory '${opts.workdir}' is invalid, it needs to be an absolute path`);
  }
  checkServiceFlags(opts.service ?? {}, opts.rm);
  const resources = await parseResources(opts.resources ?? {});
  const security = await parseSecurity({
    capAdd: opts.security?.capAdd ?? [],
    capDrop: opts.security?.capDrop ?? [],
    privileged: opts.security?.privileged ?? false,
    securityOpt: opts.security?.securityOpt ?? [],
    groupAdd: opts.security?.groupAdd ?? [],
    readOnly: opts.readOnly,
  });
  const { parsePortAndDns } = await import("../network/options.ts");
  parsePortAndDns(opts.ports, []); // a bad -p/--dns is refused before the image is looked at
  (await import("../network/options.ts")).checkPortMode(opts.ports, opts.network?.network, (m) => (require("../util/log.ts") as typeof import("../util/log.ts")).log.warn(m));
  const { resolveNetworkFlags } = await import("../network/config.ts");
  const network = resolveNetworkFlags(engine, { ...opts.network, hostname: opts.hostname });
  const runtime = opts.runtime !== undefined ? (await import("./oci-runtime.ts")).resolveRuntime(opts.runtime) : undefined;
  const { driver, notice } = chooseDriver(engine.storageDriver);
  if (notice) (await import("../util/log.ts")).log.warn(notice);

  const img = await ensureImage(engine, opts.image, { pull: opts.service?.pull, quiet: opts.service?.quiet });
  await engine.images.ensureExtracted(img.layers.map((l) => l.diffId));
  const config: ImageConfig = engine.images.getConfig(img);
  const cc = config.config ?? {};
  const entrypoint = opts.entrypoint !== undefined ? (opts.entrypoint ? [opts.entrypoint] : []) : (cc.Entrypoint ?? []);
  const cmd = opts.cmd.length ? opts.cmd : opts.entrypoint !== undefined ? [] : (cc.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (!args.length) throw new UserError("No command specified: give one after the image name (e.g. `minid run IMAGE sh`)");
  const svc = serviceSettings(opts.service ?? {}, cc);

  const portsAndDns = parsePortAndDns(opts.ports, Object.keys(cc.ExposedPorts ?? {}));
  const id = newId();
  // --uts host: the host's name (and --hostname makes no sense); --ipc/--pid container:NAME
  // are kept by id, as Docker keeps them.
  if (svc.runOptions?.uts && opts.hostname !== undefined) throw new UserError("conflicting options: hostname and the UTS mode");
  for (const k of ["ipc", "pid"] as const) {
    const m = svc.runOptions?.[k];
    if (!m || !("container" in m)) continue;
    const donor = engine.containers.find(m.container);
    m.container = donor.id;
    if (k === "ipc" && !donor.runOptions?.ipcShareable && !(donor.runOptions?.ipc && "host" in donor.runOptions.ipc)) {
      throw new UserError(`can't join IPC of container ${donor.id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
    }
  }
  const hostname = opts.hostname ?? (svc.runOptions?.uts ? (await import("node:os")).hostname() : network.hostname ?? shortId(id));
  const env = buildEnv({
    image: cc.Env ?? [],
    files: opts.envFiles,
    flags: opts.env,
    hostname,
    // With --user, HOME comes from the image's passwd entry (init fills it in).
    home: opts.user ?? cc.User ? undefined : "/root",
    tty: opts.tty,
  });
  // Host sides of bind mounts: -v makes a missing directory, as Docker does; --mount refuses it.
  prepareBindSources(parsedMounts.requests.filter((r) => r.type === "bind") as MountSpec[]);

  const st: ContainerState = {
    id,
    name: opts.name ?? "", // "": the store picks a free random name
    image: opts.image,
    imageId: img.id,
    created: nowRfc3339Nano(),
    path: args[0]!,
    args: args.slice(1),
    config: {
      env,
      cwd: opts.workdir ?? (cc.WorkingDir || "/"),
      hostname,
      tty: opts.tty,
      interactive: opts.interactive,
      user: opts.user ?? cc.User,
      entrypoint: entrypoint.length ? entrypoint : null,
      cmd,
    },
    mounts: [],
    storage: { driver: driver.name, lowerdirs: engine.images.layerDirs(img) },
    autoRemove: opts.rm,
    state: createdState(),
    security,
    resources,
    ...portsAndDns,
    // Config.Env as Docker records it, for inspect and exec (env.ts declaredEnv).
    extra: {
      ...opts.extra,
      configEnv: configEnv({ image: cc.Env ?? [], files: opts.envFiles, flags: opts.env }),
      ...(runtime ? { runtime } : {}),
      // As typed, for inspect's HostConfig.VolumesFrom (the mounts themselves are resolved).
      ...(opts.volumesFrom?.length ? { volumesFrom: opts.volumesFrom } : {}),
    },
    network: network.config,
    ...(svc.restartPolicy ? { restartPolicy: svc.restartPolicy } : {}),
    ...(svc.healthcheck ? { healthcheck: svc.healthcheck } : {}),
    ...(svc.runOptions ? { runOptions: svc.runOptions } : {}),
  };
  if (Object.keys(svc.labels).length) st.config.labels = svc.labels;
  // Volumes are made and the container registered as their user under the volume store's lock.
  let copyUp: { volume: string; destination: string }[] = [];
  volumeStore(engine).withLock(() => {
    const r = resolveMounts(engine, parsedMounts, Object.keys(cc.Volumes ?? {}));
    st.mounts = r.mounts;
    copyUp = r.copyUp;
    try {
      engine.containers.create(st);
    } catch (e) {
      for (const m of st.mounts) if (m.anonymous && m.origin !== "volumes-from") volumeStore(engine).remove(m.volume!);
      throw e;
    }
  });
  try {
    prepareContainer(engine, st);
    await copyUpVolumes(engine, st, copyUp);
    st.cgroupPaths = await createContainerCgroup(st);
    engine.containers.save(st);
    const { recordEvent } = await import("../events/journal.ts");
    recordEvent(engine.root, { Type: "container", Action: "create", id: st.id, attributes: { image: st.image, name: st.name } });
  } catch (e) {
    const { removeContainer } = await import("./remove.ts");
    removeContainer(engine, st.id, { force: true, volumes: true });
    throw e;
  }
  trace("create done");
  return st;
}

/** Every container gets its own cgroup (as with Docker), limits or not, for stats and cleanup. */
async function createContainerCgroup(st: ContainerState) {
  const { createCgroup } = await import("../linux/cgroups.ts");
  const { log } = await import("../util/log.ts");
  try {
    const cg = createCgroup(`minid/${st.id}`, { ...st.resources, allowAllDevices: st.security?.privileged, deviceRules: deviceRulesOf(st) });
    for (const w of cg.warnings) log.warn(w);
    return cg.paths;
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** --device and --device-cgroup-rule as devices.allow rules (cgroup v1). */
function deviceRulesOf(st: ContainerState): string[] | undefined {
  const o = st.runOptions;
  const rules = [...(o?.devices ?? []).map((d) => `${d.type} ${d.major}:${d.minor} ${d.permissions}`), ...(o?.deviceCgroupRules ?? [])];
  return rules.length ? rules : undefined;
}

/** Host-side pieces of a container: writable layer and the files bound over /etc. */
function prepareContainer(engine: Engine, st: ContainerState): void {
  const dir = engine.containers.containerDir(st.id);
  const driver = driverByName(st.storage.driver);
  driver.prepare(dir, st.storage.lowerdirs);
  writeFileSync(join(dir, "hostname"), `${st.config.hostname}\n`);
  writeFileSync(
    join(dir, "hosts"),
    `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t${st.config.hostname}\n`,
  );
  let resolv = "";
  try {
    resolv = readFileSync("/etc/resolv.conf", "utf8");
  } catch {}
  writeFileSync(join(dir, "resolv.conf"), resolv);
  // hosts and resolv.conf as the network mode has them (network/config.ts)
  if (st.network) (require("../network/config.ts") as typeof import("../network/config.ts")).writeEtcFiles(engine, st, dir);
}

/** The container's cgroup, made again when a stopped container starts (exit removes it). */
function ensureCgroup(st: ContainerState): void {
  const p = st.cgroupPaths;
  if (!p) return;
  const dirs = p.version === "v2" ? [p.path] : Object.values(p.paths);
  if (dirs.every((d) => existsSync(d))) return;
  const { createCgroup } = require("../linux/cgroups.ts") as typeof import("../linux/cgroups.ts");
  try {
    createCgroup(`minid/${st.id}`, { ...st.resources, allowAllDevices: st.security?.privileged, deviceRules: deviceRulesOf(st) });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** The spec init needs for one start of the container. */
export function initSpecFor(engine: Engine, st: ContainerState, extra: Partial<InitSpec> = {}): InitSpec {
  ensureCgroup(st);
  const dir = engine.containers.containerDir(st.id);
  const rootfs = driverByName(st.storage.driver).rootfs(dir, st.storage.lowerdirs);
  return {
    id: st.id,
    rootfs,
    mounts: st.mounts,
    etcFiles: ["hostname", "hosts", "resolv.conf"].map((f) => ({ source: join(dir, f), destination: `/etc/${f}` })),
    hostname: st.config.hostname,
    args: [st.path, ...st.args],
    env: st.config.env,
    cwd: st.config.cwd,
    tty: st.config.tty,
    userSpec: st.config.user || undefined,
    groupAdd: st.security?.groupAdd,
    cgroupProcs: cgroupProcFiles(st),
    cgroupVersion: st.cgroupPaths?.version,
    capabilities: st.security?.capabilities,
    noNewPrivileges: st.security?.noNewPrivileges ?? false,
    seccomp: st.security?.seccomp ?? true,
    privileged: st.security?.privileged ?? false,
    readonlyRootfs: st.security?.readOnlyRootfs ?? false,
    maskedPaths: st.security?.privileged ? [] : MASKED_PATHS,
    readonlyPaths: st.security?.privileged ? [] : READONLY_PATHS,
    sysctls: DEFAULT_SYSCTLS,
    ...(st.runOptions ? { runOptions: st.runOptions } : {}),
    ...joinedNamespaces(engine, st),
    ...(st.extra?.runtime ? { runtime: { ...(st.extra.runtime as { name: string; path: string }), dir, ...(st.resources ? { resources: st.resources } : {}) } } : {}),
    ...extra,
  };
}

/** --ipc container:ID: the running container's namespace file (it must run, as with Docker). */
function joinedNamespaces(engine: Engine, st: ContainerState): Partial<InitSpec> {
  const m = st.runOptions?.ipc;
  if (!m || !("container" in m)) return {};
  return { joinNamespaces: { ipc: namespaceOf(engine, m.container, "ipc", "IPC") } };
}

/** `/proc/PID/ns/NAME` of a running container, or Docker's error. */
export function namespaceOf(engine: Engine, id: string, ns: string, what: string): string {
  const { containerProc, isAlive } = require("./proc.ts") as typeof import("./proc.ts");
  const other = engine.containers.load(id);
  const p = other && containerProc(other);
  if (!other || !isAlive(p)) throw new UserError(`cannot join ${what} of a non running container: ${id}`);
  return `/proc/${p!.pid}/ns/${ns}`;
}

function cgroupProcFiles(st: ContainerState): string[] {
  const p = st.cgroupPaths;
  if (!p) return [];
  const dirs = p.version === "v2" ? [p.path] : [...new Set(Object.values(p.paths))];
  return dirs.map((d) => join(d, "cgroup.procs"));
}

export function writeInitSpec(engine: Engine, st: ContainerState, spec: InitSpec): string {
  const path = join(engine.containers.containerDir(st.id), "init.json");
  writeJsonAtomic(path, spec, 0o600);
  return path;
}
