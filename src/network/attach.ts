// A container's network across its life: one more step of its start and one more undo at
// its stop. The order (container/start.ts and the watcher, container/watcher-main.ts):
//   1. launch (CLI, networkSpecFor): the init spec says which network namespace init takes:
//      "new" (--network none: an empty one, only lo), "host" (stays in the host's), a path
//      (container:NAME: that container's /proc/PID/ns/net), or "prepared" (bridge networks:
//      the watcher sends a path on fd 4 after the spec's: a pre-warmed namespace's at once,
//      so init joins it and builds the container while this step runs; init runs the command
//      only on the watcher's go, after it);
//   2. the watcher, after recording "running" and before the go (setupNetwork; a watcher
//      pre-started by `run` has made the namespace and veth pair already, prewarmNetwork): per bridge
//      network an address from IPAM, the bridge made if missing; a new network namespace,
//      held by an fd; a veth pair with the container's end created directly in it (eth0,
//      eth1, …, MAC from the address, as Docker's), its host end on the bridge; inside: lo and
//      ethN up, the address, the default route via the first non-internal network's
//      gateway; the record's endpoints and /etc/hosts updated. init joins the namespace by
//      /proc/<watcher>/fd/N; the watcher then closes its fd (the container holds it now);
//   3. at the exit (teardownNetwork, by the watcher, and by `rm` for whatever a killed
//      watcher left): addresses back to IPAM, the endpoints' running fields cleared; the veth
//      pair goes with the namespace (see teardownNetwork). Everything is driven from the
//      record and idempotent; a start deletes a leftover veth of its own name first.
// A crash anywhere leaves nothing: until init has joined, the namespace lives only by the
// watcher's fd, so a dead watcher takes it and the veth pair with it (an init that joined
// early and waits for the go gets EOF instead and exits, with the namespace); an address whose
// holder no longer runs is reclaimed by the next allocation (ipam.ts).
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import type { InitSpec } from "../spec/init-spec.ts";
import type { Endpoint } from "./types.ts";
import { UserError } from "../util/errors.ts";
import { trace } from "../util/trace.ts";
import { modeKind } from "./config.ts";

/** The host end of a container's veth for its n-th endpoint: unique per container, ≤ 15 bytes. */
export function hostIfName(containerId: string, n: number): string {
  return `veth${containerId.slice(0, 10)}${n.toString(36)}`;
}

/** What init needs to know about the network namespace, decided at launch (CLI side). */
export function networkSpecFor(engine: Engine, st: ContainerState): Partial<InitSpec> {
  const kind = modeKind(st.network);
  // A namespace of the container's own has IPv6 off, as Docker's have without an IPv6
  // network (lo shows no ::1, eth0 no link-local address): minid's networks are IPv4 only.
  const { DEFAULT_SYSCTLS } = require("../container/options.ts") as typeof import("../container/options.ts");
  const own = { ...DEFAULT_SYSCTLS, "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1" };
  if (!st.network || kind === "none") return { netns: "new", sysctls: own };
  // Docker's default sysctls change the namespace they are written in: only a container's own.
  if (kind === "host") return { netns: "host", sysctls: {} };
  if (kind === "container") {
    const id = st.network.mode.slice("container:".length);
    const other = engine.containers.load(id);
    const { isRunning } = require("../container/lifecycle.ts") as typeof import("../container/lifecycle.ts");
    if (!other || !isRunning(other)) throw new UserError(`cannot join network of a non running container: ${other?.name || id.slice(0, 12)}`);
    const dir = engine.containers.containerDir(other.id);
    // Noted with the owner, so its stop finds its joiners without reading every record.
    try {
      const { mkdirSync, writeFileSync } = require("node:fs") as typeof import("node:fs");
      mkdirSync(join(dir, "joiners"), { recursive: true });
      writeFileSync(join(dir, "joiners", st.id), "");
    } catch {}
    return {
      sysctls: {},
      netns: `/proc/${other.state.pid}/ns/net`,
      hostname: other.config.hostname,
      etcFiles: ["hostname", "hosts", "resolv.conf"].map((f) => ({ source: join(dir, f), destination: `/etc/${f}` })),
    };
  }
  return { netns: st.network.endpoints.length ? "prepared" : "new", sysctls: own };
}

