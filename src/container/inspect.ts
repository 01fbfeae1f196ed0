// `minid inspect` for containers: Docker's document shape (the fields that have a meaning
// here), with the live state rather than the last recorded one.
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { liveState, settledState } from "./status.ts";
import { logPath } from "./logs.ts";
import { dockerHostConfig } from "./inspect-hostconfig.ts";
import { declaredEnv, imageEnvOf } from "./env.ts";
import { networkPorts } from "../network/port-status.ts";
import { exposedPortsDoc, goMap } from "../network/ports.ts";
import { bindsOf, mountFlagsOf, mountsOf, volumesOf } from "./mounts-inspect.ts";
import { readHealth, type HealthState } from "./health.ts";

/** State.Health: what the watcher last wrote; "starting" until the first check of this run. */
function healthOf(dir: string, running: boolean): HealthState {
  const h = readHealth(dir) ?? { Status: "starting", FailingStreak: 0, Log: [] };
  // A stopped container is not healthy, whatever its last check said (Docker sets the same).
  return running ? h : { ...h, Status: "unhealthy" };
}

/** The HostConfig fields of run-options.ts, as Docker names them. */
function runOptionsHostConfig(st: ContainerState): Record<string, unknown> {
  const o = st.runOptions ?? {};
  const ns = (m: { host: true } | { container: string } | undefined, dflt: string) => (!m ? dflt : "host" in m ? "host" : `container:${m.container}`);
  return {
    Init: o.init ? true : null,
    Ulimits: o.ulimits?.map((u) => ({ Name: u.name, Hard: u.hard, Soft: u.soft })) ?? null,
    Devices: o.devices?.map((d) => ({ PathOnHost: d.host, PathInContainer: d.container, CgroupPermissions: d.permissions })) ?? [],
    DeviceCgroupRules: o.deviceCgroupRules ?? null,
    Sysctls: o.sysctls ?? null,
    ShmSize: o.shmSize ?? 64 * 1024 * 1024,
    IpcMode: o.ipcShareable ? "shareable" : ns(o.ipc, "private"),
    PidMode: ns(o.pid, ""),
    UTSMode: ns(o.uts, ""),
    OomScoreAdj: o.oomScoreAdj ?? 0,
  };
}

const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Go's time.RFC3339Nano, which Docker's timestamps use: the fraction without trailing zeros. */
function rfc3339Nano(t: string | undefined): string {
  if (!t) return ZERO_TIME;
  return t.replace(/\.(\d*?)0*Z$/, (_m, d: string) => (d ? `.${d}Z` : "Z"));
}

function configStopSettings(engine: Engine, st: ContainerState): { StopSignal?: string; StopTimeout?: number } {
  const out: { StopSignal?: string; StopTimeout?: number } = {};
  const own = st.extra?.stopSignal;
  if (typeof own === "string" && own) out.StopSignal = own;
  else {
    try {
      const img = engine.images.getImage(st.imageId);
      const sig = img && (engine.images.getConfig(img).config as { StopSignal?: string } | undefined)?.StopSignal;
      if (sig) out.StopSignal = sig;
    } catch {
      // the image may be gone
    }
  }
  if (typeof st.extra?.stopTimeout === "number") out.StopTimeout = st.extra.stopTimeout;
  return out;
}

