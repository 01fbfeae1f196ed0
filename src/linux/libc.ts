// The only dlopen in minid. Every libc call goes through here so that a failing call always
// becomes a SyscallError naming the call, the errno and the path it was about.
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import type { Stats } from "node:fs";

// node:fs on first use, not at load: loading it is ~1.5 ms, and the processes that spawn the
// next one first thing (run's CLI its watcher, the watcher init) need only FFI before that.
const fs = () => require("node:fs") as typeof import("node:fs");
import type { CapSets, FileStat, Syscalls } from "./syscalls.ts";

const { i32, i64, u32, u64, ptr: P } = FFIType;

const lib = dlopen("libc.so.6", {
  __errno_location: { args: [], returns: P },
  syscall: { args: [i64, i64, i64, i64, i64, i64], returns: i64 },
  unshare: { args: [i32], returns: i32 },
  setns: { args: [i32, i32], returns: i32 },
  mount: { args: [P, P, P, u64, P], returns: i32 },
  umount2: { args: [P, i32], returns: i32 },
  execve: { args: [P, P, P], returns: i32 },
  sethostname: { args: [P, u64], returns: i32 },
  chdir: { args: [P], returns: i32 },
  mkdirat: { args: [i32, P, u32], returns: i32 },
  mknodat: { args: [i32, P, u32, u64], returns: i32 },
  fchownat: { args: [i32, P, u32, u32, i32], returns: i32 },
  fchmodat: { args: [i32, P, u32, i32], returns: i32 },
  fchmod: { args: [i32, u32], returns: i32 },
  fchown: { args: [i32, u32, u32], returns: i32 },
  symlinkat: { args: [P, i32, P], returns: i32 },
  linkat: { args: [i32, P, i32, P, i32], returns: i32 },
  openat: { args: [i32, P, i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  utimensat: { args: [i32, P, P, i32], returns: i32 },
  lsetxattr: { args: [P, P, P, u64, i32], returns: i32 },
  lgetxattr: { args: [P, P, P, u64], returns: i64 },
  llistxattr: { args: [P, P, u64], returns: i64 },
  lremovexattr: { args: [P, P], returns: i32 },
  prctl: { args: [i32, u64, u64, u64, u64], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  ioctl: { args: [i32, u64, P], returns: i32 },
  kill: { args: [i32, i32], returns: i32 },
  setuid: { args: [u32], returns: i32 },
  setgid: { args: [u32], returns: i32 },
  setgroups: { args: [u64, P], returns: i32 },
  umask: { args: [u32], returns: u32 },
  isatty: { args: [i32], returns: i32 },
  tcgetattr: { args: [i32, P], returns: i32 },
  tcsetattr: { args: [i32, i32, P], returns: i32 },
  dup2: { args: [i32, i32], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  // sockets (netlink.ts)
  bind: { args: [i32, P, u32], returns: i32 },
  sendto: { args: [i32, P, u64, i32, P, u32], returns: i64 },
  recv: { args: [i32, P, u64, i32], returns: i64 },
  setsockopt: { args: [i32, i32, i32, P, u32], returns: i32 },
  strerror: { args: [i32], returns: FFIType.cstring },
  // --init's reaper (container/reaper.ts): posix_spawn is glibc's clone(CLONE_VM|CLONE_VFORK)
  // straight into execve, safe from a multithreaded process (unlike fork through FFI).
  posix_spawn: { args: [P, P, P, P, P, P], returns: i32 },
  posix_spawnattr_init: { args: [P], returns: i32 },
  posix_spawnattr_setflags: { args: [P, i32], returns: i32 },
  posix_spawnattr_setsigmask: { args: [P, P], returns: i32 },
  posix_spawnattr_setsigdefault: { args: [P], returns: i32 },
  posix_spawnattr_setpgroup: { args: [P, i32], returns: i32 },
  sigfillset: { args: [P], returns: i32 },
  sigemptyset: { args: [P], returns: i32 },
  waitpid: { args: [i32, P, i32], returns: i32 },
  tcsetpgrp: { args: [i32, i32], returns: i32 },
  setrlimit: { args: [i32, P], returns: i32 },
  getrlimit: { args: [i32, P], returns: i32 },
});
const c = lib.symbols;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
  9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 15: "ENOTBLK",
  16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
  23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE",
  30: "EROFS", 31: "EMLINK", 32: "EPIPE", 36: "ENAMETOOLONG", 38: "ENOSYS", 39: "ENOTEMPTY",
  34: "ERANGE", 40: "ELOOP", 61: "ENODATA", 71: "EPROTO", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT",
  98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 101: "ENETUNREACH", 105: "ENOBUFS", 110: "ETIMEDOUT",
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

export class SyscallError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly path?: string,
  ) {
    super(`${syscall}${path !== undefined ? ` ${path}` : ""}: ${errnoName(errno)}`);
    this.name = "SyscallError";
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

function errno(): number {
  const p = c.__errno_location();
  return p ? read.i32(p, 0) : 0;
}

function check(ret: number | bigint, name: string, path?: string): number {
  const n = Number(ret);
  if (n < 0) throw new SyscallError(name, errno(), path);
  return n;
}

/** NUL-terminated copy of a JS string; the caller keeps it alive for the call. */
export function cstr(s: string): Buffer {
  return Buffer.from(s + "\0");
}

function p(b: Buffer | Uint8Array | null): Pointer | null {
  return b ? ptr(b) : null;
}

// Namespace flags (linux/sched.h)
export const CLONE_FS = 0x200;
export const CLONE_NEWNS = 0x20000;
export const CLONE_NEWCGROUP = 0x2000000;
export const CLONE_NEWUTS = 0x4000000;
export const CLONE_NEWIPC = 0x8000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x80;
export const CLONE_NEWUSER = 0x10000000;

// Mount flags (linux/mount.h)
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
export const MS_STRICTATIME = 1 << 24;
export const MNT_DETACH = 2;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFREG = 0o100000;

const SYS_pivot_root = 155;
const SYS_openat2 = 437;
const SYS_close_range = 436;

export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

export function unshare(flags: number): void {
  check(c.unshare(flags), "unshare");
}

export function setns(fd: number, nstype: number, path?: string): void {
  check(c.setns(fd, nstype), "setns", path);
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  const s = source === null ? null : cstr(source);
  const t = cstr(target);
  const f = fstype === null ? null : cstr(fstype);
  const d = data === null ? null : cstr(data);
  check(c.mount(p(s), p(t), p(f), flags, p(d)), `mount${fstype ? `(${fstype})` : ""}`, target);
}

export function umount2(target: string, flags: number): void {
  const t = cstr(target);
  check(c.umount2(p(t), flags), "umount2", target);
}

export function pivotRoot(newRoot: string, putOld: string): void {
  const a = cstr(newRoot);
  const b = cstr(putOld);
  check(c.syscall(SYS_pivot_root, BigInt(ptr(a)), BigInt(ptr(b)), 0, 0, 0), "pivot_root", newRoot);
}

export function sethostname(name: string): void {
  const b = Buffer.from(name);
  check(c.sethostname(p(b), b.length), "sethostname", name);
}

export function chdir(path: string): void {
  const b = cstr(path);
  check(c.chdir(p(b)), "chdir", path);
}


export function mkdirat(dirfd: number, name: string, mode: number): void {
  fsat.mkdirat(dirfd, name, mode);
}

export function mknodat(dirfd: number, path: string, mode: number, dev: number): void {
  fsat.mknodat(dirfd, path, mode, BigInt(dev));
}

/** Linux makedev for the classic 12/20-bit split (all device numbers minid creates fit). */
export function makedev(major: number, minor: number): number {
  return (
    ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0
  );
}

export function lchown(path: string, uid: number, gid: number): void {
  fsat.fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}

export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
  fsat.fchownat(dirfd, path, uid, gid, flags);
}

export function fchmod(fd: number, mode: number, path?: string): void {
  check(c.fchmod(fd, mode), "fchmod", path);
}

export function fchown(fd: number, uid: number, gid: number, path?: string): void {
  check(c.fchown(fd, uid, gid), "fchown", path);
}

export function chmod(path: string, mode: number): void {
  fsat.fchmodat(AT_FDCWD, path, mode);
}

export function symlinkat(target: string, dirfd: number, linkpath: string): void {
  fsat.symlinkat(target, dirfd, linkpath);
}

export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return fsat.openat(dirfd, path, flags, mode);
}

/**
 * openat2(2): resolve `path` under `dirfd` with RESOLVE_* rules enforced by the kernel, so a
 * symlink planted in a rootfs can never lead out of it.
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  return fsat.openat2(dirfd, path, flags, resolve, mode);
}

export function close(fd: number): void {
  c.close(fd);
}

/** Set times with nanosecond precision without following a symlink (utimensat). */
export function lutimes(path: string, atimeNs: bigint, mtimeNs: bigint): void {
  fsat.utimensat(AT_FDCWD, path, atimeNs, mtimeNs, AT_SYMLINK_NOFOLLOW);
}

export function lsetxattr(path: string, name: string, value: Uint8Array): void {
  fsat.lsetxattr(path, name, value);
}

/** Value of an xattr, or null when it is absent or xattrs are unsupported. */
export function lgetxattr(path: string, name: string): Buffer | null {
  return fsat.lgetxattr(path, name);
}

export function llistxattr(path: string): string[] {
  return fsat.llistxattr(path);
}

export function lremovexattr(path: string, name: string): void {
  fsat.lremovexattr(path, name);
}

export const PR_SET_PDEATHSIG = 1;
export const PR_SET_DUMPABLE = 4;
export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_CAPBSET_DROP = 24;
export const PR_SET_CHILD_SUBREAPER = 36;

export function prctl(option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
  return check(c.prctl(option, arg2, arg3, arg4, arg5), "prctl");
}

export const PR_SET_SECCOMP = 22;
export const SECCOMP_MODE_FILTER = 2;

/** prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER) with `filter` as struct sock_filter[]. */
export function seccompFilter(filter: Uint8Array): void {
  const prog = Buffer.alloc(16); // struct sock_fprog { u16 len; pad; struct sock_filter *filter }
  prog.writeUInt16LE(filter.length / 8, 0);
  prog.writeBigUInt64LE(BigInt(ptr(filter)), 8);
  prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, Number(ptr(prog)));
  // Keep the filter referenced until the kernel has copied it.
  void filter;
}

// ---- sockets, for rtnetlink (netlink.ts builds and parses the messages) ----

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;

/** The C library's text for an errno ("File exists"). */
export function strerror(errnum: number): string {
  return String(c.strerror(errnum));
}

/** socket(2); the fd is close-on-exec. */
export function socket(domain: number, type: number, protocol: number): number {
  return check(c.socket(domain, type | SOCK_CLOEXEC, protocol), "socket");
}

export function bindSocket(fd: number, addr: Uint8Array): void {
  check(c.bind(fd, ptr(addr), addr.byteLength), "bind");
}

/** setsockopt(2) with an int value. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const v = new Int32Array([value]);
  check(c.setsockopt(fd, level, name, ptr(v), 4), "setsockopt");
}

/** sendto(2) of the whole buffer to `addr`; returns the bytes sent. EINTR is retried. */
export function sendTo(fd: number, data: Uint8Array, addr: Uint8Array): number {
  for (;;) {
    const n = Number(c.sendto(fd, ptr(data), data.byteLength, 0, ptr(addr), addr.byteLength));
    if (n >= 0) return n;
    const e = errno();
    if (e !== 4) throw new SyscallError("sendto", e);
  }
}

/** recv(2) into `buf`; returns the length (which may exceed buf's with MSG_TRUNC). EINTR is retried. */
export function recvInto(fd: number, buf: Uint8Array, flags = 0): number {
  for (;;) {
    const n = Number(c.recv(fd, ptr(buf), buf.byteLength, flags));
    if (n >= 0) return n;
    const e = errno();
    if (e !== 4) throw new SyscallError("recv", e);
  }
}

/** Mark every fd from `from` up close-on-exec, so no host fd reaches the container. */
export function closeRangeCloexec(from: number): void {
  const CLOSE_RANGE_CLOEXEC = 4;
  check(c.syscall(SYS_close_range, from, 0xffffffff, CLOSE_RANGE_CLOEXEC, 0, 0, 0), "close_range");
}

/** Bring a network interface up (SIOCGIFFLAGS/SIOCSIFFLAGS). */
export function interfaceUp(name: string): void {
  const fd = check(c.socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */ | 0o2000000, 0), "socket");
  try {
    const ifr = Buffer.alloc(40);
    ifr.write(name, 0, 15, "latin1");
    check(c.ioctl(fd, 0x8913, ptr(ifr)), "ioctl(SIOCGIFFLAGS)", name);
    ifr.writeInt16LE(ifr.readInt16LE(16) | 1 /* IFF_UP */, 16);
    check(c.ioctl(fd, 0x8914, ptr(ifr)), "ioctl(SIOCSIFFLAGS)", name);
  } finally {
    c.close(fd);
  }
}

