// The watcher's part of published ports and the embedded DNS, one step of a container's start
// after its network is set up (network/attach.ts) and before init lets the command run, and
// one undo when it stops:
//   start: take the host ports (portmap.ts), install the DNAT rules, note what was taken
//          (ports.json, which port/ps/inspect read), serve DNS on each user network;
//   stop:  rules removed, ports.json gone, sockets closed (they would die with us anyway).
// `rm -f` after a killed watcher removes the rules from the id alone (dropStaleRules).
import { readFileSync } from "node:fs";
import type { ContainerState } from "../container/state.ts";
import { UserError } from "../util/errors.ts";
import { trace } from "../util/trace.ts";
import { wantedBindings } from "./ports.ts";
import type { Reservation } from "./portmap.ts";
import type { ClientView, NameBook, Resolver } from "./dns.ts";

export interface PortsAndDns {
  stop(): void;
}

/** Take the container's ports and serve its networks' DNS; a UserError leaves nothing behind. */
export async function startPortsAndDns(root: string, st: ContainerState, dir: string): Promise<PortsAndDns | undefined> {
  const { withRuntime } = await import("./attach.ts");
  const eps = withRuntime(root, st).filter((e) => e.ipAddress);
  const wanted = st.ports ? wantedBindings(st.ports) : [];
  const { NetworkStore } = await import("./store.ts");
  const nets = new NetworkStore(root);
  const userNets = eps.map((e) => ({ e, net: nets.list().find((n) => n.id === e.networkId) })).filter((x) => x.net && !x.net.predefined && x.net.gateway);
  if (!wanted.length && !userNets.length) return undefined;
  trace("ports start");
  // Only now: a container that publishes nothing and has no user network loads none of it.
  const { addPortRules, clearPublished, mayHaveRules, removePortRules, reservePorts, writePublished } = await import("./portmap.ts");

  let reservation: Reservation | undefined;
  const resolvers: Resolver[] = [];
  let rules = false;
  const stop = () => {
    trace("ports stop");
    for (const r of resolvers.splice(0)) r.close();
    let clean = true;
    if (rules) {
      try {
        removePortRules(st.id);
      } catch (e) {
        clean = false; // ports.json stays: rm -f or the next start removes the rules
        process.stderr.write(`minid watcher: ${(e as Error).message}\n`);
      }
      rules = false;
    }
    trace("ports rules removed");
    if (clean) clearPublished(dir);
    reservation?.release();
    trace("ports released");
    reservation = undefined;
  };
  try {
    if (wanted.length && eps.length) {
      const ep = eps[0]!;
      const net = nets.list().find((n) => n.id === ep.networkId);
      if (!net?.bridge || !net.subnet) throw new UserError(`network ${ep.networkName} has no bridge to publish ports through`);
      if (net.internal) throw new UserError(`ports cannot be published on the internal network ${net.name}: connect the container to another network or drop -p`);
      reservation = await reservePorts(st.ports!);
      trace("ports reserved");
      // ports.json first: while it exists, rules of this id may be on the host (see mayHaveRules).
      const fresh = !mayHaveRules(dir);
      writePublished(dir, reservation.published);
      rules = true;
      addPortRules(st.id, { ip: ep.ipAddress!, subnet: net.subnet, bridge: net.bridge, hostVeth: ep.hostIf }, reservation.published, fresh);
      trace("ports rules");
    }
    if (userNets.length) {
      const { serve } = await import("./dns.ts");
      trace("dns loaded");
      for (const { net } of userNets) {
        try {
          resolvers.push(await serve(net!.gateway!, 53, (client) => clientView(root, net!, client)));
          trace("dns serving");
        } catch (e) {
          // Another program holds port 53 on the gateway without sharing it: names of the
          // network do not resolve, everything else works.
          process.stderr.write(`minid watcher: no embedded DNS on ${net!.gateway}:53 (${(e as Error).message})\n`);
        }
      }
    }
  } catch (e) {
    stop();
    throw e;
  }
  return { stop };
}

function hostResolvers(): string[] {
  const { nameservers } = require("./dns.ts") as typeof import("./dns.ts");
  try {
    return nameservers(readFileSync("/etc/resolv.conf", "utf8"));
  } catch {
    return [];
  }
}

/**
 * A query from `client` on `net`: answered only for a running member of the network (by its
 * address), with the names of the network and that member's own upstreams (--dns, or the
 * host's resolvers).
 */
function clientView(root: string, net: { id: string; name: string }, client: string): ReturnType<ClientView> {
  const book = networkBook(root, net.id, net.name);
  const member = book.members.get(client);
  if (!member) return undefined;
  const { upstream } = require("./dns.ts") as typeof import("./dns.ts");
  const forward = upstream(member.dns?.upstream?.length ? member.dns.upstream : hostResolvers());
  // A member of several user networks (network connect) resolves the names of all of them.
  const others = (member.network?.endpoints ?? []).filter((e) => e.networkId !== net.id);
  if (!others.length) return { book, forward };
  const { NetworkStore } = require("./store.ts") as typeof import("./store.ts");
  const all = new NetworkStore(root).list();
  const books = [book, ...others.flatMap((e) => {
    const n = all.find((x) => x.id === e.networkId && !x.predefined);
    return n ? [networkBook(root, n.id, n.name)] : [];
  })];
  return {
    forward,
    book: {
      lookup: (name) => books.map((b) => b.lookup(name)).find((ips) => ips.length) ?? [],
      reverse: (ip) => books.map((b) => b.reverse(ip)).find(Boolean),
    },
  };
}

/** Who is on the network now, from the store: every running container with an address there. */
export function networkBook(root: string, networkId: string, networkName: string): NameBook & { members: Map<string, ContainerState> } {
  const { ContainerStore } = require("../container/state.ts") as typeof import("../container/state.ts");
  const { containerProc, isAlive } = require("../container/proc.ts") as typeof import("../container/proc.ts");
  const names = new Map<string, string[]>();
  const reverse = new Map<string, string>();
  const members = new Map<string, ContainerState>();
  const add = (n: string, ip: string) => {
    const k = n.toLowerCase();
    const l = names.get(k) ?? [];
    if (!l.includes(ip)) l.push(ip);
    names.set(k, l);
  };
  // The network's allocations say who has which address (ipam.ts); the records say their
  // names and aliases; only containers that run count.
  const { NetworkStore } = require("./store.ts") as typeof import("./store.ts");
  const containers = new ContainerStore(root);
  for (const [ip, id] of Object.entries(new NetworkStore(root).allocations(networkId))) {
    const c = containers.load(id);
    const ep = c?.network?.endpoints.find((e) => e.networkId === networkId);
    if (!c || !ep || !isAlive(containerProc(c))) continue;
    members.set(ip, c);
    if (c.name) add(c.name, ip);
    for (const a of ep.aliases ?? []) add(a, ip);
    add(c.id.slice(0, 12), ip);
    if (c.name) reverse.set(ip, `${c.name}.${networkName}`);
  }
  const suffix = `.${networkName.toLowerCase()}`;
  return {
    members,
    lookup: (name) => names.get(name) ?? (name.endsWith(suffix) ? (names.get(name.slice(0, -suffix.length)) ?? []) : []),
    reverse: (ip) => reverse.get(ip),
  };
}

/** What a killed watcher left of the container's ports (rm -f, the next start). */
export function dropStaleRules(st: ContainerState, dir?: string): void {
  if (!st.ports) return;
  const { clearPublished, removePortRules } = require("./portmap.ts") as typeof import("./portmap.ts");
  removePortRules(st.id, true);
  if (dir) clearPublished(dir);
}
