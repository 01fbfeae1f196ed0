// minid's init spec as a runtime-spec config.json, for `minid run --runtime runc|crun|PATH`:
// the container another OCI runtime builds is the one minid's init would (the same mounts,
// masks, capabilities, no_new_privs and seccomp deny list). minid's init has already made
// the UTS, IPC and network namespaces (hostname set, loopback up) and joined the cgroup:
// the config leaves those to be inherited and asks the runtime for PID and mount namespaces.
import type { InitSpec } from "./init-spec.ts";

export interface OciRuntimeChoice {
  /** What the user gave (--runtime): shown by inspect as HostConfig.Runtime. */
  name: string;
  /** The executable. */
  path: string;
}

export interface BundleOptions {
  /** The resolved user (the image's /etc/passwd read by the caller). */
  user: { uid: number; gid: number; additionalGids: number[] };
  env: string[];
  /** Capability names (CAP_…) the container holds. */
  capabilities?: string[];
  /** The seccomp profile (runtime-spec linux.seccomp) or none. */
  seccomp?: object;
  /** Absolute cgroupsPath (from the cgroup root) of the cgroup minid made, or none. */
  cgroupsPath?: string;
  /** Mount cgroupfs in the container (off when the runtime cannot see minid's hierarchy). */
  cgroupMount: boolean;
}

const ro = (on: boolean) => (on ? ["ro"] : []);

export function bundleConfig(spec: InitSpec, o: BundleOptions): object {
  const privileged = spec.privileged ?? false;
  const mounts: object[] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", ...ro(!privileged)] },
  ];
  if (o.cgroupMount) mounts.push({ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", ...ro(!privileged)] });
  for (const f of spec.etcFiles) mounts.push({ destination: f.destination, type: "bind", source: f.source, options: ["rbind", "rprivate"] });
  for (const m of spec.mounts) {
    if (m.type === "tmpfs") {
      // Docker's defaults first; the user's words after them win (tmpfs-options.ts rules).
      mounts.push({ destination: m.destination, type: "tmpfs", source: "tmpfs", options: ["noexec", "nosuid", "nodev", ...(m.options ?? "").split(",").filter(Boolean), ...ro(m.readOnly)] });
    } else {
      mounts.push({ destination: m.destination, type: "bind", source: m.source, options: ["rbind", "rprivate", ...ro(m.readOnly)] });
    }
  }
  const caps = o.capabilities;
  const namespaces: { type: string }[] = [{ type: "pid" }, { type: "mount" }];
  if (o.cgroupsPath && o.cgroupMount) namespaces.push({ type: "cgroup" });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: spec.tty,
      user: o.user,
      args: spec.args,
      env: o.env,
      cwd: spec.cwd,
      ...(caps ? { capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] } } : {}),
      noNewPrivileges: spec.noNewPrivileges ?? false,
    },
    root: { path: spec.rootfs.target, readonly: spec.readonlyRootfs },
    mounts,
    linux: {
      namespaces,
      ...(o.cgroupsPath ? { cgroupsPath: o.cgroupsPath } : {}),
      resources: { devices: [{ allow: privileged, access: "rwm" }] },
      ...(o.seccomp ? { seccomp: o.seccomp } : {}),
      maskedPaths: spec.maskedPaths ?? [],
      readonlyPaths: spec.readonlyPaths ?? [],
    },
    annotations: { "io.github.minid.container": spec.id },
  };
}
