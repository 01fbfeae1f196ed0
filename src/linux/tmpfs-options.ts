// Options of a tmpfs mount (`--tmpfs /x:size=1m,exec`, `--mount type=tmpfs,...`) the way
// mount(8) and Docker read them: words that name mount flags become mount(2) flags, the rest is
// the filesystem's data string. Handing the whole string to the kernel as data fails with
// EINVAL as soon as it holds a flag word such as `exec`.
import { UserError, quote } from "../util/errors.ts";

// mount(2) flag bits (linux/mount.h); kernel ABI, the same on every architecture.
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOATIME: 1024,
  NODIRATIME: 2048,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

const ATIME = MS.NOATIME | MS.RELATIME | MS.STRICTATIME;

/** word → [bits to clear, bits to set]. */
const FLAG_WORDS: Record<string, [number, number]> = {
  // Docker treats "defaults" as a no-op, so it does not undo its own noexec,nosuid,nodev.
  defaults: [0, 0],
  ro: [0, MS.RDONLY],
  rw: [MS.RDONLY, 0],
  suid: [MS.NOSUID, 0],
  nosuid: [0, MS.NOSUID],
  dev: [MS.NODEV, 0],
  nodev: [0, MS.NODEV],
  exec: [MS.NOEXEC, 0],
  noexec: [0, MS.NOEXEC],
  sync: [0, MS.SYNCHRONOUS],
  async: [MS.SYNCHRONOUS, 0],
  dirsync: [0, MS.DIRSYNC],
  mand: [0, MS.MANDLOCK],
  nomand: [MS.MANDLOCK, 0],
  // The atime policies exclude each other: naming one replaces the others.
  atime: [MS.NOATIME, 0],
  noatime: [ATIME, MS.NOATIME],
  relatime: [ATIME, MS.RELATIME],
  norelatime: [MS.RELATIME, 0],
  strictatime: [ATIME, MS.STRICTATIME],
  nostrictatime: [MS.STRICTATIME, 0],
  diratime: [MS.NODIRATIME, 0],
  nodiratime: [0, MS.NODIRATIME],
  lazytime: [0, MS.LAZYTIME],
  nolazytime: [MS.LAZYTIME, 0],
};

/** Docker's flags for a --tmpfs mount before the user's options are applied. */
export const DEFAULT_TMPFS_FLAGS = MS.NOEXEC | MS.NOSUID | MS.NODEV;

// tmpfs(5) data options, each with the shape of its value (null: a bare word).
const NUM = /^\d+[kmgtpe]?$/i;
const DATA_KEYS: Record<string, RegExp | null> = {
  size: /^\d+[kmgtpe%]?$/i,
  nr_blocks: NUM,
  nr_inodes: NUM,
  mode: /^[0-7]{1,4}$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
  huge: /^(never|always|within_size|advise|deny|force)$/,
  mpol: /^(default|prefer|bind|interleave|local)(:[\d,-]+)?$/,
  inode32: null,
  inode64: null,
  noswap: null,
  quota: null,
  usrquota: null,
  grpquota: null,
  usrquota_block_hardlimit: NUM,
  usrquota_inode_hardlimit: NUM,
  grpquota_block_hardlimit: NUM,
  grpquota_inode_hardlimit: NUM,
};

// Propagation words are valid for Docker's bind mounts but refused for tmpfs, as Docker does.
const PROPAGATION = new Set(["shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable"]);

export interface TmpfsMountOptions {
  /** mount(2) flags, starting from Docker's noexec,nosuid,nodev. */
  flags: number;
  /** The data string for tmpfs: key=value options, the last of each key kept, in order. */
  data: string;
}

/**
 * Split a comma-separated tmpfs option string into flags and data. Later words override
 * earlier ones (`noexec,exec` is exec; `size=1m,size=2m` is 2m), as Docker merges them.
 * Throws a UserError naming the word for anything that is neither.
 */
export function parseTmpfsOptions(options: string | undefined, what = "tmpfs"): TmpfsMountOptions {
  let flags: number = DEFAULT_TMPFS_FLAGS;
  const data = new Map<string, string | null>();
  for (const word of (options ?? "").split(",")) {
    if (!word) continue;
    const eq = word.indexOf("=");
    const key = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? null : word.slice(eq + 1);
    const flag = FLAG_WORDS[key];
    if (flag && value === null) {
      flags = (flags & ~flag[0]) | flag[1];
      continue;
    }
    if (PROPAGATION.has(key)) throw new UserError(`invalid ${what} option ${quote(word)}: mount propagation does not apply to tmpfs`);
    if (!(key in DATA_KEYS)) throw new UserError(`invalid ${what} option ${quote(word)}: not a mount flag or tmpfs option`);
    const shape = DATA_KEYS[key]!;
    if (shape === null ? value !== null : value === null || !shape.test(value)) {
      throw new UserError(`invalid ${what} option ${quote(word)}: bad value for ${key}`);
    }
    data.delete(key); // the last one wins, in its own position
    data.set(key, value);
  }
  return { flags, data: [...data].map(([k, v]) => (v === null ? k : `${k}=${v}`)).join(",") };
}
