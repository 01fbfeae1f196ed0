// The run/create flags of long-running services and of the process's surroundings: restart
// policy, --init, healthcheck, labels, ulimits, devices, sysctls, shm, namespaces shared with
// the host or another container, log driver, OOM score, pull policy, platform. Parsed and
// checked by container/service-options.ts before anything exists.
import { list, str, type CmdArgs } from "./argv.ts";
import type { ServiceFlags } from "../container/service-options.ts";

const many = (description: string) => ({ type: "string", description, multiple: true }) as any;

export const SERVICE_FLAGS = {
  restart: { type: "string", description: "Restart policy to apply when a container exits: no, on-failure[:max-retries], always, unless-stopped (default \"no\")" },
  init: { type: "boolean", description: "Run an init inside the container that forwards signals and reaps processes" },
  "health-cmd": { type: "string", description: "Command to run to check health" },
  "health-interval": { type: "string", description: "Time between running the check (ms|s|m|h) (default 0s)" },
  "health-timeout": { type: "string", description: "Maximum time to allow one check to run (ms|s|m|h) (default 0s)" },
  "health-retries": { type: "string", description: "Consecutive failures needed to report unhealthy" },
  "health-start-period": { type: "string", description: "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)" },
  "no-healthcheck": { type: "boolean", description: "Disable any container-specified HEALTHCHECK" },
  label: { type: "string", alias: "l", description: "Set meta data on a container (repeatable)", multiple: true } as any,
  "label-file": many("Read in a line delimited file of labels (repeatable)"),
  ulimit: many("Ulimit options, e.g. nofile=1024:2048 (repeatable)"),
  device: many("Add a host device to the container: HOST[:CONTAINER[:rwm]] (repeatable)"),
  "device-cgroup-rule": many("Add a rule to the cgroup allowed devices list, e.g. 'c 1:3 rwm' (repeatable)"),
  sysctl: many("Sysctl options (namespaced ones only), e.g. net.ipv4.ip_forward=1 (repeatable)"),
  "shm-size": { type: "string", description: "Size of /dev/shm (e.g. 64m; default 64m)" },
  ipc: { type: "string", description: "IPC mode to use: private (default), shareable, host, container:NAME" },
  pid: { type: "string", description: "PID namespace to use: host or container:NAME" },
  uts: { type: "string", description: "UTS namespace to use: host" },
  cidfile: { type: "string", description: "Write the container ID to the file" },
  attach: { type: "string", alias: "a", description: "Attach to STDIN, STDOUT or STDERR (repeatable)", multiple: true } as any,
  "log-driver": { type: "string", description: "Logging driver for the container: json-file (default), local, none" },
  "log-opt": many("Log driver options: max-size=10m, max-file=3 (repeatable)"),
  "oom-score-adj": { type: "string", description: "Tune host's OOM preferences (-1000 to 1000)" },
  pull: { type: "string", description: "Pull image before running: always, missing (default), never" },
  quiet: { type: "boolean", alias: "q", description: "Suppress the pull output" },
  platform: { type: "string", description: "Set platform if server is multi-platform capable (only linux/amd64 here)" },
} as const;

export function serviceOptions(a: CmdArgs): ServiceFlags {
  return {
    restart: str(a.restart),
    init: a.init === true,
    healthCmd: str(a["health-cmd"]),
    healthInterval: str(a["health-interval"]),
    healthTimeout: str(a["health-timeout"]),
    healthRetries: str(a["health-retries"]),
    healthStartPeriod: str(a["health-start-period"]),
    noHealthcheck: a["no-healthcheck"] === true,
    labels: list(a.label),
    labelFiles: list(a["label-file"]),
    ulimits: list(a.ulimit),
    devices: list(a.device),
    deviceCgroupRules: list(a["device-cgroup-rule"]),
    sysctls: list(a.sysctl),
    shmSize: str(a["shm-size"]),
    ipc: str(a.ipc),
    pid: str(a.pid),
    uts: str(a.uts),
    cidfile: str(a.cidfile),
    attach: list(a.attach),
    logDriver: str(a["log-driver"]),
    logOpts: list(a["log-opt"]),
    oomScoreAdj: str(a["oom-score-adj"]),
    pull: str(a.pull),
    quiet: a.quiet === true,
    platform: str(a.platform),
  };
}
