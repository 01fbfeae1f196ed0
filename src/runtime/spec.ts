// `spec [--bundle DIR]`: a default config.json for a bundle whose rootfs is ./rootfs, with the
// same defaults runc's spec writes (sh on a terminal, the default capability set, masked and
// read-only paths), so `spec` → edit → `run` works as with runc.
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Globals, Logger } from "./flags.ts";
import { parseFlags, str } from "./flags.ts";
import { RuntimeError } from "./errors.ts";

const CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

export function defaultSpec(): object {
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS, ambient: CAPS },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "minid",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "cgroup" }],
      maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

export default function spec(_g: Globals, _log: Logger, argv: string[]): number {
  const { flags } = parseFlags(argv, { bool: ["rootless"], value: ["bundle"], alias: { b: "bundle" } }, "spec");
  if (flags.get("rootless")) throw new RuntimeError("--rootless is not supported: minid's runtime cannot make user namespaces");
  const file = join(resolve(str(flags, "bundle") ?? "."), "config.json");
  if (existsSync(file)) throw new RuntimeError("File config.json exists. Remove it first");
  writeFileSync(file, JSON.stringify(defaultSpec(), null, "\t") + "\n");
  return 0;
}
