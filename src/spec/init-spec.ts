// What the CLI hands to the container's init: everything init needs to build the container,
// with no further lookups on the host once namespaces are entered.

export interface MountSpec {
  source: string;
  destination: string;
  readOnly: boolean;
  /** "bind" for volumes, "tmpfs" for --tmpfs. */
  type: "bind" | "tmpfs";
  options?: string;
}

export interface RootfsSpec {
  driver: "overlay" | "aufs" | "vfs";
  /** Where the root gets mounted on the host side of the new mount namespace. */
  target: string;
  /** Filesystem type, source and data for mount(2); vfs binds `source` onto target. */
  fstype: string;
  source: string;
  data: string;
  /** Directory to chdir into before mounting, so lowerdir paths can be short and relative. */
  cwd?: string;
}

export interface InitSpec {
  id: string;
  rootfs: RootfsSpec;
  readonlyRootfs: boolean;
  mounts: MountSpec[];
  /** Files written by the engine and bound over /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  etcFiles: { source: string; destination: string }[];
  hostname: string;
  /**
   * The network namespace (network/attach.ts): "new" (an empty one with lo up; the default),
   * "host" (stay in the host's), "prepared" (join the one whose path the watcher sends on fd 4
   * after the spec's path; "new" when it sends none), or a path to join (/proc/PID/ns/net).
   */
  netns?: string;
  /**
   * The command and environment. Bytes that are not UTF-8 travel as lone surrogates
   * U+DC80..U+DCFF (util/argbytes.ts; JSON keeps them as \udcXX): init execs argBytes(word).
   */
  args: string[];
  env: string[];
  cwd: string;
  user?: { uid: number; gid: number; additionalGids: number[] };
  userSpec?: string;
  /** --group-add: group names or gids, resolved in the container's /etc/group. */
  groupAdd?: string[];
  tty: boolean;
  /** cgroup directories (one per v1 hierarchy, or one on v2) init joins before exec. */
  cgroupProcs?: string[];
  cgroupVersion?: "v1" | "v2";
  capabilities?: number[];
  noNewPrivileges?: boolean;
  seccomp?: boolean;
  privileged?: boolean;
  maskedPaths?: string[];
  /** Network sysctls ("net.ipv4.x": value) written in the container's network namespace. */
  sysctls?: Record<string, string>;
  readonlyPaths?: string[];
  /** --runtime: another OCI runtime builds the container (container/oci-runtime.ts); `dir` holds its bundle and state. */
  runtime?: { name: string; path: string; dir: string };
}