export function inspectContainer(engine: Engine, st0: ContainerState): Record<string, unknown> {
  const st = settledState(engine, st0);
  const s = liveState(st);
  const dir = engine.containers.containerDir(st.id);
  const running = s.status === "running" || s.status === "paused";
  const tmpfs = st.mounts.filter((m) => m.type === "tmpfs");
  const caps = st.security;
  const net = require("../network/inspect.ts") as typeof import("../network/inspect.ts");
  const res = (st.resources ?? {}) as Record<string, unknown>;
  const graph: Record<string, string> =
    st.storage.driver === "vfs"
      ? { Dir: join(dir, "rootfs") }
      : {
          LowerDir: [...st.storage.lowerdirs].reverse().join(":"),
          UpperDir: join(dir, "upper"),
          WorkDir: join(dir, "work"),
          MergedDir: join(dir, "merged"),
        };
  return {
    Id: st.id,
    Created: rfc3339Nano(st.created),
    Path: st.path,
    Args: st.args,
    State: {
      Status: s.status,
      // As Docker's: a container waiting to restart counts as running.
      Running: running || s.status === "restarting",
      Paused: s.status === "paused",
      Restarting: s.status === "restarting",
      OOMKilled: Boolean(s.oomKilled),
      Dead: s.status === "dead",
      Pid: running ? s.pid : 0,
      ExitCode: s.exitCode,
      Error: s.error ?? "",
      StartedAt: rfc3339Nano(s.startedAt),
      FinishedAt: rfc3339Nano(s.finishedAt),
      // As Docker's: no Health before the first start.
      ...(st.healthcheck && s.startedAt ? { Health: healthOf(dir, running) } : {}),
    },
    Image: st.imageId,
    ResolvConfPath: join(dir, "resolv.conf"),
    HostnamePath: join(dir, "hostname"),
    HostsPath: join(dir, "hosts"),
    LogPath: logPath(dir, st.id),
    Name: `/${st.name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: st.storage.driver,
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: dockerHostConfig(st, {
      Binds: bindsOf(st),
      // Docker's HostConfig.Mounts is omitempty: present only with --mount.
      Mounts: mountFlagsOf(st) ?? undefined,
      LogConfig: { Type: st.runOptions?.logDriver ?? "json-file", Config: st.runOptions?.logOpts ?? {} },
      NetworkMode: net.networkModeOf(st),
      RestartPolicy: { Name: st.restartPolicy?.name ?? "no", MaximumRetryCount: st.restartPolicy?.maximumRetryCount ?? 0 },
      ...runOptionsHostConfig(st),
      VolumesFrom: (st.extra?.volumesFrom as string[] | undefined) ?? null,
      AutoRemove: st.autoRemove,
      Privileged: Boolean(caps?.privileged),
      Runtime: (st.extra?.runtime as { name?: string } | undefined)?.name ?? "minid",
      ReadonlyRootfs: Boolean(caps?.readOnlyRootfs),
      GroupAdd: caps?.groupAdd?.length ? caps.groupAdd : null,
      Tmpfs: tmpfs.length ? Object.fromEntries(tmpfs.map((m) => [m.destination, m.options ?? ""])) : null,
      Memory: Number(res.memory ?? 0),
      // Docker records the swap it applies: twice the memory when only -m was given.
      MemorySwap: Number(res.memorySwap ?? 0) || (Number(res.memory ?? 0) > 0 ? 2 * Number(res.memory) : 0),
      NanoCpus: Number(res.nanoCpus ?? 0),
      CpuShares: Number(res.cpuShares ?? 0),
      CpusetCpus: String(res.cpusetCpus ?? ""),
      PidsLimit: res.pidsLimit === undefined ? null : Number(res.pidsLimit),
      OomKillDisable: Boolean(res.oomKillDisable),
      PortBindings: goMap(st.ports?.bindings ?? {}),
      PublishAllPorts: Boolean(st.ports?.publishAll),
      Dns: st.dns?.servers ?? [],
      DnsOptions: st.dns?.options ?? [],
      DnsSearch: st.dns?.search ?? [],
    }),
    GraphDriver: { Data: graph, Name: st.storage.driver },
    Mounts: mountsOf(st),
    Config: {
      Hostname: st.config.hostname,
      Domainname: "",
      User: st.config.user ?? "",
      AttachStdin: st.config.interactive,
      AttachStdout: !st.extra?.detached,
      AttachStderr: !st.extra?.detached,
      Tty: st.config.tty,
      OpenStdin: st.config.interactive,
      StdinOnce: st.config.interactive,
      Env: declaredEnv(st, () => imageEnvOf(engine, st)),
      Cmd: st.config.cmd ?? null,
      ...(exposedPortsDoc(st.ports) ? { ExposedPorts: exposedPortsDoc(st.ports) } : {}),
      Image: st.image,
      Volumes: volumesOf(st),
      WorkingDir: st.config.cwd === "/" ? "" : st.config.cwd,
      Entrypoint: st.config.entrypoint ?? null,
      OnBuild: null,
      Labels: st.config.labels ?? {},
      ...(st.healthcheck ? { Healthcheck: st.healthcheck } : {}),
      // As Docker: only when set (the run flag as typed, or the image's), never the default.
      ...configStopSettings(engine, st),
    },
    // As Docker shows it for the container's mode (network/inspect.ts).
    NetworkSettings: { ...net.networkSettings(engine, st, running, s.pid), Ports: networkPorts(engine, st) },
  };
}
