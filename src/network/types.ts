// The network part of a container's record (state.json `network`), kept in a file that
// imports nothing, so the container store can name it without an import circle.

/** One attachment of a container to a bridge network (eth0, eth1, … in connection order). */
export interface Endpoint {
  networkId: string;
  /** The network's name when connected (Docker keys NetworkSettings.Networks by it). */
  networkName: string;
  /** --network-alias (resolved by the embedded DNS). */
  aliases?: string[];
  /** --ip: the address asked for (IPAMConfig.IPv4Address). */
  ipv4Address?: string;
  // While the container runs (cleared when it stops, as Docker clears them):
  endpointId?: string;
  ipAddress?: string;
  prefixLen?: number;
  gateway?: string;
  macAddress?: string;
  /** The veth's end on the host. */
  hostIf?: string;
  /** The interface inside the container (eth0, …). */
  ifName?: string;
}

export interface ContainerNetwork {
  /** HostConfig.NetworkMode: "bridge", "none", "host", "container:<id>" or a network's name. */
  mode: string;
  /** Bridge networks the container is attached to (empty for none, host and container:). */
  endpoints: Endpoint[];
  /** --add-host NAME:IP as given (IP may be host-gateway). */
  extraHosts: string[];
}
