// The host side of a bridge network: the Linux bridge with the gateway address, IPv4
// forwarding, and the network's firewall rules; and picking a subnet nobody on the host uses.
// All of it under one host-wide lock, since bridges, routes and rules are shared by every
// minid store on the host (two stores choosing a subnet at once would otherwise pick the
// same one). A bridge vanishes at reboot; the next start that needs it makes it again
// (ensureBridge is idempotent and cheap when the bridge is there: one netlink request).
import { writeFileSync } from "node:fs";
import { Netlink } from "../linux/netlink.ts";
import { withLock } from "../util/fs.ts";
import { broadcastOf, cidrsOverlap, formatCidr, formatIPv4, parseCidr, type Cidr } from "../util/ipv4.ts";
import { UserError } from "../util/errors.ts";
import type { NetworkRecord } from "./store.ts";

const HOST_LOCK = "/run/lock/minid-network.lock";

export function withHostLock<T>(fn: () => T): T {
  return withLock(HOST_LOCK, fn);
}

/**
 * Docker's pools for bridge networks, in its order: 172.17–31.0.0/16, then 192.168.0.0/20
 * blocks. The first that overlaps no route of the host (and no other network of `taken`) wins.
 */
function* candidates(): Generator<Cidr> {
  for (let b = 17; b <= 31; b++) yield { base: ((172 << 24) | (b << 16)) >>> 0, prefix: 16 };
  for (let c = 0; c < 256; c += 16) yield { base: ((192 << 24) | (168 << 16) | (c << 8)) >>> 0, prefix: 20 };
}

/** The host's IPv4 routes as blocks (every table: a policy route counts as use too). */
function hostRouteBlocks(nl: Netlink): Cidr[] {
  return nl
    .routes()
    .filter((r) => r.dstLen > 0 && r.type === 1 /* unicast */)
    .map((r) => parseCidr(`${r.dst}/${r.dstLen}`, true)!)
    .filter(Boolean);
}

/** A free subnet; call under withHostLock so that the bridge holding it is made before anyone else looks. */
export function chooseSubnet(taken: string[]): Cidr {
  const nl = Netlink.open();
  try {
    const used = [...hostRouteBlocks(nl), ...taken.map((t) => parseCidr(t, true)!).filter(Boolean)];
    for (const c of candidates()) if (!used.some((u) => cidrsOverlap(u, c))) return c;
  } finally {
    nl.close();
  }
  throw new UserError("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
}

/** Whether `subnet` overlaps a route of the host that is not on `bridge` itself. */
export function overlapsHostRoutes(subnet: Cidr, bridge?: string): string | undefined {
  const nl = Netlink.open();
  try {
    const own = bridge ? nl.linkByName(bridge)?.index : undefined;
    for (const r of nl.routes()) {
      if (r.dstLen === 0 || r.type !== 1 || (own !== undefined && r.oif === own)) continue;
      const c = parseCidr(`${r.dst}/${r.dstLen}`, true);
      if (c && cidrsOverlap(c, subnet)) return formatCidr(c);
    }
    return undefined;
  } finally {
    nl.close();
  }
}

/**
 * The bridge of a network exists, is up, holds the gateway address, forwarding is on and the
 * network's rules are in place. Returns the bridge's interface index. Fast path (the bridge
 * is there): one request, no lock, no process.
 */
export function ensureBridge(net: NetworkRecord, nl?: Netlink): number {
  const own = nl ?? Netlink.open();
  try {
    const found = own.linkByName(net.bridge!);
    if (found && found.up) return found.index;
    return withHostLock(() => makeBridgeLocked(net, own));
  } finally {
    if (!nl) own.close();
  }
}

/** ensureBridge's work, for a caller that holds the host lock (flock would wait on itself). */
export function makeBridgeLocked(net: NetworkRecord, given?: Netlink): number {
  const nl = given ?? Netlink.open();
  try {
    return makeBridge(net, nl);
  } finally {
    if (!given) nl.close();
  }
}

function makeBridge(net: NetworkRecord, nl: Netlink): number {
  const subnet = parseCidr(net.subnet!)!;
  let link = nl.linkByName(net.bridge!);
  // Another start made it while we waited for the lock.
  if (link?.up && nl.addresses().some((a) => a.index === link!.index && a.address === net.gateway)) return link.index;
  if (link && link.kind !== "bridge") throw new UserError(`cannot use ${net.bridge} for network ${net.name}: an interface of that name exists and is not a bridge`);
  if (!link) {
    const { macForIPv4, parseIPv4 } = require("../util/ipv4.ts") as typeof import("../util/ipv4.ts");
    // A fixed MAC: a bridge would otherwise take its ports' lowest one (and change with them).
    nl.createBridge(net.bridge!, { up: false, mac: macForIPv4(parseIPv4(net.gateway!)!) });
    link = nl.linkByName(net.bridge!)!;
  }
  const has = nl.addresses().some((a) => a.index === link!.index && a.address === net.gateway);
  if (!has) nl.addAddress(link.index, net.gateway!, subnet.prefix, { broadcast: formatIPv4(broadcastOf(subnet)) });
  nl.setUp(link.index, true);
  // Containers reach the outside through the host: the host must route for them (Docker sets it too).
  if (!net.internal) {
    try {
      writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    } catch {}
  }
  const { setRules, networkRules, networkTag } = require("./firewall.ts") as typeof import("./firewall.ts");
  setRules(networkTag(net.bridge!), networkRules(net.bridge!, net.subnet!, net.internal));
  return link.index;
}

/** Remove a network's bridge and rules; idempotent (what is already gone is fine). */
export function removeBridge(net: NetworkRecord): void {
  if (net.driver !== "bridge" || !net.bridge) return;
  withHostLock(() => removeBridgeLocked(net));
}

/** removeBridge for a caller holding the host lock. */
export function removeBridgeLocked(net: NetworkRecord): void {
  if (net.driver !== "bridge" || !net.bridge) return;
  const nl = Netlink.open();
  try {
    const link = nl.linkByName(net.bridge);
    // Only a bridge is ours to delete (a name clash with something else is left alone).
    if (link?.kind === "bridge") nl.deleteLink(link.index);
  } finally {
    nl.close();
  }
  const { removeRules, networkTag } = require("./firewall.ts") as typeof import("./firewall.ts");
  removeRules(networkTag(net.bridge));
}
