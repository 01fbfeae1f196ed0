// The network flags of the commands that create containers (run; create when it exists).
import { list, str, type CmdArgs } from "./argv.ts";
import type { NetworkFlags } from "../network/config.ts";

export const NETWORK_FLAGS = {
  network: { type: "string", alias: "net", description: "Connect a container to a network: bridge (default), none, host, container:NAME|ID, or a network's name" },
  ip: { type: "string", description: "IPv4 address (e.g. 172.30.100.104) on a user-defined network" },
  "add-host": { type: "string", description: "Add a custom host-to-IP mapping (host:ip; ip may be host-gateway) (repeatable)", multiple: true } as any,
} as const;

export function networkOptions(a: CmdArgs): NetworkFlags {
  return { network: str(a.network), ip: str(a.ip), addHost: list(a["add-host"]) };
}