/**
 * What a pre-started watcher makes before it knows its container (while the CLI creates it):
 * the namespace with lo up, a socket in it and one on the host, and a veth pair whose
 * container end is already eth0 inside, its host end down under a temporary name. The start
 * then only renames it, puts it on the bridge and addresses it: the kernel's slowest work
 * (registering two devices) overlaps the creation. Unused, it costs nothing but closing: the
 * pair goes with the namespace.
 */
export interface WarmNetwork {
  nsFd: number;
  nl: import("../linux/netlink.ts").Netlink;
  inner: import("../linux/netlink.ts").Netlink;
  /** Index of the veth's host end (a temporary name) and its peer eth0 inside. */
  hostIndex: number;
  peerIndex: number;
  dispose(): void;
}

export function prewarmNetwork(): WarmNetwork | undefined {
  const { Netlink } = require("../linux/netlink.ts") as typeof import("../linux/netlink.ts");
  const { createNetns } = require("../linux/netns.ts") as typeof import("../linux/netns.ts");
  const { close } = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  let nl: import("../linux/netlink.ts").Netlink | undefined;
  let made: { nsFd: number; value: import("../linux/netlink.ts").Netlink } | undefined;
  try {
    nl = Netlink.open();
    made = createNetns(() => Netlink.open());
    const { nsFd, value: inner } = made;
    const tmp = `mntmp${process.pid.toString(36)}`;
    nl.createVeth(tmp, { name: "eth0", netnsFd: nsFd });
    const hostIndex = nl.linkByName(tmp)!.index;
    const peerIndex = inner.linkByName("eth0")!.index;
    inner.setUp(1);
    trace("net prewarmed");
    const host = nl;
    return {
      nsFd, nl: host, inner, hostIndex, peerIndex,
      dispose() {
        inner.close();
        host.close();
        try {
          close(nsFd);
        } catch {}
      },
    };
  } catch {
    made?.value.close();
    if (made) close(made.nsFd);
    nl?.close();
    return undefined; // the start makes everything itself
  }
}

export interface PreparedNetwork {
  /** What init opens to join the namespace. */
  path: string;
  /** Drop the watcher's hold (after init joined or died). */
  close(): void;
}

/**
 * Step 2 of the head comment, in the watcher. Returns undefined when the container has no
 * bridge endpoint (init makes or joins its namespace itself). On failure nothing is left:
 * the namespace fd is closed (the veths go with it), the addresses given back.
 */