export function kill(pid: number, sig: number): boolean {
  return c.kill(pid, sig) === 0;
}

export function setgroups(gids: number[]): void {
  const arr = new Uint32Array(gids.length || 1);
  arr.set(gids);
  check(c.setgroups(gids.length, ptr(arr)), "setgroups");
}

export function setgid(gid: number): void {
  check(c.setgid(gid), "setgid");
}

export function setuid(uid: number): void {
  check(c.setuid(uid), "setuid");
}

export function umask(mask: number): number {
  return c.umask(mask);
}

export function isatty(fd: number): boolean {
  return c.isatty(fd) === 1;
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2) on an open fd; blocks unless LOCK_NB. Returns false on EWOULDBLOCK with LOCK_NB. */
export function flock(fd: number, op: number, path?: string): boolean {
  if (c.flock(fd, op) === 0) return true;
  const e = errno();
  if (e === 11 && op & LOCK_NB) return false;
  throw new SyscallError("flock", e, path);
}


/**
 * execve(2). Replaces every thread of this process; returns only by throwing.
 * The argument buffers are kept referenced until the call returns.
 */
/** argv/envp words may be strings (UTF-8) or exact bytes. */
export function execve(path: string, argv: (string | Uint8Array)[], envp: (string | Uint8Array)[]): never {
  const pathBuf = cstr(path);
  const word = (w: string | Uint8Array) => (typeof w === "string" ? cstr(w) : Buffer.concat([w, Buffer.from([0])]));
  const argBufs = argv.map(word);
  const envBufs = envp.map(word);
  const argvArr = new BigUint64Array(argBufs.length + 1);
  argBufs.forEach((b, i) => (argvArr[i] = BigInt(ptr(b))));
  const envArr = new BigUint64Array(envBufs.length + 1);
  envBufs.forEach((b, i) => (envArr[i] = BigInt(ptr(b))));
  c.execve(ptr(pathBuf), ptr(argvArr), ptr(envArr));
  const e = errno();
  // Keep the buffers alive past the call.
  void [argBufs, envBufs];
  throw new SyscallError("execve", e, path);
}

