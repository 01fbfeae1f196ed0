// Networks as the user manages them: the predefined three (made on first use), `network
// create`, `rm`, `prune`, and the checks Docker makes. The bridge interface of a user network
// is made at create (so its subnet shows in the host's routes and no other store picks it)
// and removed with it; the default bridge is made on first use and stays, as docker0 does.
import type { Engine } from "../engine.ts";
import { NetworkStore, NETWORK_NAME_RE, PREDEFINED, defaultBridgeName, type NetworkRecord } from "./store.ts";
import { UserError } from "../util/errors.ts";
import { cidrContains, cidrsOverlap, formatCidr, formatIPv4, parseCidr, parseIPv4, broadcastOf } from "../util/ipv4.ts";
import { DEFAULT_ROOT } from "../engine.ts";

export function networkStore(engine: Engine): NetworkStore {
  return new NetworkStore(engine.root);
}

/**
 * The predefined networks exist as records (bridge, host, none). The default bridge's subnet
 * is chosen now, under the host lock, avoiding the host's routes; its interface is made by
 * the first container that needs it (bridge.ts ensureBridge).
 */
export function ensureDefaults(engine: Engine): NetworkStore {
  const store = networkStore(engine);
  const have = store.list();
  if (PREDEFINED.every((n) => have.some((r) => r.name === n && r.predefined))) return store;
  store.locked(() => {
    const now = store.list();
    const has = (n: string) => now.some((r) => r.name === n);
    if (!has("bridge")) {
      const bridge = engine.bridge?.name || defaultBridgeName(engine.root, DEFAULT_ROOT);
      const { withHostLock, chooseSubnet, makeBridgeLocked } = require("./bridge.ts") as typeof import("./bridge.ts");
      let subnet = engine.bridge?.subnet;
      let gateway: string | undefined;
      if (subnet) {
        const c = parseCidr(subnet, true);
        if (!c || c.prefix > 30) throw new UserError(`invalid bridge subnet ${subnet}: give an IPv4 CIDR such as 172.17.0.0/16 (--bridge-subnet, MINID_BRIDGE_SUBNET)`);
        // A host address in it (172.17.0.1/16) names the gateway, as Docker's --bip does.
        const ip = parseIPv4(subnet.split("/")[0]!)!;
        gateway = ip !== c.base ? formatIPv4(ip) : formatIPv4(c.base + 1);
        subnet = formatCidr(c);
        withHostLock(() => makeBridgeLocked(save(subnet!, gateway!)));
      } else {
        withHostLock(() => {
          // Other stores' default bridges may not exist yet as interfaces: their records are
          // not visible here, so the host lock is held until our bridge exists.
          // A bridge of that name already there (the record was lost) keeps its subnet.
          const c = chooseSubnet([]);
          makeBridgeLocked(save(formatCidr(c), formatIPv4(c.base + 1)));
        });
      }
      function save(sub: string, gw: string): NetworkRecord {
        return store.create({
          name: "bridge", driver: "bridge", internal: false, labels: {}, predefined: true, bridge, subnet: sub, gateway: gw,
          options: {
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": bridge,
            "com.docker.network.driver.mtu": "1500",
          },
        });
      }
    }
    if (!has("host")) store.create({ name: "host", driver: "host", internal: false, labels: {}, options: {}, predefined: true });
    if (!has("none")) store.create({ name: "none", driver: "null", internal: false, labels: {}, options: {}, predefined: true });
  });
  return store;
}

export interface CreateNetworkOptions {
  name: string;
  driver?: string;
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  labels?: string[];
  options?: string[];
}