export function setupNetwork(root: string, st: ContainerState, dir: string, warm?: WarmNetwork): PreparedNetwork | undefined {
  const eps = st.network?.endpoints ?? [];
  if (modeKind(st.network) !== "bridge" || !eps.length) {
    warm?.dispose();
    return undefined;
  }
  trace("net start");
  const { NetworkStore } = require("./store.ts") as typeof import("./store.ts");
  const { allocate, release } = require("./ipam.ts") as typeof import("./ipam.ts");
  const { ensureBridge } = require("./bridge.ts") as typeof import("./bridge.ts");
  const { Netlink } = require("../linux/netlink.ts") as typeof import("../linux/netlink.ts");
  const { createNetns } = require("../linux/netns.ts") as typeof import("../linux/netns.ts");
  const { close } = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  const { macForIPv4, parseIPv4, formatIPv4, broadcastOf, parseCidr } = require("../util/ipv4.ts") as typeof import("../util/ipv4.ts");
  const store = new NetworkStore(root);
  const nl = warm?.nl ?? Netlink.open();
  trace("net loaded");
  let nsFd = warm?.nsFd ?? -1;
  let inner: import("../linux/netlink.ts").Netlink | undefined = warm?.inner;
  try {
    const all = store.list();
    const nets = eps.map((e) => {
      const n = all.find((r) => r.id === e.networkId);
      if (!n) throw new UserError(`network ${e.networkName} not found: it was removed; disconnect the container from it (minid network disconnect ${e.networkName} ${st.name})`);
      return n;
    });
    const bridges = nets.map((n) => ensureBridge(n, nl));
    trace("net bridge");
    const addrs = nets.map((n, i) => allocate(store, n, st.id, eps[i]!.ipv4Address));
    trace("net ipam");
    if (!warm) ({ nsFd, value: inner } = createNetns(() => Netlink.open()));
    trace("net netns");
    const { NetlinkError } = require("../linux/netlink.ts") as typeof import("../linux/netlink.ts");
    let routed = false;
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i]!;
      const a = addrs[i]!;
      const ifName = `eth${i}`;
      const hostIf = hostIfName(st.id, i);
      const mac = macForIPv4(parseIPv4(a.address)!);
      const warmed = i === 0 && warm;
      const veth = () =>
        warmed
          ? nl.setLink(warm.hostIndex, { name: hostIf, master: bridges[i], up: true }, `cannot attach ${hostIf} to its bridge`)
          : nl.createVeth(hostIf, { name: ifName, netnsFd: nsFd, mac }, { master: bridges[i], up: true });
      try {
        veth();
      } catch (e) {
        // a leftover of a start that crashed while its namespace was still held: replace it
        if (!(e instanceof NetlinkError && e.code === "EEXIST")) throw e;
        nl.deleteLink(hostIf);
        veth();
      }
      const link = warmed ? { index: warm.peerIndex } : inner!.linkByName(ifName)!;
      const sub = parseCidr(`${a.address}/${a.prefixLen}`, true)!;
      const route: boolean = !routed && !nets[i]!.internal;
      inner!.batch(() => {
        if (i === 0 && !warm) inner!.setUp(1); // lo is always index 1 in a new namespace
        if (warmed) inner!.setLink(link.index, { mac, up: true }, `cannot set up ${ifName}`);
        else inner!.setUp(link.index);
        inner!.addAddress(link.index, a.address, a.prefixLen, { broadcast: formatIPv4(broadcastOf(sub)) });
        if (route) inner!.addRoute({ gateway: a.gateway, oif: link.index });
      });
      routed ||= route;
      Object.assign(ep, {
        endpointId: endpointIdOf(st.id, ep.networkId),
        ipAddress: a.address,
        prefixLen: a.prefixLen,
        gateway: nets[i]!.internal ? "" : a.gateway,
        macAddress: mac,
        hostIf,
        ifName,
      } satisfies Partial<Endpoint>);
    }
    trace("net veth");
    inner!.close();
    inner = undefined;
    const { writeInPlace, hostsOf } = require("./etc.ts") as typeof import("./etc.ts");
    writeInPlace(join(dir, "hosts"), hostsOf(st.network, st.config.hostname, () => all.find((n) => n.name === "bridge")?.gateway));
    const fd = nsFd;
    return {
      path: `/proc/${process.pid}/fd/${fd}`,
      close: () => {
        try {
          close(fd);
        } catch {}
      },
    };
  } catch (e) {
    inner?.close();
    if (nsFd >= 0) close(nsFd);
    for (let i = 0; i < eps.length; i++) {
      try {
        nl.deleteLink(hostIfName(st.id, i));
      } catch {}
    }
    try {
      release(store, st.id);
    } catch {}
    for (const ep of eps) clearRuntime(ep);
    throw e;
  } finally {
    nl.close();
  }
}

/** Docker's endpoint ids are 64 hex; ours is derived so that every reader agrees on it. */
export function endpointIdOf(containerId: string, networkId: string): string {
  const h = (s: string) => (Number(BigInt.asUintN(32, BigInt(Bun.hash(s)))) >>> 0).toString(16).padStart(8, "0");
  let out = "";
  for (let i = 0; out.length < 64; i++) out += h(`${containerId}/${networkId}/${i}`);
  return out.slice(0, 64);
}

const RUNTIME = ["endpointId", "ipAddress", "prefixLen", "gateway", "macAddress", "hostIf", "ifName"] as const;

/** Whether an endpoint in a record carries running fields (only hot-plugged ones are written). */
export function hasRuntime(ep: Endpoint): boolean {
  return RUNTIME.some((k) => ep[k] !== undefined);
}

function clearRuntime(ep: Endpoint): void {
  for (const k of RUNTIME) delete ep[k];
}