const POSIX_SPAWN_SETPGROUP = 0x02;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;

/**
 * Start `path` as a child with every signal at its default and none blocked (Bun leaves
 * SIGPIPE and SIGXFSZ ignored, which would survive the exec), in its own process group
 * when `ownGroup`. Returns the pid.
 */
export function spawnChild(path: string | Uint8Array, argv: (string | Uint8Array)[], envp: (string | Uint8Array)[], ownGroup: boolean): number {
  const word = (w: string | Uint8Array) => (typeof w === "string" ? cstr(w) : Buffer.concat([w, Buffer.from([0])]));
  const pathBuf = word(path);
  const argBufs = argv.map(word);
  const envBufs = envp.map(word);
  const argvArr = new BigUint64Array(argBufs.length + 1);
  argBufs.forEach((b, i) => (argvArr[i] = BigInt(ptr(b))));
  const envArr = new BigUint64Array(envBufs.length + 1);
  envBufs.forEach((b, i) => (envArr[i] = BigInt(ptr(b))));
  const attr = Buffer.alloc(512);
  const all = Buffer.alloc(128);
  const none = Buffer.alloc(128);
  const pid = new Int32Array(1);
  c.posix_spawnattr_init(ptr(attr));
  c.sigfillset(ptr(all));
  c.sigemptyset(ptr(none));
  c.posix_spawnattr_setsigdefault(ptr(attr), ptr(all));
  c.posix_spawnattr_setsigmask(ptr(attr), ptr(none));
  let flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (ownGroup) {
    c.posix_spawnattr_setpgroup(ptr(attr), 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  c.posix_spawnattr_setflags(ptr(attr), flags);
  const r = c.posix_spawn(ptr(pid), ptr(pathBuf), null, ptr(attr), ptr(argvArr), ptr(envArr));
  void [argBufs, envBufs, pathBuf];
  if (r !== 0) throw new SyscallError("posix_spawn", r, typeof path === "string" ? path : undefined);
  return pid[0]!;
}

export const WNOHANG = 1;

/** waitpid(-1, WNOHANG): [pid, wait status], or undefined when no child has exited (or none is left). */
export function reapAny(): [number, number] | undefined {
  const status = new Int32Array(1);
  const pid = c.waitpid(-1, ptr(status), WNOHANG);
  return pid > 0 ? [pid, status[0]!] : undefined;
}

/** The calling thread's name (/proc/PID/comm for the main thread), at most 15 bytes. */
export function setThreadName(name: string): void {
  const b = cstr(name.slice(0, 15));
  // prctl(PR_SET_NAME, char *): the same symbol, given the pointer as a number.
  check(c.prctl(15 /* PR_SET_NAME */, BigInt(ptr(b)) as unknown as number, 0, 0, 0), "prctl(PR_SET_NAME)");
}

/** bpf(2) with `attr` (the caller lays it out); the result (an fd for PROG_LOAD), or a SyscallError. */
export function bpf(cmd: number, attr: Buffer, what: string, path?: string): number {
  return check(c.syscall(321 /* SYS_bpf */, cmd, BigInt(ptr(attr)), attr.length, 0, 0), what, path);
}

/** Make `pgrp` the terminal's foreground process group. */
export function setForeground(fd: number, pgrp: number): boolean {
  return c.tcsetpgrp(fd, pgrp) === 0;
}

/** setrlimit's resource numbers, by the names Docker's --ulimit uses. */
export const RLIMITS: Record<string, number> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9,
  locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
};

/** getrlimit(2): [soft, hard], -1 for unlimited. */
export function getRlimit(resource: number): [number, number] {
  const b = new BigUint64Array(2);
  check(c.getrlimit(resource, ptr(b)), "getrlimit");
  const n = (x: bigint) => (x === 0xffffffffffffffffn ? -1 : Number(x));
  return [n(b[0]!), n(b[1]!)];
}

// --- Capability sets (capget/capset). Added for src/linux/capabilities.ts. ---
// Raw syscalls rather than libcap: they act on the calling thread only, which is what the
// init wants (it execve()s from that same thread right after, making them process-wide).

const SYS_capget = 125;
export const SYS_capset = 126;
export const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

export type { CapSets };

/** The calling thread's capability sets (64-bit masks, bit n = capability n). */
export function capget(): CapSets {
  const hdr = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
  const data = new Uint32Array(6); // two {effective, permitted, inheritable} u32 triples
  check(c.syscall(SYS_capget, BigInt(ptr(hdr)), BigInt(ptr(data)), 0, 0, 0), "capget");
  const join = (lo: number, hi: number) => (BigInt(hi) << 32n) | BigInt(lo);
  return {
    effective: join(data[0]!, data[3]!),
    permitted: join(data[1]!, data[4]!),
    inheritable: join(data[2]!, data[5]!),
  };
}

/** Set the calling thread's capability sets (capset(2), version 3). */
export function capset(sets: CapSets): void {
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  const hdr = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
  const data = new Uint32Array([
    lo(sets.effective), lo(sets.permitted), lo(sets.inheritable),
    hi(sets.effective), hi(sets.permitted), hi(sets.inheritable),
  ]);
  check(c.syscall(SYS_capset, BigInt(ptr(hdr)), BigInt(ptr(data)), 0, 0, 0), "capset");
}

// ---- Byte-exact, dirfd-relative calls (used by the layer tar code in src/image/) ----
// Tar entry names are bytes, not necessarily UTF-8, and a layer must be applied without ever
// resolving a path through a symlink the caller did not vet. These take a path as a JS string
// (UTF-8) or as raw bytes, always relative to a directory fd.

const extra = dlopen("libc.so.6", {
  unlinkat: { args: [i32, P, i32], returns: i32 },
  fsetxattr: { args: [i32, P, P, u64, i32], returns: i32 },
  futimens: { args: [i32, P], returns: i32 },
}).symbols;

export type PathArg = string | Uint8Array;

export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;

function cpath(path: PathArg): Buffer {
  if (typeof path === "string") return cstr(path);
  const b = Buffer.allocUnsafe(path.length + 1);
  b.set(path);
  b[path.length] = 0;
  return b;
}

function showPath(path: PathArg): string {
  return typeof path === "string" ? path : Buffer.from(path).toString("utf8");
}

/** glibc's 64-bit makedev (majors and minors of any size). */
export function makedev64(major: number, minor: number): bigint {
  const M = BigInt(major >>> 0);
  const m = BigInt(minor >>> 0);
  return ((M & 0xfffff000n) << 32n) | ((M & 0xfffn) << 8n) | ((m & 0xffffff00n) << 12n) | (m & 0xffn);
}

/** The *at() family with byte-exact paths; every call throws SyscallError on failure. */
export const fsat = {
  openat(dirfd: number, path: PathArg, flags: number, mode = 0): number {
    const fd = c.openat(dirfd, ptr(cpath(path)), flags, mode);
    if (fd >= 0) return fd;
    // errno first: making the path printable (only for an error, as a tree walk opens every
    // file through here) allocates, and could overwrite it.
    const e = errno();
    throw new SyscallError("openat", e, showPath(path));
  },
  openat2(dirfd: number, path: PathArg, flags: number, resolve: number, mode = 0): number {
    const b = cpath(path);
    const how = new BigUint64Array([BigInt(flags), BigInt(mode), BigInt(resolve)]);
    return check(
      c.syscall(SYS_openat2, dirfd, BigInt(ptr(b)), BigInt(ptr(how)), how.byteLength, 0),
      "openat2",
      showPath(path),
    );
  },
  mkdirat(dirfd: number, path: PathArg, mode: number): void {
    check(c.mkdirat(dirfd, ptr(cpath(path)), mode), "mkdirat", showPath(path));
  },
  mknodat(dirfd: number, path: PathArg, mode: number, dev: bigint): void {
    check(c.mknodat(dirfd, ptr(cpath(path)), mode, dev), "mknodat", showPath(path));
  },
  symlinkat(target: PathArg, dirfd: number, path: PathArg): void {
    check(c.symlinkat(ptr(cpath(target)), dirfd, ptr(cpath(path))), "symlinkat", showPath(path));
  },
  linkat(olddirfd: number, oldpath: PathArg, newdirfd: number, newpath: PathArg, flags = 0): void {
    const a = cpath(oldpath);
    const b = cpath(newpath);
    check(c.linkat(olddirfd, ptr(a), newdirfd, ptr(b), flags), "linkat", showPath(newpath));
  },
  unlinkat(dirfd: number, path: PathArg, flags = 0): void {
    check(extra.unlinkat(dirfd, ptr(cpath(path)), flags), "unlinkat", showPath(path));
  },
  fchownat(dirfd: number, path: PathArg, uid: number, gid: number, flags: number): void {
    check(c.fchownat(dirfd, ptr(cpath(path)), uid, gid, flags), "fchownat", showPath(path));
  },
  /** No AT_SYMLINK_NOFOLLOW: Linux cannot chmod a symlink, so never pass one here. */
  fchmodat(dirfd: number, path: PathArg, mode: number): void {
    check(c.fchmodat(dirfd, ptr(cpath(path)), mode, 0), "fchmodat", showPath(path));
  },
  /** utimensat(2); a null path means the fd itself (futimens: glibc refuses a NULL path). */
  utimensat(dirfd: number, path: PathArg | null, atimeNs: bigint, mtimeNs: bigint, flags = 0): void {
    const ts = new BigInt64Array([
      atimeNs / 1_000_000_000n, atimeNs % 1_000_000_000n,
      mtimeNs / 1_000_000_000n, mtimeNs % 1_000_000_000n,
    ]);
    // Pre-epoch times: keep tv_nsec in [0, 1e9) as the kernel requires.
    for (const i of [0, 2]) {
      if (ts[i + 1] < 0n) {
        ts[i] -= 1n;
        ts[i + 1] += 1_000_000_000n;
      }
    }
    if (path === null) {
      check(extra.futimens(dirfd, ptr(ts)), "futimens");
      return;
    }
    check(c.utimensat(dirfd, ptr(cpath(path)), ptr(ts), flags), "utimensat", showPath(path));
  },
  fsetxattr(fd: number, name: string, value: Uint8Array): void {
    const n = cstr(name);
    const v = value.length ? value : new Uint8Array(1);
    check(extra.fsetxattr(fd, ptr(n), ptr(v), value.length, 0), "fsetxattr", name);
  },
  lsetxattr(path: PathArg, name: string, value: Uint8Array): void {
    const a = cpath(path);
    const n = cstr(name);
    const v = value.length ? value : new Uint8Array(1);
    check(c.lsetxattr(ptr(a), ptr(n), ptr(v), value.length, 0), "lsetxattr", `${showPath(path)} (${name})`);
  },
  /** Value of an xattr, or null when it is absent or xattrs are unsupported. */
  lgetxattr(path: PathArg, name: string): Buffer | null {
    const a = cpath(path);
    const n = cstr(name);
    let buf = Buffer.alloc(256);
    for (;;) {
      const r = Number(c.lgetxattr(ptr(a), ptr(n), ptr(buf), buf.length));
      if (r >= 0) return buf.subarray(0, r);
      const e = errno();
      if (e === 34 /* ERANGE */) {
        buf = Buffer.alloc(buf.length * 4);
        continue;
      }
      if (e === 61 || e === 95) return null;
      throw new SyscallError("lgetxattr", e, `${showPath(path)} (${name})`);
    }
  },
  lremovexattr(path: PathArg, name: string): void {
    check(c.lremovexattr(ptr(cpath(path)), ptr(cstr(name))), "lremovexattr", `${showPath(path)} (${name})`);
  },
  /** Names of a file's xattrs ([] when unsupported); the call is the one syscall per file. */
  llistxattr(path: PathArg): string[] {
    const a = cpath(path);
    let buf = listBuf;
    for (;;) {
      const r = Number(c.llistxattr(ptr(a), ptr(buf), buf.length));
      if (r === 0) return [];
      if (r > 0) return buf.subarray(0, r).toString("utf8").split("\0").filter(Boolean);
      const e = errno();
      if (e === 34) {
        buf = Buffer.alloc(buf.length * 4);
        continue;
      }
      if (e === 95) return [];
      throw new SyscallError("llistxattr", e, showPath(path));
    }
  },
};
const listBuf = Buffer.alloc(4096);

// ---- Container lifecycle: process handles, terminals, memory trimming, detached mounts ----
// Added for src/container/{proc,exec,shim,pty,console}.ts. Raw syscalls through `syscall`.

export const SYS_madvise = 28;
const SYS_setsid = 112;
const SYS_pidfd_send_signal = 424;
const SYS_open_tree = 428;
const SYS_move_mount = 429;
const SYS_pidfd_open = 434;

/** pidfd_open(2): a handle on one process that can never refer to a reused PID. */
export function pidfdOpen(pid: number): number {
  return check(c.syscall(SYS_pidfd_open, pid, 0, 0, 0, 0, 0), "pidfd_open", String(pid));
}

/** pidfd_send_signal(2); returns false when the process has already exited (ESRCH). */
export function pidfdSendSignal(pidfd: number, sig: number): boolean {
  const r = Number(c.syscall(SYS_pidfd_send_signal, pidfd, sig, 0, 0, 0, 0));
  if (r === 0) return true;
  const e = errno();
  if (e === 3) return false;
  throw new SyscallError("pidfd_send_signal", e);
}

export const MADV_DONTNEED = 4;

/** madvise(2) over [start, start+len); false on failure (advice is best effort). */
export function madvise(start: bigint, len: bigint, advice: number): boolean {
  return Number(c.syscall(SYS_madvise, start, len, advice, 0, 0, 0)) === 0;
}

export function setsid(): number {
  return check(c.syscall(SYS_setsid, 0, 0, 0, 0, 0, 0), "setsid");
}

export const OPEN_TREE_CLONE = 1;
export const MOVE_MOUNT_F_EMPTY_PATH = 4;
export const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
export const AT_RECURSIVE = 0x8000;

/** open_tree(2): a detached copy of the mount at `path` (with OPEN_TREE_CLONE). */
export function openTree(dirfd: number, path: string, flags: number): number {
  const b = cstr(path);
  return check(c.syscall(SYS_open_tree, dirfd, BigInt(ptr(b)), flags | O_CLOEXEC, 0, 0, 0), "open_tree", path);
}

/** move_mount(2) of a detached tree (fromFd, "") onto `to`: a path, or the file an fd (O_PATH) is open on. */
export function moveMountFd(fromFd: number, to: string | number): void {
  const empty = cstr("");
  const toPath = cstr(typeof to === "string" ? to : "");
  const toFd = typeof to === "string" ? AT_FDCWD : to;
  const flags = MOVE_MOUNT_F_EMPTY_PATH | (typeof to === "string" ? 0 : MOVE_MOUNT_T_EMPTY_PATH);
  check(
    c.syscall(SYS_move_mount, fromFd, BigInt(ptr(empty)), toFd, BigInt(ptr(toPath)), flags, 0),
    "move_mount",
    typeof to === "string" ? to : `/proc/self/fd/${to}`,
  );
}

const TIOCGWINSZ = 0x5413;

/** The window size of the terminal on `fd`, or undefined when it is not a terminal. */
export function windowSize(fd: number): { cols: number; rows: number } | undefined {
  const ws = new Uint16Array(4);
  if (c.ioctl(fd, TIOCGWINSZ, ptr(ws)) !== 0) return undefined;
  return { rows: ws[0]!, cols: ws[1]! };
}

/** struct termios is 60 bytes on Linux/glibc; kept opaque except for the flag words. */
export function tcgetattr(fd: number): Uint8Array | undefined {
  const t = new Uint8Array(64);
  return c.tcgetattr(fd, ptr(t)) === 0 ? t : undefined;
}

export function tcsetattr(fd: number, t: Uint8Array, when = 0 /* TCSANOW */): boolean {
  return c.tcsetattr(fd, when, ptr(t)) === 0;
}

/** cfmakeraw(3) applied to a copy of `t`. */
export function makeRaw(t: Uint8Array): Uint8Array {
  const r = new Uint8Array(t);
  const v = new DataView(r.buffer);
  const IGNBRK = 1, BRKINT = 2, PARMRK = 0o10, ISTRIP = 0o40, INLCR = 0o100, IGNCR = 0o200, ICRNL = 0o400, IXON = 0o2000;
  const OPOST = 1;
  const ECHO = 0o10, ECHONL = 0o100, ICANON = 2, ISIG = 1, IEXTEN = 0o100000;
  const CSIZE = 0o60, PARENB = 0o400, CS8 = 0o60;
  v.setUint32(0, v.getUint32(0, true) & ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON), true);
  v.setUint32(4, v.getUint32(4, true) & ~OPOST, true);
  v.setUint32(12, v.getUint32(12, true) & ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN), true);
  v.setUint32(8, (v.getUint32(8, true) & ~(CSIZE | PARENB)) | CS8, true);
  // c_cc starts at offset 17 (after c_line): VMIN=6, VTIME=5
  r[17 + 6] = 1;
  r[17 + 5] = 0;
  return r;
}

