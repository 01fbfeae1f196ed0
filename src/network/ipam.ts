// Address allocation on a bridge network, under the network store's lock: one address per
// container per network, the lowest free one above the gateway unless the user asked for one
// (--ip). Allocations are keyed by container id and given back when the container stops
// (as Docker does) or is removed. Whatever a crash left (an allocation whose container no
// longer runs) is reclaimed when that address is asked for or the pool runs out, by the
// container's own next start, or by its removal, so no address leaks.
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
    const all = store.allocations(net.id);
    for (const [ip, owner] of Object.entries(all)) if (owner === containerId) delete all[ip];
    // An address held by a container that no longer runs (its watcher was killed, the host
    // rebooted) is free: checked only for the address wanted, or when the pool looks full,
    // so a start does not read every other container's record.
    let containers: ContainerStore | undefined;
    const stale = (ip: string) => {
      containers ??= new ContainerStore(store.root);
      return !holderLives(containers, all[ip]!, containerId);
    };
    let pick: number | undefined;
    if (requested !== undefined) {
      const n = parseIPv4(requested);
      if (n === undefined || !cidrContains(subnet, n)) {
        throw new UserError(`invalid IP address ${requested}: it is not in the subnet ${net.subnet} of network ${net.name}`, exitCode);
      }
      if (n === gw || n === subnet.base || n === broadcastOf(subnet)) {
        throw new UserError(`invalid IP address ${requested}: it is the ${n === gw ? "gateway" : n === subnet.base ? "network" : "broadcast"} address of network ${net.name}`, exitCode);
      }
      const ip = formatIPv4(n);
      if (all[ip] && !stale(ip)) throw new UserError(`Address already in use: ${requested} on network ${net.name}`, exitCode);
      pick = n;
    } else {
      const last = broadcastOf(subnet);
      const free = (n: number) => n !== gw && !all[formatIPv4(n)];
      for (let n = subnet.base + 1; n < last && pick === undefined; n++) if (free(n)) pick = n;
      if (pick === undefined) {
        for (const ip of Object.keys(all)) if (stale(ip)) delete all[ip];
        for (let n = subnet.base + 1; n < last && pick === undefined; n++) if (free(n)) pick = n;
      }
      if (pick === undefined) throw new UserError(`no available IPv4 addresses on network ${net.name} (${net.subnet})`, exitCode);
    }
    all[formatIPv4(pick)] = containerId;
    store.saveAllocations(net.id, all);
    return { address: formatIPv4(pick), prefixLen: subnet.prefix, gateway: net.gateway! };
  });
}

/** The container's address on each bridge network it holds one on: networkId → address. */
export function addressesOf(store: NetworkStore, containerId: string, networkIds: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const id of networkIds) {
    const all = store.allocations(id);
    const ip = Object.keys(all).find((a) => all[a] === containerId);
    if (ip) out[id] = ip;
  }
  return out;
}

/** Give back the container's addresses on the listed networks (every network when omitted). Idempotent. */
export function release(store: NetworkStore, containerId: string, networkIds?: string[]): void {
  store.locked(() => {
    for (const id of networkIds ?? store.list().filter((n) => n.driver === "bridge").map((n) => n.id)) {
      const all = store.allocations(id);
      const mine = Object.keys(all).filter((ip) => all[ip] === containerId);
      if (!mine.length) continue;
      for (const ip of mine) delete all[ip];
      store.saveAllocations(id, all);
    }
  });
}
