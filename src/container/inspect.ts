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
  const binds = st.mounts.filter((m) => m.type === "bind");
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
      Running: running,
      Paused: s.status === "paused",
      Restarting: false,
      OOMKilled: Boolean(s.oomKilled),
      Dead: s.status === "dead",
      Pid: running ? s.pid : 0,
      ExitCode: s.exitCode,
      Error: s.error ?? "",
      StartedAt: rfc3339Nano(s.startedAt),
      FinishedAt: rfc3339Nano(s.finishedAt),
    },
    Image: st.imageId,
    ResolvConfPath: join(dir, "resolv.conf"),
    HostnamePath: join(dir, "hostname"),
    HostsPath: join(dir, "hosts"),
    LogPath: logPath(dir, st.id),
    Name: `/${st.name}`,
    RestartCount: 0,
    Driver: st.storage.driver,
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: dockerHostConfig(st, {
      Binds: binds.length ? binds.map((m) => `${m.source}:${m.destination}${m.readOnly ? ":ro" : ""}`) : null,
      LogConfig: { Type: "json-file", Config: {} },
      NetworkMode: net.networkModeOf(st),
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
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
    Mounts: binds.map((m) => ({
      Type: "bind",
      Source: m.source,
      Destination: m.destination,
      Mode: m.readOnly ? "ro" : "",
      RW: !m.readOnly,
      Propagation: "rprivate",
    })),
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
      Volumes: null,
      WorkingDir: st.config.cwd === "/" ? "" : st.config.cwd,
      Entrypoint: st.config.entrypoint ?? null,
      OnBuild: null,
      Labels: {},
      // As Docker: only when set (the run flag as typed, or the image's), never the default.
      ...configStopSettings(engine, st),
    },
    // As Docker shows it for the container's mode (network/inspect.ts).
    NetworkSettings: { ...net.networkSettings(engine, st, running, s.pid), Ports: networkPorts(engine, st) },
  };
}