const SYS_fcntl = 72;
const F_GETFL = 3;
const F_SETFL = 4;

/** Clear FD_CLOEXEC on `fd`, so a child inherits it (throws EBADF when it is not open). */
export function setInheritable(fd: number): void {
  check(c.syscall(SYS_fcntl, fd, 2 /* F_SETFD */, 0, 0, 0, 0), "fcntl(F_SETFD)");
}

/** Clear O_NONBLOCK on `fd` (Bun hands out extra stdio sockets non-blocking). */
export function setBlocking(fd: number): void {
  const fl = check(c.syscall(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0), "fcntl(F_GETFL)");
  if (fl & O_NONBLOCK) check(c.syscall(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK, 0, 0, 0), "fcntl(F_SETFL)");
}

// Thread-scoped identity changes. glibc's setuid()/setgid()/setgroups() broadcast to every
// thread of the process (POSIX semantics); these raw syscalls change the calling thread only,
// which lets one thread take on a container user for a spawn and then return to root.
export const SYS_setgroups = 116;
export const SYS_setresuid = 117;
export const SYS_setresgid = 119;

export function threadSetresuid(r: number, e: number, s: number): void {
  check(c.syscall(SYS_setresuid, r, e, s, 0, 0, 0), "setresuid");
}

export function threadSetresgid(r: number, e: number, s: number): void {
  check(c.syscall(SYS_setresgid, r, e, s, 0, 0, 0), "setresgid");
}

