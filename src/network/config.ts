// `run`/`create`'s network flags, checked before anything exists: --network (alias --net:
// bridge (the default), none, host, container:NAME|ID, or a network's name or id), --ip,
// --add-host, with Docker's conflicts and words. Produces the record's `network` part
// (types.ts) plus what else the mode decides (the hostname in host and container: modes),
// and writes the container's /etc files for its mode.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import type { ContainerNetwork } from "./types.ts";
import { UserError } from "../util/errors.ts";
import { parseIPv4, parseCidr, cidrContains } from "../util/ipv4.ts";
import { parseExtraHost, resolvConfFor, hostsOf } from "./etc.ts";

export interface NetworkFlags {
  network?: string;
  ip?: string;
  addHost?: string[];
  hostname?: string;
  aliases?: string[];
}

export interface ResolvedNetwork {
  config: ContainerNetwork;
  /** The hostname the mode implies when --hostname is not given. */
  hostname?: string;
}

export function resolveNetworkFlags(engine: Engine, f: NetworkFlags): ResolvedNetwork {
  const mode = f.network || "bridge";
  const extraHosts = f.addHost ?? [];
  for (const h of extraHosts) {
    if (!parseExtraHost(h)) throw new UserError(`invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`);
  }
  if (f.ip !== undefined && parseIPv4(f.ip) === undefined) throw new UserError(`invalid argument "${f.ip}" for "--ip" flag: invalid IPv4 address: ${f.ip}`);
  if (mode.startsWith("container:")) {
    const ref = mode.slice("container:".length);
    if (f.hostname !== undefined) throw new UserError("conflicting options: hostname and the network mode");
    if (extraHosts.length) throw new UserError("conflicting options: custom host-to-IP mapping and the network mode");
    if (f.ip !== undefined) throw new UserError("conflicting options: IP address and the network mode");
    const other = engine.containers.find(ref); // No such container: REF
    return { config: { mode: `container:${other.id}`, endpoints: [], extraHosts: [] }, hostname: other.config.hostname };
  }
  const { ensureDefaults } = require("./networks.ts") as typeof import("./networks.ts");
  const store = ensureDefaults(engine);
  const net = store.find(mode);
  if (!net) throw new UserError(`network ${mode} not found`);
  if (net.driver === "host" || net.driver === "null") {
    if (f.ip !== undefined) throw new UserError("user specified IP address is supported on user defined networks only");
    if (f.aliases?.length) throw new UserError("network-scoped aliases are supported only for containers in user defined networks");
    const { hostname } = require("node:os") as typeof import("node:os");
    return { config: { mode: net.name, endpoints: [], extraHosts }, hostname: net.driver === "host" ? hostname() : undefined };
  }
  if (f.ip !== undefined) {
    if (net.predefined) throw new UserError("user specified IP address is supported on user defined networks only");
    if (!cidrContains(parseCidr(net.subnet!)!, parseIPv4(f.ip)!)) {
      throw new UserError(`invalid IP address ${f.ip}: it is not in the subnet ${net.subnet} of network ${net.name}`);
    }
  }
  if (f.aliases?.length && net.predefined) throw new UserError("network-scoped aliases are supported only for containers in user defined networks");
  return {
    config: {
      mode: net.name,
      endpoints: [{ networkId: net.id, networkName: net.name, ...(f.ip ? { ipv4Address: f.ip } : {}), ...(f.aliases?.length ? { aliases: f.aliases } : {}) }],
      extraHosts,
    },
  };
}

/** The record's mode as one of the three kinds of /etc files. */
export function modeKind(net: ContainerNetwork | undefined): "bridge" | "host" | "none" | "container" {
  const m = net?.mode ?? "none";
  if (m === "host") return "host";
  if (m === "none") return "none";
  if (m.startsWith("container:")) return "container";
  return "bridge";
}

/**
 * The container's hosts and resolv.conf in its directory, for its mode and current addresses
 * (called at create, and by the watcher once addresses are known).
 */
export function writeEtcFiles(engine: Engine, st: ContainerState, dir: string): void {
  const kind = modeKind(st.network);
  if (kind === "container") return; // the joined container's own files are bound
  writeHostsFile(engine, st, dir);
  const { join } = require("node:path") as typeof import("node:path");
  const { writeInPlace } = require("./etc.ts") as typeof import("./etc.ts");
  // --dns* and, on a user network, the embedded DNS (network/resolvconf.ts, dns.ts)
  const { resolvConfOf } = require("./resolvconf.ts") as typeof import("./resolvconf.ts");
  writeInPlace(join(dir, "resolv.conf"), resolvConfOf(engine.root, st, resolvConfFor(kind === "bridge" ? "bridge" : kind)));
}

/** The container's hosts file alone (connect/disconnect change it; resolv.conf stays). */
export function writeHostsFile(engine: Engine, st: ContainerState, dir: string): void {
  const kind = modeKind(st.network);
  if (kind === "container") return;
  const { join } = require("node:path") as typeof import("node:path");
  const { writeInPlace } = require("./etc.ts") as typeof import("./etc.ts");
  const gateway = () => {
    const { networkStore } = require("./networks.ts") as typeof import("./networks.ts");
    return networkStore(engine).find("bridge")?.gateway;
  };
  let hosts = hostsOf(st.network, st.config.hostname, gateway);
  if (kind === "host") {
    const { readFileSync } = require("node:fs") as typeof import("node:fs");
    let own = "";
    try {
      own = readFileSync("/etc/hosts", "utf8");
    } catch {}
    const extra = hosts.split("\n").filter((l) => l && !/^(127\.0\.0\.1|::1|fe00::0|ff0[02]::|127\.0\.1\.1)/.test(l));
    hosts = own.replace(/\n*$/, "\n") + extra.map((l) => l + "\n").join("");
  }
  writeInPlace(join(dir, "hosts"), hosts);
}
