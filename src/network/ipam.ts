// Address allocation on a bridge network, under the network store's lock: one address per
// container per network, the lowest free one above the gateway unless the user asked for one
// (--ip). Allocations are keyed by container id and given back when the container stops
// (as Docker does) or is removed. Whatever a crash left (an allocation whose container no
// longer runs) is reclaimed by the next allocation on that network, so no address leaks.
import type { NetworkRecord, NetworkStore } from "./store.ts";
import { ContainerStore } from "../container/state.ts";
import { containerProc, isAlive } from "../container/proc.ts";
import { broadcastOf, cidrContains, formatIPv4, parseCidr, parseIPv4 } from "../util/ipv4.ts";
import { UserError } from "../util/errors.ts";

export interface Allocation {
  address: string;
  prefixLen: number;
  gateway: string;
}

/** Whether the container holding an allocation still runs (its netns holds the address). */
function holderLives(containers: ContainerStore, id: string, self: string): boolean {
  if (id === self) return true;
  const st = containers.load(id);
  return Boolean(st && isAlive(containerProc(st)));
}

/**
 * An address for `containerId` on `net` (its existing one if it has one). `requested` (--ip)
 * must lie inside the subnet and be free; otherwise a UserError (exit `exitCode`).
 */
export function allocate(store: NetworkStore, net: NetworkRecord, containerId: string, requested?: string, exitCode = 125): Allocation {
  const subnet = parseCidr(net.subnet!)!;
  const gw = parseIPv4(net.gateway!)!;
  return store.locked(() => {
    const containers = new ContainerStore(store.root);
    const all = store.allocations(net.id);
    let changed = false;
    for (const [ip, owner] of Object.entries(all)) {
      if (owner === containerId || !holderLives(containers, owner, containerId)) {
        delete all[ip];
        changed = true;
      }
    }
    let pick: number | undefined;
    if (requested !== undefined) {
      const n = parseIPv4(requested);
      if (n === undefined || !cidrContains(subnet, n)) {
        throw new UserError(`invalid IP address ${requested}: it is not in the subnet ${net.subnet} of network ${net.name}`, exitCode);
      }
      if (n === gw || n === subnet.base || n === broadcastOf(subnet)) {
        throw new UserError(`invalid IP address ${requested}: it is the ${n === gw ? "gateway" : n === subnet.base ? "network" : "broadcast"} address of network ${net.name}`, exitCode);
      }
      if (all[formatIPv4(n)]) throw new UserError(`Address already in use: ${requested} on network ${net.name}`, exitCode);
      pick = n;
    } else {
      const last = broadcastOf(subnet);
      for (let n = subnet.base + 1; n < last; n++) {
        if (n === gw || all[formatIPv4(n)]) continue;
        pick = n;
        break;
      }
      if (pick === undefined) throw new UserError(`no available IPv4 addresses on network ${net.name} (${net.subnet})`, exitCode);
    }
    all[formatIPv4(pick)] = containerId;
    changed = true;
    if (changed) store.saveAllocations(net.id, all);
    return { address: formatIPv4(pick), prefixLen: subnet.prefix, gateway: net.gateway! };
  });
}

/** Give back the container's addresses on the listed networks (every network when omitted). Idempotent. */
export function release(store: NetworkStore, containerId: string, networkIds?: string[]): void {
  store.locked(() => {
    for (const net of store.list()) {
      if (net.driver !== "bridge" || (networkIds && !networkIds.includes(net.id))) continue;
      const all = store.allocations(net.id);
      const mine = Object.keys(all).filter((ip) => all[ip] === containerId);
      if (!mine.length) continue;
      for (const ip of mine) delete all[ip];
      store.saveAllocations(net.id, all);
    }
  });
}