export function threadSetgroups(gids: number[]): void {
  const arr = new Uint32Array(gids.length || 1);
  arr.set(gids);
  check(c.syscall(SYS_setgroups, gids.length, BigInt(ptr(arr)), 0, 0, 0, 0), "setgroups");
}

export function dup2(oldfd: number, newfd: number): void {
  check(c.dup2(oldfd, newfd), "dup2");
}

/** A close-on-exec copy of `fd` numbered `min` or above (fcntl F_DUPFD_CLOEXEC). */
export function dupAbove(fd: number, min: number): number {
  return check(c.syscall(SYS_fcntl, fd, 1030 /* F_DUPFD_CLOEXEC */, min, 0, 0, 0), "fcntl(F_DUPFD_CLOEXEC)");
}

// ---- Calls for a forked child (src/linux/forkexec.ts) ----
// A child forked from a Bun thread runs JavaScript on a copy of the VM whose other threads do
// not exist: it must not allocate. This binding returns a plain i32 (no BigInt boxing) and
// takes numbers, so the child's path to execve is syscalls on precomputed pointers only.
const raw = dlopen("libc.so.6", {
  syscall: { args: [i64, i64, i64, i64, i64, i64], returns: i32 },
}).symbols;

/** syscall(2) returning -1 on failure (errno at `errnoAddress()`); allocates nothing. */
export const rawSyscall = raw.syscall;