/** A copy of the endpoints without their running fields (what a record keeps). */
export function stripRuntime(eps: Endpoint[]): Endpoint[] {
  return eps.map((e) => {
    const c = { ...e };
    clearRuntime(c);
    return c;
  });
}

/**
 * The running fields of a running container's endpoints. Endpoints made at start are not
 * written back to the record (a start and a stop would cost a record write each): their
 * address comes from IPAM, everything else follows from it, the network and the position.
 * Hot-plugged endpoints carry their interface names in the record.
 */
export function withRuntime(root: string, st: ContainerState): Endpoint[] {
  const eps = st.network?.endpoints ?? [];
  if (!eps.length) return [];
  const { NetworkStore } = require("./store.ts") as typeof import("./store.ts");
  const { addressesOf } = require("./ipam.ts") as typeof import("./ipam.ts");
  const { macForIPv4, parseIPv4, parseCidr } = require("../util/ipv4.ts") as typeof import("../util/ipv4.ts");
  const store = new NetworkStore(root);
  const nets = store.list();
  const addrs = addressesOf(store, st.id, eps.map((e) => e.networkId));
  return eps.map((ep, i) => {
    const ip = addrs[ep.networkId];
    const net = nets.find((n) => n.id === ep.networkId);
    if (!ip || !net?.subnet) return { ...ep };
    return {
      ...ep,
      endpointId: endpointIdOf(st.id, net.id),
      ipAddress: ip,
      prefixLen: parseCidr(net.subnet)!.prefix,
      gateway: net.internal ? "" : net.gateway,
      macAddress: macForIPv4(parseIPv4(ip)!),
      hostIf: ep.hostIf ?? hostIfName(st.id, i),
      ifName: ep.ifName ?? `eth${i}`,
    };
  });
}

/**
 * Step 3: the container is stopped (or being removed). Addresses go back and running fields
 * are cleared on `st`; returns whether `st` changed (the caller saves it when it keeps the
 * record). The veth pair goes with the namespace, by itself, once the container's last
 * process is gone: deleting it here would cost tens of milliseconds (the kernel waits for an
 * RCU grace period) on every stop. Only a namespace that lives on, because a running
 * container joined it (--network container:), has its veths deleted, as Docker takes the
 * interfaces away from a stopped container's joiners. Idempotent.
 */
export function teardownNetwork(root: string, st: ContainerState, dir?: string): boolean {
  const eps = st.network?.endpoints ?? [];
  if (!eps.length) return false;
  const { NetworkStore } = require("./store.ts") as typeof import("./store.ts");
  const { release } = require("./ipam.ts") as typeof import("./ipam.ts");
  if (hasRunningJoiner(root, st.id, dir)) deleteHostLinks(root, st);
  release(new NetworkStore(root), st.id, eps.map((e) => e.networkId));
  const changed = eps.some(hasRuntime);
  for (const ep of eps) clearRuntime(ep);
  return changed;
}

/** Delete the host ends of the container's veths that still exist (slow: see teardownNetwork). */
export function deleteHostLinks(root: string, st: ContainerState): void {
  const { Netlink } = require("../linux/netlink.ts") as typeof import("../linux/netlink.ts");
  const nl = Netlink.open();
  try {
    withRuntime(root, st).forEach((ep, i) => nl.deleteLink(ep.hostIf ?? hostIfName(st.id, i)));
  } finally {
    nl.close();
  }
}

/** `dir`: the container's directory when it is not where the store keeps it (a removal's tombstone). */
function hasRunningJoiner(root: string, id: string, dir?: string): boolean {
  const { ContainerStore } = require("../container/state.ts") as typeof import("../container/state.ts");
  const { containerProc, isAlive } = require("../container/proc.ts") as typeof import("../container/proc.ts");
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  const store = new ContainerStore(root);
  let names: string[];
  try {
    names = readdirSync(join(dir ?? store.containerDir(id), "joiners"));
  } catch {
    return false; // nobody ever joined
  }
  return names.some((j) => {
    const c = store.load(j);
    return c?.network?.mode === `container:${id}` && isAlive(containerProc(c));
  });
}
