// Turning `run` options into a registered container: image lookup, validation of every
// user-supplied piece before anything is written, then state, writable layer and init spec.
import { nowRfc3339Nano } from "./logs.ts";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import type { InitSpec, MountSpec } from "../spec/init-spec.ts";
import { parseVolume, parseTmpfs } from "./volumes.ts";
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
}

const HOSTNAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}))*$/;

export async function createContainer(engine: Engine, opts: CreateOptions): Promise<ContainerState> {
  trace("create start");
  // Validate everything the user typed before touching the store.
  const mounts: MountSpec[] = [...opts.volumes.map(parseVolume), ...opts.tmpfs.map(parseTmpfs)];
  for (const f of opts.envFiles) parseEnvFile(f);
  if (opts.hostname !== undefined && !HOSTNAME_RE.test(opts.hostname)) {
    throw new UserError(`invalid hostname "${opts.hostname}": use letters, digits, '-' and '.' (at most 63 per label)`);
  }
  if (opts.workdir !== undefined && !opts.workdir.startsWith("/")) {
    throw new UserError(`the working directory '${opts.workdir}' is invalid, it needs to be an absolute path`);
  }
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

  const img = await ensureImage(engine, opts.image);
  await engine.images.ensureExtracted(img.layers.map((l) => l.diffId));
  const config: ImageConfig = engine.images.getConfig(img);
  const cc = config.config ?? {};
  const entrypoint = opts.entrypoint !== undefined ? (opts.entrypoint ? [opts.entrypoint] : []) : (cc.Entrypoint ?? []);
  const cmd = opts.cmd.length ? opts.cmd : opts.entrypoint !== undefined ? [] : (cc.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (!args.length) throw new UserError("No command specified: give one after the image name (e.g. `minid run IMAGE sh`)");

  const portsAndDns = parsePortAndDns(opts.ports, Object.keys(cc.ExposedPorts ?? {}));
  const id = newId();
  const hostname = opts.hostname ?? network.hostname ?? shortId(id);
  const env = buildEnv({
    image: cc.Env ?? [],
    files: opts.envFiles,
    flags: opts.env,
    hostname,
    // With --user, HOME comes from the image's passwd entry (init fills it in).
    home: opts.user ?? cc.User ? undefined : "/root",
    tty: opts.tty,
  });
  // Host sides of bind mounts: a missing directory is created, as Docker does.
  for (const m of mounts) {
    if (m.type === "bind" && !existsSync(m.source)) mkdirSync(m.source, { recursive: true, mode: 0o755 });
  }

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
    mounts,
    storage: { driver: driver.name, lowerdirs: engine.images.layerDirs(img) },
    autoRemove: opts.rm,
    state: createdState(),
    security,
    resources,
    ...portsAndDns,
    // Config.Env as Docker records it, for inspect and exec (env.ts declaredEnv).
    extra: { ...opts.extra, configEnv: configEnv({ image: cc.Env ?? [], files: opts.envFiles, flags: opts.env }), ...(runtime ? { runtime } : {}) },
    network: network.config,
  };
  engine.containers.create(st);
  try {
    prepareContainer(engine, st);
    st.cgroupPaths = await createContainerCgroup(st);
    engine.containers.save(st);
  } catch (e) {
    const { removeContainer } = await import("./remove.ts");
    removeContainer(engine, st.id, { force: true });
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
    const cg = createCgroup(`minid/${st.id}`, { ...st.resources, allowAllDevices: st.security?.privileged });
    for (const w of cg.warnings) log.warn(w);
    return cg.paths;
  } catch (e) {
    throw new UserError((e as Error).message);
  }
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
    createCgroup(`minid/${st.id}`, { ...st.resources, allowAllDevices: st.security?.privileged });
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
    ...(st.extra?.runtime ? { runtime: { ...(st.extra.runtime as { name: string; path: string }), dir } } : {}),
    ...extra,
  };
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