/** The address of the calling thread's errno (a forked child reads it without a call). */
export function errnoAddress(): Pointer | null {
  return c.__errno_location() as Pointer | null;
}

export const SYS_write = 1;
export const SYS_ioctl = 16;
export const SYS_dup2 = 33;
export const SYS_clone = 56;
export const SYS_execve = 59;
export const SYS_exit_group = 231;
export const SYS_rt_sigaction = 13;
export const SYS_rt_sigprocmask = 14;
export const SYS_waitid = 247;
export const SYS_pipe2 = 293;
export const SYS_read = 0;
export const SYS_close = 3;
export { SYS_setsid, SYS_close_range };

export const TIOCSCTTY = 0x540e;
export const TIOCSWINSZ = 0x5414;
export const TIOCSPTLCK = 0x40045431;
export const TIOCGPTPEER = 0x5441;

/** pipe2(2): [read end, write end]. */
export function pipe2(flags: number): [number, number] {
  const fds = new Int32Array(2);
  check(c.syscall(SYS_pipe2, BigInt(ptr(fds)), flags, 0, 0, 0, 0), "pipe2");
  return [fds[0]!, fds[1]!];
}

/** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected ends, both ways. */
export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  check(c.syscall(53 /* socketpair */, 1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | 0x80000 /* SOCK_CLOEXEC */, 0, BigInt(ptr(fds)), 0, 0), "socketpair");
  return [fds[0]!, fds[1]!];
}

/** Set the window size of the terminal on `fd` (a pty master). */
export function setWindowSize(fd: number, cols: number, rows: number): boolean {
  const ws = new Uint16Array([rows, cols, 0, 0]);
  return c.ioctl(fd, TIOCSWINSZ, ptr(ws)) === 0;
}

/**
 * A new pseudo-terminal from the devpts behind `/dev/ptmx` as the calling thread resolves it
 * (a container's own, once the thread has joined its mount namespace). The peer is opened
 * through the master (TIOCGPTPEER), never by a path a container could swap.
 */
export function openPty(cols: number, rows: number): { master: number; slave: number } {
  const master = openat(AT_FDCWD, "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  try {
    const zero = new Int32Array(1);
    check(c.ioctl(master, TIOCSPTLCK, ptr(zero)), "ioctl(TIOCSPTLCK)");
    const slave = check(c.syscall(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC, 0, 0, 0), "ioctl(TIOCGPTPEER)");
    setWindowSize(master, cols, rows);
    return { master, slave };
  } catch (e) {
    c.close(master);
    throw e;
  }
}

export const P_PIDFD = 3;
export const WEXITED = 4;

// ---- Reading a tree that someone else may be changing (no path ever followed through it) ----
// statx, readlinkat and the following xattr calls, bound on first use: only export, commit
// and the naive diff need them, and each binding costs compile time at every start.

let nofollowSyms:
  | {
      statx: (dirfd: number, path: Pointer, flags: number, mask: number, buf: Pointer) => number;
      readlinkat: (dirfd: number, path: Pointer, buf: Pointer, len: number | bigint) => number | bigint;
      getxattr: (path: Pointer, name: Pointer, buf: Pointer | null, len: number | bigint) => number | bigint;
      listxattr: (path: Pointer, buf: Pointer | null, len: number | bigint) => number | bigint;
      fgetxattr: (fd: number, name: Pointer, buf: Pointer | null, len: number | bigint) => number | bigint;
      flistxattr: (fd: number, buf: Pointer | null, len: number | bigint) => number | bigint;
    }
  | undefined;

function nofollow() {
  nofollowSyms ??= dlopen("libc.so.6", {
    statx: { args: [i32, P, i32, u32, P], returns: i32 },
    readlinkat: { args: [i32, P, P, u64], returns: i64 },
    getxattr: { args: [P, P, P, u64], returns: i64 },
    listxattr: { args: [P, P, u64], returns: i64 },
    fgetxattr: { args: [i32, P, P, u64], returns: i64 },
    flistxattr: { args: [i32, P, u64], returns: i64 },
  }).symbols as any;
  return nofollowSyms!;
}

const STATX_BASIC_STATS = 0x7ff;
const AT_STATX_DONT_SYNC = 0x4000;

/** What statx(2) says of one inode (the basic fields; times in nanoseconds). */
export interface StatxResult {
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  ino: bigint;
  size: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  rdevMajor: number;
  rdevMinor: number;
  devMajor: number;
  devMinor: number;
}

const statxBuf = Buffer.alloc(256);
const statxView = new DataView(statxBuf.buffer, statxBuf.byteOffset, statxBuf.byteLength);
const EMPTY = Buffer.from([0]);

function ns(off: number): bigint {
  return statxView.getBigInt64(off, true) * 1_000_000_000n + BigInt(statxView.getUint32(off + 8, true));
}