/** `network create`: the record and its bridge (with its rules). Returns the record. */
export function createNetwork(engine: Engine, o: CreateNetworkOptions): NetworkRecord {
  const driver = o.driver ?? "bridge";
  if (driver !== "bridge") throw new UserError(`plugin "${driver}" not found: minid supports the bridge driver`);
  if (!NETWORK_NAME_RE.test(o.name)) throw new UserError(`invalid network name "${o.name}": use letters, digits, '_', '.' and '-'`);
  if (PREDEFINED.includes(o.name)) throw new UserError(`operation is not permitted on predefined ${o.name} network `.trimEnd());
  const labels = keyValues(o.labels ?? [], "label");
  const options = keyValues(o.options ?? [], "opt");
  let sub: ReturnType<typeof parseCidr>;
  if (o.subnet !== undefined) {
    sub = parseCidr(o.subnet, true);
    if (!sub || sub.prefix > 30) throw new UserError(`invalid subnet ${o.subnet}: give an IPv4 CIDR such as 10.10.0.0/24`);
    if (formatCidr(sub) !== o.subnet) throw new UserError(`invalid subnet ${o.subnet}: it should be ${formatCidr(sub)}`);
  }
  if (o.gateway !== undefined && o.subnet === undefined) throw new UserError("every ip-range or gateway must have a corresponding subnet");
  const store = ensureDefaults(engine);
  const { withHostLock, chooseSubnet, overlapsHostRoutes, makeBridgeLocked, removeBridgeLocked } = require("./bridge.ts") as typeof import("./bridge.ts");
  return store.locked(() => {
    if (store.list().some((n) => n.name === o.name)) throw new UserError(`network with name ${o.name} already exists`);
    return withHostLock(() => {
      const taken = store.list().filter((n) => n.subnet).map((n) => n.subnet!);
      let subnet = sub;
      if (subnet) {
        const clash = store.list().find((n) => n.subnet && cidrsOverlap(parseCidr(n.subnet)!, subnet!));
        if (clash) throw new UserError(`invalid pool request: Pool overlaps with other one on this address space (network ${clash.name}, ${clash.subnet})`);
        const route = overlapsHostRoutes(subnet);
        if (route) throw new UserError(`invalid pool request: ${formatCidr(subnet)} overlaps with the host's route to ${route}`);
      } else subnet = chooseSubnet(taken);
      let gateway = formatIPv4(subnet.base + 1);
      if (o.gateway !== undefined) {
        const g = parseIPv4(o.gateway);
        if (g === undefined) throw new UserError(`invalid gateway address ${o.gateway}: give an IPv4 address`);
        if (!cidrContains(subnet, g) || g === subnet.base || g === broadcastOf(subnet)) {
          throw new UserError(`invalid gateway address ${o.gateway}: it is not a host address of the subnet ${formatCidr(subnet)}`);
        }
        gateway = o.gateway;
      }
      const { newId } = require("../util/ids.ts") as typeof import("../util/ids.ts");
      const id = newId();
      const bridge = options["com.docker.network.bridge.name"] || `mnbr-${id.slice(0, 10)}`;
      if (bridge.length > 15) throw new UserError(`invalid bridge name ${bridge}: at most 15 characters`);
      const rec = store.create({
        id, name: o.name, driver: "bridge", internal: Boolean(o.internal), labels, options, subnet: formatCidr(subnet), gateway, bridge,
        userSubnet: o.subnet !== undefined,
      });
      try {
        makeBridgeLocked(rec);
      } catch (e) {
        store.delete(rec.id);
        try {
          removeBridgeLocked(rec);
        } catch {}
        throw e;
      }
      return rec;
    });
  });
}

function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf("=");
    if (i === 0) throw new UserError(`invalid ${what} "${kv}": a key is required`);
    out[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? "" : kv.slice(i + 1);
  }
  return out;
}

/** Containers with a live endpoint on the network (running ones), as names. */
export function activeEndpoints(engine: Engine, net: NetworkRecord): string[] {
  const { isRunning } = require("../container/lifecycle.ts") as typeof import("../container/lifecycle.ts");
  return engine.containers
    .list()
    .filter((c) => c.network?.endpoints.some((e) => e.networkId === net.id) && isRunning(c))
    .map((c) => c.name);
}

/** `network rm`: refused for predefined networks and networks with running containers. */
export function removeNetwork(engine: Engine, ref: string): NetworkRecord {
  const store = networkStore(engine);
  const { removeBridge } = require("./bridge.ts") as typeof import("./bridge.ts");
  return store.locked(() => {
    const net = store.get(ref);
    if (net.predefined) throw new UserError(`${net.name} is a pre-defined network and cannot be removed`);
    const busy = activeEndpoints(engine, net);
    if (busy.length) {
      throw new UserError(`error while removing network: network ${net.name} id ${net.id} has active endpoints (${busy.join(", ")}): stop or disconnect them first`);
    }
    removeBridge(net);
    store.delete(net.id);
    return net;
  });
}

/** `network prune`: every user network no running container uses. */
export function pruneNetworks(engine: Engine, filter: (n: NetworkRecord) => boolean = () => true): NetworkRecord[] {
  const store = networkStore(engine);
  const gone: NetworkRecord[] = [];
  for (const net of store.list()) {
    if (net.predefined || !filter(net) || activeEndpoints(engine, net).length) continue;
    try {
      removeNetwork(engine, net.id);
      gone.push(net);
    } catch {}
  }
  return gone;
}

/**
 * Everything a store put on the host: every network's bridge and firewall rules, the
 * default one's included (what `rm -rf` of a root would otherwise leave). The records stay;
 * the next start makes the bridges again. For tests and for uninstalling.
 */
export function removeHostNetworking(root: string): void {
  const store = new NetworkStore(root);
  const { removeBridge } = require("./bridge.ts") as typeof import("./bridge.ts");
  for (const net of store.list()) removeBridge(net);
}
