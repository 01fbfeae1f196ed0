// The ports of a container as `port`, `ps` and `inspect` show them: while it runs, what its
// watcher took (ports.json); otherwise nothing, as Docker shows a stopped container.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import { observe } from "../container/lifecycle.ts";
import { UserError } from "../util/errors.ts";
import { networkPortsDoc, portLines, parsePortRange, type PublishedPort } from "./ports.ts";
import { readPublished } from "./portmap.ts";

function running(st: ContainerState): boolean {
  const s = observe(st).status;
  return s === "running" || s === "paused";
}

export function publishedOf(engine: Engine, st: ContainerState): PublishedPort[] {
  return running(st) ? readPublished(engine.containers.containerDir(st.id)) : [];
}

/** NetworkSettings.Ports: {} unless running on a bridge network; then every exposed port, null when unpublished. */
export function networkPorts(engine: Engine, st: ContainerState): Record<string, { HostIp: string; HostPort: string }[] | null> {
  if (!running(st)) return {};
  // Ports belong to a bridge endpoint: none, host and container: modes show none (as Docker).
  if (!st.network?.endpoints.length) return {};
  return networkPortsDoc(st.ports, publishedOf(engine, st));
}

/** `port NAME [PRIVATE_PORT[/PROTO]]`: its lines, or Docker's error for a port not published. */
export function portCommand(engine: Engine, st: ContainerState, spec?: string, ref = st.name): string[] {
  const doc = networkPorts(engine, st);
  if (spec === undefined) return portLines(doc);
  const [port, proto0] = spec.split("/", 2) as [string, string | undefined];
  const proto = proto0 || "tcp";
  const r = parsePortRange(port);
  if (!r || r[0] !== r[1]) throw new UserError(`Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: invalid syntax`, 1);
  const bs = doc[`${r[0]}/${proto}`];
  if (!bs?.length) throw new UserError(`Error: No public port '${port}/${proto}' published for ${ref}`, 1);
  const { naturalLess } = require("./ports.ts") as typeof import("./ports.ts");
  return bs.map((b) => `${b.HostIp.includes(":") ? `[${b.HostIp}]` : b.HostIp}:${b.HostPort}`).sort(naturalLess);
}

/**
 * ps --filter publish=PORT[/PROTO] | expose=…, ranges allowed, as the daemon matches them:
 * publish looks at NetworkSettings.Ports (so a running container's exposed ports count too),
 * expose at Config.ExposedPorts.
 */
export function portFilter(engine: Engine, kind: "publish" | "expose", value: string): (st: ContainerState) => boolean {
  const { splitProtoPort } = require("./ports.ts") as typeof import("./ports.ts");
  if (value.includes(":")) throw new UserError(`filter for '${kind}' should not contain ':': ${value}`);
  const [proto, port] = splitProtoPort(value);
  const r = parsePortRange(port);
  if (!r) throw new UserError(`error while looking up for ${kind} ${value}: invalid syntax`);
  const keys: string[] = [];
  for (let n = r[0]; n <= r[1]; n++) keys.push(`${n}/${proto}`);
  return (st) => {
    const have = kind === "publish" ? Object.keys(networkPorts(engine, st)) : (st.ports?.exposed ?? []);
    return keys.some((k) => have.includes(k));
  };
}
