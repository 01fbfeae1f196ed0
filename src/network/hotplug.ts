// `network connect` and `network disconnect`: a container gains or loses an endpoint. A
// stopped container's record changes (the next start wires it); a running one is changed
// live: a new veth's container end is created directly in the container's namespace
// (/proc/PID/ns/net) as the next free ethN, addressed (and given the default route when it
// had none), or the veth of the endpoint is deleted (its peer inside goes with it). The
// container's /etc/hosts is rewritten in place so the running container sees it.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import type { Endpoint } from "./types.ts";
import { UserError } from "../util/errors.ts";
import { ensureDefaults } from "./networks.ts";
import { hostIfName } from "./attach.ts";
import { modeKind } from "./config.ts";

export interface ConnectOptions {
  ip?: string;
  aliases?: string[];
}

export function connectContainer(engine: Engine, netRef: string, ctrRef: string, o: ConnectOptions = {}): void {
  const store = ensureDefaults(engine);
  const net = store.get(netRef);
  const st0 = engine.containers.find(ctrRef);
  const { withContainerLock } = require("../container/locks.ts") as typeof import("../container/locks.ts");
  const { isRunning } = require("../container/lifecycle.ts") as typeof import("../container/lifecycle.ts");
  const { parseIPv4, parseCidr, cidrContains } = require("../util/ipv4.ts") as typeof import("../util/ipv4.ts");
  const done = withContainerLock(engine.containers, st0.id, () => {
    const st = engine.containers.load(st0.id)!;
    const kind = modeKind(st.network);
    if (net.driver === "host" || kind === "host") throw new UserError("container cannot be disconnected from host network or connected to host network");
    if (net.driver === "null" || kind === "none") throw new UserError("container cannot be connected to multiple networks with one of the networks in private (none) mode");
    if (kind === "container") throw new UserError("container sharing network namespace with another container or host cannot be connected to any other network");
    if (st.network!.endpoints.some((e) => e.networkId === net.id)) throw new UserError(`endpoint with name ${st.name} already exists in network ${net.name}`);
    if (o.ip !== undefined) {
      if (net.predefined) throw new UserError("user specified IP address is supported on user defined networks only");
      const n = parseIPv4(o.ip);
      if (n === undefined || !cidrContains(parseCidr(net.subnet!)!, n)) throw new UserError(`invalid IP address ${o.ip}: it is not in the subnet ${net.subnet} of network ${net.name}`);
    }
    if (o.aliases?.length && net.predefined) throw new UserError("network-scoped aliases are supported only for containers in user defined networks");
    const ep: Endpoint = { networkId: net.id, networkName: net.name, ...(o.ip ? { ipv4Address: o.ip } : {}), ...(o.aliases?.length ? { aliases: o.aliases } : {}) };
    if (isRunning(st)) plugIn(engine, st, ep);
    st.network!.endpoints.push(ep);
    engine.containers.save(st);
    writeHosts(engine, st);
    return true;
  });
  if (!done) throw new UserError(`No such container: ${ctrRef}`);
}