/**
 * statx(2). With a null path it describes the fd itself (AT_EMPTY_PATH), so an O_PATH fd of a
 * symlink is stat'ed as the symlink. A named path's last component is never followed.
 */
export function statxAt(dirfd: number, path: PathArg | null): StatxResult {
  const name = path === null ? EMPTY : cpath(path);
  const flags = AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC | (path === null ? AT_EMPTY_PATH : 0);
  if (nofollow().statx(dirfd, ptr(name), flags, STATX_BASIC_STATS, ptr(statxBuf)) < 0) {
    const e = errno();
    throw new SyscallError("statx", e, path === null ? `fd ${dirfd}` : showPath(path));
  }
  const v = statxView;
  return {
    nlink: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    mode: v.getUint16(28, true),
    ino: v.getBigUint64(32, true),
    size: Number(v.getBigUint64(40, true)),
    atimeNs: ns(64),
    mtimeNs: ns(112),
    rdevMajor: v.getUint32(128, true),
    rdevMinor: v.getUint32(132, true),
    devMajor: v.getUint32(136, true),
    devMinor: v.getUint32(140, true),
  };
}

let linkBuf = Buffer.alloc(4096);

/** readlinkat(2) as bytes; a null path reads the symlink an O_PATH fd holds. */
export function readlinkAt(dirfd: number, path: PathArg | null): Buffer {
  const name = path === null ? EMPTY : cpath(path);
  for (;;) {
    const n = Number(nofollow().readlinkat(dirfd, ptr(name), ptr(linkBuf), linkBuf.length));
    if (n < 0) throw new SyscallError("readlinkat", errno(), path === null ? `fd ${dirfd}` : showPath(path));
    if (n < linkBuf.length) return Buffer.from(linkBuf.subarray(0, n));
    linkBuf = Buffer.alloc(linkBuf.length * 4);
  }
}

/**
 * The xattrs of the file at `path`, following a final symlink (meant for /proc/self/fd/N of a
 * held fd, which resolves to exactly that inode). [] when xattrs are unsupported.
 */
export function getxattrsFollow(path: PathArg): [string, Buffer][] {
  const a = cpath(path);
  const s = nofollow();
  return readXattrs(
    (buf, len) => Number(s.listxattr(ptr(a), buf, len)),
    (name, buf, len) => Number(s.getxattr(ptr(a), name, buf, len)),
    showPath(path),
  );
}

/** The xattrs of an open (not O_PATH) fd. [] when xattrs are unsupported. */
export function fgetxattrs(fd: number): [string, Buffer][] {
  const s = nofollow();
  return readXattrs(
    (buf, len) => Number(s.flistxattr(fd, buf, len)),
    (name, buf, len) => Number(s.fgetxattr(fd, name, buf, len)),
    `fd ${fd}`,
  );
}

function readXattrs(
  list: (buf: Pointer, len: number) => number,
  get: (name: Pointer, buf: Pointer, len: number) => number,
  what: string,
): [string, Buffer][] {
  let names = listBuf;
  let r: number;
  for (;;) {
    r = list(ptr(names), names.length);
    if (r >= 0) break;
    const e = errno();
    if (e === 34 /* ERANGE */) {
      names = Buffer.alloc(names.length * 4);
      continue;
    }
    if (e === 95 || e === 61) return [];
    throw new SyscallError("listxattr", e, what);
  }
  if (r === 0) return [];
  const out: [string, Buffer][] = [];
  for (const name of names.subarray(0, r).toString("utf8").split("\0")) {
    if (!name) continue;
    const n = cstr(name);
    let buf = Buffer.alloc(256);
    for (;;) {
      const k = get(ptr(n), ptr(buf), buf.length);
      if (k >= 0) {
        out.push([name, Buffer.from(buf.subarray(0, k))]);
        break;
      }
      const e = errno();
      if (e === 34) {
        buf = Buffer.alloc(buf.length * 4);
        continue;
      }
      if (e === 61) break; // removed meanwhile
      throw new SyscallError("getxattr", e, `${what} (${name})`);
    }
  }
  return out;
}

const SYS_mount_setattr = 442;
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;

export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
/** The atime field (relatime is 0 in it): cleared whenever one of its values is set. */
export const MOUNT_ATTR__ATIME = 0x70;
export const MOUNT_ATTR_NODIRATIME = 0x80;
export const MOUNT_ATTR_IDMAP = 0x100000;
export const MOUNT_ATTR_NOSYMFOLLOW = 0x200000;

/** What mount_setattr(2) changes: attributes set and cleared, and a user namespace fd for MOUNT_ATTR_IDMAP. */
export interface MountAttr {
  set: number;
  clr: number;
  userns?: number;
}

/** mount_setattr(2) on the mount an fd refers to (a detached tree, or an O_PATH fd of a mount's root); `recursive`: its submounts too. */
export function mountSetattr(fd: number, recursive: boolean, a: MountAttr): void {
  const attr = new BigUint64Array([BigInt(a.set), BigInt(a.clr), 0n, BigInt(a.userns ?? 0)]); // struct mount_attr
  check(c.syscall(SYS_mount_setattr, fd, BigInt(ptr(EMPTY)), AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), BigInt(ptr(attr)), attr.byteLength, 0), "mount_setattr");
}

export function mountSetattrFd(fd: number, attrSet: number): void {
  mountSetattr(fd, false, { set: attrSet, clr: 0 });
}

/** The file type and mode bits of `path` under dirfd (last component not followed), or -errno. */
export function statxModeAt(dirfd: number, path: PathArg): number {
  const r = nofollow().statx(dirfd, ptr(cpath(path)), AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, 0x1 /* STATX_TYPE */ | 0x2 /* STATX_MODE */, ptr(statxBuf));
  if (r < 0) return -errno();
  return statxView.getUint16(28, true);
}
export const DT_UNKNOWN = 0;
export const DT_DIR = 4;
export const DT_REG = 8;

let direntBuf: Buffer | undefined;

/**
 * Every entry of an open directory (not O_PATH), from its start, with the type the directory
 * itself records (getdents64's d_type; DT_UNKNOWN where the filesystem keeps none). Names are
 * latin1 strings, one char per byte, so no name that is not UTF-8 is changed. "." and ".."
 * are left out. One getdents64 per 64 KiB of entries: no path is opened, unlike readdir of
 * /proc/self/fd/N.
 */
