// `features`: what this runtime implements, in the runtime-spec's features.md shape.
import type { Globals, Logger } from "./flags.ts";
import { writeOut } from "./flags.ts";
import { HOOK_NAMES } from "./config.ts";
import { ACTIONS, ARCHES, OPERATORS, FLAGS } from "../linux/seccomp-profile.ts";
import { CAP_NAMES, kernelLastCap } from "../linux/capabilities.ts";
import { existsSync } from "node:fs";

const MOUNT_OPTIONS = [
  "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "lazytime", "loud", "mand", "noatime", "nodev",
  "nodiratime", "noexec", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "rbind",
  "relatime", "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
  "suid", "sync", "unbindable",
  // Recursive (mount_setattr with AT_RECURSIVE) and idmapped (idmap.ts).
  "idmap", "ratime", "rdev", "rdiratime", "rexec", "ridmap", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
  "rnostrictatime", "rnosuid", "rnosymfollow", "rrelatime", "rro", "rrw", "rstrictatime", "rsuid", "rsymfollow",
].sort();

export default function features(_g: Globals, _log: Logger, _argv: string[]): number {
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  const out = {
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.2.0",
    hooks: [...HOOK_NAMES],
    mountOptions: MOUNT_OPTIONS,
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
      capabilities: CAP_NAMES.slice(0, kernelLastCap() + 1).map((c) => `CAP_${c}`),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      seccomp: { enabled: true, actions: ACTIONS, operators: OPERATORS, archs: ARCHES, knownFlags: Object.keys(FLAGS), supportedFlags: Object.keys(FLAGS) },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: true } },
    },
    annotations: { "org.opencontainers.runtime-spec.features.cgroup.host": v2 ? "v2" : "v1" },
  };
  writeOut(JSON.stringify(out, null, "    ") + "\n");
  return 0;
}