/** The live half of connect: IPAM, bridge, veth into the running container's namespace. */
function plugIn(engine: Engine, st: ContainerState, ep: Endpoint): void {
  const store = ensureDefaults(engine);
  const net = store.list().find((n) => n.id === ep.networkId)!;
  const { allocate, release } = require("./ipam.ts") as typeof import("./ipam.ts");
  const { ensureBridge } = require("./bridge.ts") as typeof import("./bridge.ts");
  const { Netlink } = require("../linux/netlink.ts") as typeof import("../linux/netlink.ts");
  const { openNetnsOf, inNetns } = require("../linux/netns.ts") as typeof import("../linux/netns.ts");
  const { close } = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  const { macForIPv4, parseIPv4, formatIPv4, broadcastOf, parseCidr } = require("../util/ipv4.ts") as typeof import("../util/ipv4.ts");
  const { withRuntime } = require("./attach.ts") as typeof import("./attach.ts");
  const used = new Set(withRuntime(engine.root, st).map((e) => e.ifName));
  let n = 0;
  while (used.has(`eth${n}`)) n++;
  const ifName = `eth${n}`;
  const hostIf = hostIfName(st.id, n);
  const nl = Netlink.open();
  const nsFd = openNetnsOf(st.state.pid);
  let inner: import("../linux/netlink.ts").Netlink | undefined;
  let made = false;
  try {
    const bridge = ensureBridge(net, nl);
    const a = allocate(store, net, st.id, ep.ipv4Address, 1);
    const mac = macForIPv4(parseIPv4(a.address)!);
    inner = inNetns(nsFd, () => Netlink.open());
    if (inner.linkByName(ifName)) throw new UserError(`the container already has an interface ${ifName}`);
    nl.deleteLink(hostIf);
    nl.createVeth(hostIf, { name: ifName, netnsFd: nsFd, mac }, { master: bridge, up: true });
    made = true;
    const link = inner.linkByName(ifName)!;
    inner.setUp(link.index);
    inner.addAddress(link.index, a.address, a.prefixLen, { broadcast: formatIPv4(broadcastOf(parseCidr(`${a.address}/${a.prefixLen}`, true)!)) });
    if (!net.internal && !inner.routes().some((r) => r.dstLen === 0 && r.table === 254)) inner.addRoute({ gateway: a.gateway, oif: link.index });
    const { endpointIdOf } = require("./attach.ts") as typeof import("./attach.ts");
    Object.assign(ep, {
      endpointId: endpointIdOf(st.id, net.id),
      ipAddress: a.address,
      prefixLen: a.prefixLen,
      gateway: net.internal ? "" : a.gateway,
      macAddress: mac,
      hostIf,
      ifName,
    });
  } catch (e) {
    if (made) nl.deleteLink(hostIf);
    release(store, st.id, [net.id]);
    throw e;
  } finally {
    inner?.close();
    close(nsFd);
    nl.close();
  }
}

export function disconnectContainer(engine: Engine, netRef: string, ctrRef: string, force = false): void {
  const store = ensureDefaults(engine);
  const net = store.find(netRef);
  const st0 = engine.containers.find(ctrRef);
  if (!net && !force) throw new UserError(`network ${netRef} not found`);
  const { withContainerLock } = require("../container/locks.ts") as typeof import("../container/locks.ts");
  withContainerLock(engine.containers, st0.id, () => {
    const st = engine.containers.load(st0.id)!;
    const kind = modeKind(st.network);
    if (kind === "host" || net?.driver === "host") throw new UserError("container cannot be disconnected from host network or connected to host network");
    const i = st.network?.endpoints.findIndex((e) => (net ? e.networkId === net.id : e.networkName === netRef)) ?? -1;
    if (i < 0) {
      if (force) return;
      throw new UserError(`container ${st.id} is not connected to network ${net?.name ?? netRef}`);
    }
    const ep = st.network!.endpoints[i]!;
    const { isRunning } = require("../container/lifecycle.ts") as typeof import("../container/lifecycle.ts");
    const { withRuntime } = require("./attach.ts") as typeof import("./attach.ts");
    const live = isRunning(st) ? withRuntime(engine.root, st)[i] : undefined;
    if (live?.hostIf) {
      const { Netlink } = require("../linux/netlink.ts") as typeof import("../linux/netlink.ts");
      const nl = Netlink.open();
      try {
        nl.deleteLink(live.hostIf);
      } finally {
        nl.close();
      }
    }
    // Published ports go through the first endpoint: leaving its network takes them away (as
    // Docker), or their rules would carry traffic to whoever gets the address next.
    if (live && i === 0 && st.ports) {
      const { dropStaleRules } = require("./container-ports.ts") as typeof import("./container-ports.ts");
      dropStaleRules(st, engine.containers.containerDir(st.id));
    }
    const { release } = require("./ipam.ts") as typeof import("./ipam.ts");
    release(store, st.id, [ep.networkId]);
    st.network!.endpoints.splice(i, 1);
    engine.containers.save(st);
    writeHosts(engine, st);
  });
}

function writeHosts(engine: Engine, st: ContainerState): void {
  const { writeHostsFile } = require("./config.ts") as typeof import("./config.ts");
  const { isRunning } = require("../container/lifecycle.ts") as typeof import("../container/lifecycle.ts");
  const { withRuntime } = require("./attach.ts") as typeof import("./attach.ts");
  const live = isRunning(st) ? { ...st, network: { ...st.network!, endpoints: withRuntime(engine.root, st) } } : st;
  writeHostsFile(engine, live, engine.containers.containerDir(st.id));
}
