// Resource and security flags shared by the commands that create containers.
import { list, str, type CmdArgs } from "./argv.ts";
import type { ResourceFlags, SecurityFlags } from "../container/options.ts";
import type { PortAndDnsFlags } from "../network/options.ts";

export const RESOURCE_FLAGS = {
  memory: { type: "string", alias: "m", description: "Memory limit (e.g. 512m, 1g)" },
  "memory-swap": { type: "string", description: "Memory plus swap limit; -1 for unlimited swap" },
  cpus: { type: "string", description: "Number of CPUs (e.g. 0.5)" },
  "cpu-shares": { type: "string", alias: "c", description: "CPU shares (relative weight)" },
  "cpuset-cpus": { type: "string", description: "CPUs in which to allow execution (0-3, 0,1)" },
  "pids-limit": { type: "string", description: "Tune container pids limit (-1 for unlimited)" },
  "oom-kill-disable": { type: "boolean", description: "Disable OOM Killer (cgroup v1 only)" },
} as const;

export const SECURITY_FLAGS = {
  "cap-add": { type: "string", description: "Add Linux capabilities (repeatable)", multiple: true } as any,
  "cap-drop": { type: "string", description: "Drop Linux capabilities (repeatable)", multiple: true } as any,
  privileged: { type: "boolean", description: "Give extended privileges to this container" },
  "security-opt": { type: "string", description: "Security options: no-new-privileges[=true|false], seccomp=unconfined", multiple: true } as any,
  "group-add": { type: "string", description: "Add additional groups to join (repeatable)", multiple: true } as any,
} as const;

export function resourceOptions(a: CmdArgs): ResourceFlags {
  return {
    memory: str(a.memory),
    memorySwap: str(a["memory-swap"]),
    cpus: str(a.cpus),
    cpuShares: str(a["cpu-shares"]),
    cpusetCpus: str(a["cpuset-cpus"]),
    pidsLimit: str(a["pids-limit"]),
    oomKillDisable: Boolean(a["oom-kill-disable"]),
  };
}

export function securityOptions(a: CmdArgs): Partial<SecurityFlags> {
  return {
    capAdd: list(a["cap-add"]),
    capDrop: list(a["cap-drop"]),
    privileged: Boolean(a.privileged),
    securityOpt: list(a["security-opt"]),
    groupAdd: list(a["group-add"]),
  };
}

// ---- published ports and DNS (src/network/ports.ts, dns.ts) ----

export const PORT_FLAGS = {
  publish: { type: "string", alias: "p", description: "Publish a container's port(s) to the host: [IP:][HOSTPORT:]CTRPORT[/PROTO] (repeatable)", multiple: true } as any,
  "publish-all": { type: "boolean", alias: "P", description: "Publish all exposed ports to random ports" },
  expose: { type: "string", description: "Expose a port or a range of ports (repeatable)", multiple: true } as any,
  dns: { type: "string", description: "Set custom DNS servers (repeatable)", multiple: true } as any,
  "dns-search": { type: "string", description: "Set custom DNS search domains (repeatable)", multiple: true } as any,
  "dns-option": { type: "string", description: "Set DNS options (repeatable)", multiple: true } as any,
  "network-alias": { type: "string", description: "Add network-scoped alias for the container (repeatable)", multiple: true } as any,
} as const;

export function portOptions(a: CmdArgs): PortAndDnsFlags {
  return {
    publish: list(a.publish),
    publishAll: Boolean(a["publish-all"]),
    expose: list(a.expose),
    dns: list(a.dns),
    dnsSearch: list(a["dns-search"]),
    dnsOptions: list(a["dns-option"]),
  };
}
