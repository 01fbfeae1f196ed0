// Docker's documents for networks: a container's NetworkSettings and HostConfig.NetworkMode,
// `network inspect`'s object and `network ls`'s row. Field names, order and types as
// Docker 25 prints them (IPv6 fields present and empty: minid's networks are IPv4 only).
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import type { Endpoint } from "./types.ts";
import type { NetworkRecord } from "./store.ts";
import { NetworkStore } from "./store.ts";

/** HostConfig.NetworkMode ("none" for records made before networking existed). */
export function networkModeOf(st: ContainerState): string {
  return st.network?.mode ?? "none";
}

function endpointDoc(net: NetworkRecord | undefined, ep: Endpoint | undefined, st: ContainerState, running: boolean) {
  const live = running && ep?.ipAddress;
  const user = net && !net.predefined;
  return {
    IPAMConfig: ep?.ipv4Address ? { IPv4Address: ep.ipv4Address } : null,
    Links: null,
    Aliases: ep?.aliases?.length ? ep.aliases : null,
    MacAddress: live ? ep!.macAddress ?? "" : "",
    DriverOpts: null,
    NetworkID: net?.id ?? "",
    EndpointID: live ? ep!.endpointId ?? "" : "",
    Gateway: live ? ep!.gateway ?? "" : "",
    IPAddress: live ? ep!.ipAddress ?? "" : "",
    IPPrefixLen: live ? ep!.prefixLen ?? 0 : 0,
    IPv6Gateway: "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    DNSNames: user ? [st.name, st.id.slice(0, 12), ...(ep?.aliases ?? [])] : null,
  };
}

/** NetworkSettings of a container (`running`: its process runs, so its endpoints are live). */
export function networkSettings(engine: Engine, st: ContainerState, running: boolean, pid: number): Record<string, unknown> {
  const store = new NetworkStore(engine.root);
  const all = st.network ? store.list() : [];
  const networks: Record<string, unknown> = {};
  const mode = networkModeOf(st);
  if (!st.network || mode === "none" || mode === "host") {
    const rec = all.find((n) => n.name === mode);
    networks[mode] = endpointDoc(rec, undefined, st, false);
  }
  const { withRuntime } = require("./attach.ts") as typeof import("./attach.ts");
  const eps = running ? withRuntime(engine.root, st) : (st.network?.endpoints ?? []);
  for (const ep of eps) {
    const rec = all.find((n) => n.id === ep.networkId);
    networks[rec?.name ?? ep.networkName] = endpointDoc(rec, ep, st, running);
  }
  // The top-level fields describe the default bridge only (Docker's deprecated mirror of it).
  const dflt = eps.find((e) => all.find((n) => n.id === e.networkId)?.name === "bridge" && running && e.ipAddress);
  return {
    Bridge: "",
    SandboxID: running && pid && st.network ? st.id : "",
    SandboxKey: running && pid ? `/proc/${pid}/ns/net` : "",
    Ports: {},
    HairpinMode: false,
    LinkLocalIPv6Address: "",
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: dflt?.endpointId ?? "",
    Gateway: dflt?.gateway ?? "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: dflt?.ipAddress ?? "",
    IPPrefixLen: dflt?.prefixLen ?? 0,
    IPv6Gateway: "",
    MacAddress: dflt?.macAddress ?? "",
    Networks: networks,
  };
}

/** `network inspect`'s document. */
export function networkDoc(engine: Engine, net: NetworkRecord): Record<string, unknown> {
  const { isRunning } = require("../container/lifecycle.ts") as typeof import("../container/lifecycle.ts");
  const { withRuntime } = require("./attach.ts") as typeof import("./attach.ts");
  const containers: Record<string, unknown> = {};
  for (const c of engine.containers.list()) {
    if (!c.network?.endpoints.some((e) => e.networkId === net.id) || !isRunning(c)) continue;
    const ep = withRuntime(engine.root, c).find((e) => e.networkId === net.id);
    if (!ep?.ipAddress) continue;
    containers[c.id] = {
      Name: c.name,
      EndpointID: ep.endpointId ?? "",
      MacAddress: ep.macAddress ?? "",
      IPv4Address: `${ep.ipAddress}/${ep.prefixLen}`,
      IPv6Address: "",
    };
  }
  return {
    Name: net.name,
    Id: net.id,
    Created: net.created,
    Scope: "local",
    Driver: net.driver,
    EnableIPv6: false,
    IPAM: {
      Driver: "default",
      Options: net.predefined ? null : {},
      Config: net.subnet ? [{ Subnet: net.subnet, Gateway: net.gateway }] : [],
    },
    Internal: net.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: containers,
    Options: net.options,
    Labels: net.labels,
  };
}
