// What the CLI hands to the container's init: everything init needs to build the container,
// with no further lookups on the host once namespaces are entered.

export interface MountSpec {
  source: string;
  destination: string;
  readOnly: boolean;
  /** "bind" for volumes, "tmpfs" for --tmpfs. */
  type: "bind" | "tmpfs";
  options?: string;
  /** A named or anonymous volume bound from `<root>/volumes/NAME/_data` (source). */
  volume?: string;
  /** The volume was made for this container alone (`-v /path`, the image's VOLUME). */
  anonymous?: boolean;
  /** Propagation of the bind inside the container (rprivate unless asked). */
  propagation?: "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave";
  /** How it was asked for, for inspect: the `-v` mode words, the flag, the spec as typed. */
  mode?: string;
  origin?: "volume-flag" | "mount-flag" | "tmpfs-flag" | "image" | "volumes-from";
  spec?: string;
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
  runtime?: { name: string; path: string; dir: string; resources?: import("../linux/cgroup-common.ts").CgroupLimits };
  /** --init, --ulimit, --device, --sysctl, --shm-size, --ipc/--uts, --oom-score-adj (container/run-options.ts). */
  runOptions?: InitRunOptions;
  /** --ipc/--uts container:NAME: the namespace files to join instead of making new ones. */
  joinNamespaces?: { ipc?: string; uts?: string };
}

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

export interface DeviceSpec {
  host: string;
  container: string;
  permissions: string;
  type: "c" | "b";
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

export type NamespaceMode = { host: true } | { container: string };

/** What init applies beyond root and confinement (the container keeps the same in its record). */
export interface InitRunOptions {
  init?: boolean;
  ulimits?: Ulimit[];
  devices?: DeviceSpec[];
  deviceCgroupRules?: string[];
  sysctls?: Record<string, string>;
  /** /dev/shm's size in bytes (default 64 MiB). */
  shmSize?: number;
  ipc?: NamespaceMode;
  pid?: NamespaceMode;
  uts?: NamespaceMode;
  oomScoreAdj?: number;
}