export function readDirTypes(fd: number): { names: string[]; types: number[] } {
  // Through syscall(2): glibc has a getdents64 wrapper only from 2.30.
  const buf = (direntBuf ??= Buffer.allocUnsafe(64 << 10));
  if (Number(c.syscall(8 /* lseek */, fd, 0, 0 /* SEEK_SET */, 0, 0, 0)) < 0) throw new SyscallError("lseek", errno(), `fd ${fd}`);
  const names: string[] = [];
  const types: number[] = [];
  for (;;) {
    const n = Number(c.syscall(217 /* getdents64 */, fd, BigInt(ptr(buf)), buf.length, 0, 0, 0));
    if (n < 0) throw new SyscallError("getdents64", errno(), `fd ${fd}`);
    if (n === 0) return { names, types };
    // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), NUL-terminated name.
    for (let off = 0; off < n; ) {
      const reclen = buf.readUInt16LE(off + 16);
      if (reclen < 20 || off + reclen > n) throw new Error(`getdents64 on fd ${fd}: a record of ${reclen} bytes at ${off} of ${n}`);
      const start = off + 19;
      let end = buf.indexOf(0, start);
      if (end < 0 || end > off + reclen) end = off + reclen;
      const len = end - start;
      if (!((len === 1 && buf[start] === 0x2e) || (len === 2 && buf[start] === 0x2e && buf[start + 1] === 0x2e))) {
        names.push(buf.toString("latin1", start, end));
        types.push(buf[off + 18]!);
      }
      off += reclen;
    }
  }
}

// ---- The syscall seam (src/linux/syscalls.ts) backed by the bindings above ----
// Plain references to the functions, so calling through the seam costs one property load.

function fileKind(st: Stats): FileStat["kind"] {
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  if (st.isSymbolicLink()) return "symlink";
  return "other";
}

export const realSyscalls: Syscalls = {
  mount,
  umount2,
  pivotRoot,
  chdir,
  openTree,
  moveMount: moveMountFd,
  mountSetattr,
  openat,
  openat2,
  close,
  mkdirat,
  mknodat,
  symlinkat,
  fchownat,
  unlinkat: (dirfd, name, flags) => fsat.unlinkat(dirfd, name, flags),
  mkdir(path, mode = 0o777) {
    fs().mkdirSync(path, { mode });
  },
  chmod,
  readlink: (path) => fs().readlinkSync(path),
  stat(path) {
    const st = fs().statSync(path);
    return { kind: fileKind(st), rdev: st.rdev };
  },
  readFile: (path) => fs().readFileSync(path, "utf8"),
  writeFile(path, data) {
    fs().writeFileSync(path, data);
  },
  unshare,
  setns,
  prctl,
  sethostname,
  interfaceUp,
  capget,
  capset,
  setgroups,
  setgid,
  setuid,
  seccompFilter,
};

// ---- OCI runtime (src/runtime/): calls only the runtime-spec's init and its CLI make ----

/** syscall(2) with numeric or pointer-sized arguments; throws SyscallError named `name`. */
export function syscallChecked(name: string, nr: number, ...args: (number | bigint)[]): number {
  const a = [...args, 0, 0, 0, 0, 0].slice(0, 5);
  return check(c.syscall(nr, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, 0), name);
}

export function chroot(path: string): void {
  const b = cstr(path);
  check(c.syscall(161, BigInt(ptr(b)), 0, 0, 0, 0, 0), "chroot", path);
}

export function setdomainname(name: string): void {
  const b = Buffer.from(name);
  check(c.syscall(171 /* setdomainname */, BigInt(ptr(b.length ? b : Buffer.alloc(1))), b.length, 0, 0, 0, 0), "setdomainname", name);
}

/** prlimit64(0, resource, {soft, hard}): the calling process's limit. */
export function setRlimit(resource: number, soft: bigint, hard: bigint): void {
  const lim = new BigUint64Array([soft, hard]);
  check(c.syscall(302 /* prlimit64 */, 0, resource, BigInt(ptr(lim)), 0, 0, 0), "prlimit64");
}

export function personality(persona: number): void {
  check(c.syscall(135 /* personality */, persona, 0, 0, 0, 0, 0), "personality");
}

/**
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) on the calling thread; with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER in `flags` the result is its notification fd (close-on-exec).
 */
export function seccompSetFilter(filter: Uint8Array, flags: number): number {
  const prog = Buffer.alloc(16);
  prog.writeUInt16LE(filter.length / 8, 0);
  prog.writeBigUInt64LE(BigInt(ptr(filter)), 8);
  const r = check(c.syscall(317 /* seccomp */, 1 /* SECCOMP_SET_MODE_FILTER */, flags, BigInt(ptr(prog)), 0, 0, 0), "seccomp");
  void filter;
  return r;
}

/** Make the terminal on `fd` the calling process's controlling terminal (after setsid). */
export function setControllingTerminal(fd: number): void {
  check(c.ioctl(fd, TIOCSCTTY, null), "ioctl(TIOCSCTTY)");
}

/** Send `fd` with `name` as payload over a connected unix socket (SCM_RIGHTS), as runc does. */
export function sendFd(sock: number, name: string, fd: number): void {
  const data = Buffer.from(name.length ? name : "\0");
  const iov = new BigUint64Array([BigInt(ptr(data)), BigInt(data.length)]);
  // struct cmsghdr { size_t len; int level; int type; } + one int, padded to 8: 24 bytes.
  const cmsg = Buffer.alloc(24);
  cmsg.writeBigUInt64LE(20n, 0); // CMSG_LEN(sizeof(int))
  cmsg.writeInt32LE(1 /* SOL_SOCKET */, 8);
  cmsg.writeInt32LE(1 /* SCM_RIGHTS */, 12);
  cmsg.writeInt32LE(fd, 16);
  // struct msghdr { name, namelen, iov, iovlen, control, controllen, flags }
  const msg = Buffer.alloc(56);
  msg.writeBigUInt64LE(BigInt(ptr(iov)), 16);
  msg.writeBigUInt64LE(1n, 24);
  msg.writeBigUInt64LE(BigInt(ptr(cmsg)), 32);
  msg.writeBigUInt64LE(24n, 40);
  check(c.syscall(46 /* sendmsg */, sock, BigInt(ptr(msg)), 0, 0, 0, 0), "sendmsg");
  void [data, iov, cmsg];
}

/** A unix stream socket connected to `path`. */
export function connectUnix(path: string): number {
  const fd = check(c.socket(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | O_CLOEXEC, 0), "socket");
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(1, 0);
  if (Buffer.byteLength(path) > 107) throw new SyscallError("connect", 36, path);
  addr.write(path, 2);
  const r = Number(c.syscall(42 /* connect */, fd, BigInt(ptr(addr)), 110, 0, 0, 0));
  if (r < 0) {
    const e = errno();
    c.close(fd);
    throw new SyscallError("connect", e, path);
  }
  return fd;
}
