// A recording stand-in for the kernel behind src/linux/syscalls.ts, so the code that shapes a
// container (rootfs, safepath, init) can be run without root and checked call by call.
//
// It keeps a small file tree (directories, files, devices, symlinks), resolves paths the way
// the kernel would for the calls minid makes (dirfds, /proc/self/fd/N, RESOLVE_IN_ROOT,
// O_CREAT, O_DIRECTORY), and models just enough of mounting for the code under test to see a
// consistent world: a fresh filesystem (tmpfs, proc, ...) hides what was under it, a bind
// shows its source's tree. Every call is recorded with its raw arguments and a readable
// `view` in which fds and /proc/self/fd/N paths appear as the paths they name. A failure
// (a SyscallError with a chosen errno, as libc.ts throws) can be injected at the Nth call or
// at the first call matching a predicate; close() never fails, as libc.ts's never reports.
// Paths in views are host paths (after pivot_root, "/" shows as the new root's host path);
// fds 0-2 are a terminal, /dev/pts/0.
import {
  SyscallError, errnoName, AT_FDCWD, O_CREAT, O_DIRECTORY, O_EXCL, RESOLVE_IN_ROOT,
  MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE,
  MS_SLAVE, MS_STRICTATIME, type CapSets,
} from "../../src/linux/libc.ts";
import type { FileStat, Syscalls } from "../../src/linux/syscalls.ts";

export interface Node {
  kind: FileStat["kind"];
  rdev?: number;
  /** symlink target */
  target?: string;
  content?: string;
  mode?: number;
}

export interface Call {
  /** 1-based position among all calls. */
  n: number;
  name: string;
  args: unknown[];
  /** The call with fds and /proc/self/fd/N shown as the paths they name. */
  view: string;
  /** Set when this call was made to fail. */
  failed?: string;
}

type Failure = { at?: number; when?: (c: Call) => boolean; errno: number; once: boolean };

const ERRNO: Record<string, number> = {
  EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EACCES: 13, EBUSY: 16, EEXIST: 17, ENODEV: 19,
  ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENOSPC: 28, EROFS: 30, ELOOP: 40,
};

function errnoOf(code: string): number {
  const n = ERRNO[code];
  if (n === undefined) throw new Error(`fake-syscalls: unknown errno ${code} (add it to ERRNO)`);
  return n;
}

const FLAG_NAMES: [number, string][] = [
  [MS_RDONLY, "ro"], [MS_NOSUID, "nosuid"], [MS_NODEV, "nodev"], [MS_NOEXEC, "noexec"],
  [MS_REMOUNT, "remount"], [MS_BIND, "bind"], [MS_MOVE, "move"], [MS_REC, "rec"],
  [MS_PRIVATE, "private"], [MS_SLAVE, "slave"], [MS_STRICTATIME, "strictatime"], [1 << 21, "relatime"], [1 << 20, "shared"],
];

/** mount(2) flags as a comma list (`bind,rec`), for readable expectations. */
export function mountFlags(flags: number): string {
  const names: string[] = [];
  let rest = flags;
  for (const [bit, name] of FLAG_NAMES) {
    if (flags & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join(",") || "0";
}

/** Filesystems whose mount shows a fresh, empty tree. */
const FRESH = new Set(["tmpfs", "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"]);

function parent(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

function join(base: string, name: string): string {
  return base === "/" ? `/${name}` : `${base}/${name}`;
}

export class FakeSyscalls implements Syscalls {
  readonly calls: Call[] = [];
  readonly tree = new Map<string, Node>([["/", { kind: "dir" }]]);
  /** Open fds and the host paths they name; 0-2 are the terminal the process was started on. */
  private readonly fds = new Map<number, string>([[0, "/dev/pts/0"], [1, "/dev/pts/0"], [2, "/dev/pts/0"]]);
  private nextFd = 10;
  private failures: Failure[] = [];
  private seeds = new Map<string, string[]>();
  /** Host paths something is mounted on (unlink refuses them: EBUSY). */
  private readonly mountPoints = new Set<string>();
  /** Where "/" is for absolute paths (moved by pivot_root). */
  root = "/";
  cwd = "/";
  caps: CapSets = { effective: (1n << 41n) - 1n, permitted: (1n << 41n) - 1n, inheritable: 0n };

  // ---- building the world ----

  dir(path: string, mode = 0o755): this {
    this.ensureParents(path);
    if (this.tree.get(path)?.kind !== "dir") this.tree.set(path, { kind: "dir", mode });
    return this;
  }

  file(path: string, content = ""): this {
    this.ensureParents(path);
    this.tree.set(path, { kind: "file", content });
    return this;
  }

  symlink(path: string, target: string): this {
    this.ensureParents(path);
    this.tree.set(path, { kind: "symlink", target });
    return this;
  }

  chardev(path: string, rdev: number): this {
    this.ensureParents(path);
    this.tree.set(path, { kind: "char", rdev });
    return this;
  }

  private ensureParents(path: string): void {
    for (let p = parent(path); ; p = parent(p)) {
      if (!this.tree.has(p)) this.tree.set(p, { kind: "dir", mode: 0o755 });
      if (p === "/") break;
    }
  }

  /**
   * What a fresh mount of `fstype` shows (proc's and sysfs's files, say), as paths relative to
   * the mount point; a trailing "/" makes a directory.
   */
  onMount(fstype: string, entries: string[]): this {
    this.seeds.set(fstype, entries);
    return this;
  }

  // ---- failure injection ----

  /** Make the nth call (1-based, counting every call) fail with `code`. */
  failAt(n: number, code: string): this {
    this.failures.push({ at: n, errno: errnoOf(code), once: true });
    return this;
  }

  /** Make the first call matching `when` fail with `code` (every match when `always`). */
  failWhen(when: (c: Call) => boolean, code: string, always = false): this {
    this.failures.push({ when, errno: errnoOf(code), once: !always });
    return this;
  }

  // ---- reading the record ----

  /** The views of the calls named `names` (all calls when none given). */
  views(...names: string[]): string[] {
    return this.calls.filter((c) => !names.length || names.includes(c.name)).map((c) => c.view);
  }

  /** Open fds the code under test never closed. */
  openFds(): string[] {
    return [...this.fds].filter(([fd]) => fd > 2).map(([, p]) => p);
  }

  // ---- the calls ----

  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
    const t = this.hostPath(target);
    const src = source !== null && flags & MS_BIND ? this.hostPath(source) : source;
    this.record("mount", [source, target, fstype, flags, data],
      `mount ${src ?? "-"} ${t} ${fstype ?? "-"} ${mountFlags(flags)}${data !== null ? ` ${data}` : ""}`, target,
      `mount${fstype ? `(${fstype})` : ""}`);
    const node = this.lookup(t, true);
    if (!node) throw new SyscallError(`mount${fstype ? `(${fstype})` : ""}`, 2, target);
    if (flags & MS_REMOUNT || flags & MS_PRIVATE || flags & MS_SLAVE) return;
    if (flags & MS_BIND) {
      const s = this.lookup(src!, true);
      if (!s) throw new SyscallError("mount", 2, source!);
      if ((s.kind === "dir") !== (node.kind === "dir")) throw new SyscallError("mount", 20, target);
      const realSrc = this.resolve(src!, "/", true);
      const realT = this.resolve(t, "/", true);
      this.replaceSubtree(realT, realSrc);
      this.mountPoints.add(realT);
    } else if (fstype && FRESH.has(fstype)) {
      const at = this.resolve(t, "/", true);
      this.clearSubtree(at);
      this.mountPoints.add(at);
      for (const e of this.seeds.get(fstype) ?? []) {
        if (e.endsWith("/")) this.dir(join(at, e.slice(0, -1)));
        else this.file(join(at, e));
      }
    }
  }

  umount2(target: string, flags: number): void {
    this.record("umount2", [target, flags], `umount2 ${this.hostPath(target)} ${flags}`);
  }

  pivotRoot(newRoot: string, putOld: string): void {
    const nr = this.hostPath(newRoot);
    this.record("pivot_root", [newRoot, putOld], `pivot_root ${nr} ${this.hostPath(putOld)}`);
    this.root = nr;
    this.cwd = "/";
  }

  chdir(path: string): void {
    const p = this.hostPath(path);
    this.record("chdir", [path], `chdir ${p}`, path);
    const n = this.lookup(p, true);
    if (!n) throw new SyscallError("chdir", 2, path);
    if (n.kind !== "dir") throw new SyscallError("chdir", 20, path);
    this.cwd = this.toVisible(this.resolve(p, "/", true));
  }

  openTree(dirfd: number, path: string, flags: number): number {
    this.record("open_tree", [dirfd, path, flags], `open_tree ${this.at(dirfd, path)}`);
    return this.newFd(`tree:${this.at(dirfd, path)}`);
  }

  moveMount(fromFd: number, to: string | number): void {
    const target = typeof to === "string" ? this.hostPath(to) : this.fds.get(to);
    this.record("move_mount", [fromFd, to], `move_mount ${this.fds.get(fromFd)} ${target}`);
  }

  mountSetattr(fd: number, recursive: boolean, attr: { set: number; clr: number; userns?: number }): void {
    const userns = attr.userns === undefined ? "" : ` userns=${this.fds.get(attr.userns) ?? attr.userns}`;
    this.record("mount_setattr", [fd, recursive, attr], `mount_setattr ${this.fds.get(fd)}${recursive ? " recursive" : ""} set=0x${attr.set.toString(16)} clr=0x${attr.clr.toString(16)}${userns}`);
  }

  openat(dirfd: number, path: string, flags: number, mode = 0): number {
    const p = this.at(dirfd, path);
    this.record("openat", [dirfd, path, flags, mode], `openat ${p}`, path);
    return this.open(p, "/", flags, mode, "openat", path);
  }

  openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
    const base = this.dirOf(dirfd);
    const rootIn = resolve & RESOLVE_IN_ROOT ? base : "/";
    const p = path.startsWith("/") && resolve & RESOLVE_IN_ROOT ? join(base, path.slice(1)) : this.at(dirfd, path);
    this.record("openat2", [dirfd, path, flags, resolve, mode], `openat2 ${p.replace(/\/\.$/, "")}`, path);
    return this.open(p, rootIn, flags, mode, "openat2", path);
  }

  close(fd: number): void {
    this.record("close", [fd], `close ${this.fds.get(fd) ?? fd}`);
    this.fds.delete(fd);
  }

  mkdirat(dirfd: number, name: string, mode: number): void {
    const p = this.at(dirfd, name);
    this.record("mkdirat", [dirfd, name, mode], `mkdirat ${p} ${mode.toString(8)}`, name);
    this.create(p, { kind: "dir", mode }, "mkdirat", name);
  }

  mknodat(dirfd: number, name: string, mode: number, dev: number): void {
    const p = this.at(dirfd, name);
    this.record("mknodat", [dirfd, name, mode, dev], `mknodat ${p} ${mode.toString(8)} ${dev >> 8}:${dev & 0xff}`, name);
    this.create(p, { kind: (mode & 0o170000) === 0o020000 ? "char" : "other", rdev: dev, mode: mode & 0o7777 }, "mknodat", name);
  }

  symlinkat(target: string, dirfd: number, linkpath: string): void {
    const p = this.at(dirfd, linkpath);
    this.record("symlinkat", [target, dirfd, linkpath], `symlinkat ${p} -> ${target}`, linkpath);
    this.create(p, { kind: "symlink", target }, "symlinkat", linkpath);
  }

  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
    const p = this.at(dirfd, path);
    this.record("fchownat", [dirfd, path, uid, gid, flags], `fchownat ${p} ${uid}:${gid}`, path);
    if (!this.lookup(p, false)) throw new SyscallError("fchownat", 2, path);
  }

  unlinkat(dirfd: number, name: string, flags: number): void {
    const p = this.at(dirfd, name);
    this.record("unlinkat", [dirfd, name, flags], `unlinkat ${p}`, name);
    const real = join(this.resolve(parent(p), "/", true), p.slice(p.lastIndexOf("/") + 1));
    const n = this.tree.get(real);
    if (!n) throw new SyscallError("unlinkat", 2, name);
    if (n.kind === "dir") throw new SyscallError("unlinkat", 21, name);
    if (this.mountPoints.has(real)) throw new SyscallError("unlinkat", 16, name);
    this.tree.delete(real);
  }

  mkdir(path: string, mode = 0o777): void {
    const p = this.hostPath(path);
    this.record("mkdir", [path, mode], `mkdir ${p} ${mode.toString(8)}`, path);
    this.create(p, { kind: "dir", mode }, "mkdir", path);
  }

  chmod(path: string, mode: number): void {
    const p = this.hostPath(path);
    this.record("chmod", [path, mode], `chmod ${p} ${mode.toString(8)}`, path);
    const n = this.lookup(p, true);
    if (!n) throw new SyscallError("fchmodat", 2, path);
    n.mode = mode;
  }

  readlink(path: string): string {
    const p = this.hostPath(path);
    this.record("readlink", [path], `readlink ${p}`, path);
    // /proc/self/fd/N names the file the fd is open on, as the kernel resolved it.
    if (/^\/proc\/self\/fd\/\d+$/.test(path)) return this.toVisible(p);
    const n = this.lookup(p, false);
    if (n?.kind !== "symlink") throw new SyscallError("readlink", n ? 22 : 2, path);
    return n.target!;
  }

  stat(path: string): FileStat {
    const p = this.hostPath(path);
    this.record("stat", [path], `stat ${p}`, path);
    const n = this.lookup(p, true);
    if (!n) throw new SyscallError("stat", 2, path);
    return { kind: n.kind, rdev: n.rdev ?? 0 };
  }

  readFile(path: string): string {
    const p = this.hostPath(path);
    this.record("readFile", [path], `readFile ${p}`, path);
    const n = this.lookup(p, true);
    if (!n) throw new SyscallError("open", 2, path);
    if (n.kind !== "file") throw new SyscallError("read", 21, path);
    return n.content ?? "";
  }

  writeFile(path: string, data: string): void {
    const p = this.hostPath(path);
    this.record("writeFile", [path, data], `writeFile ${p} ${JSON.stringify(data)}`, path);
    const n = this.lookup(p, true);
    if (n) n.content = data;
    else this.create(p, { kind: "file", content: data }, "open", path);
  }

  unshare(flags: number): void {
    this.record("unshare", [flags], `unshare 0x${flags.toString(16)}`);
  }

  setns(fd: number, nstype: number, path?: string): void {
    this.record("setns", [fd, nstype, path], `setns ${this.fds.get(fd) ?? fd} 0x${nstype.toString(16)}`);
  }

  prctl(option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
    this.record("prctl", [option, arg2, arg3, arg4, arg5], `prctl ${option} ${arg2}`);
    return 0;
  }

  sethostname(name: string): void {
    this.record("sethostname", [name], `sethostname ${name}`);
  }

  interfaceUp(name: string): void {
    this.record("interfaceUp", [name], `interfaceUp ${name}`);
  }

  capget(): CapSets {
    this.record("capget", [], "capget");
    return { ...this.caps };
  }

  capset(sets: CapSets): void {
    this.record("capset", [sets], `capset e=${sets.effective.toString(16)} p=${sets.permitted.toString(16)} i=${sets.inheritable.toString(16)}`);
    this.caps = { ...sets };
  }

  setgroups(gids: number[]): void {
    this.record("setgroups", [gids], `setgroups ${gids.join(",") || "-"}`);
  }

  setgid(gid: number): void {
    this.record("setgid", [gid], `setgid ${gid}`);
  }

  setuid(uid: number): void {
    this.record("setuid", [uid], `setuid ${uid}`);
  }

  seccompFilter(filter: Uint8Array): void {
    this.record("seccompFilter", [Buffer.from(filter)], `seccomp ${filter.length / 8} instructions`, undefined, "prctl");
  }

  // ---- internals ----

  private record(name: string, args: unknown[], view: string, path?: string, errName = name): void {
    const call: Call = { n: this.calls.length + 1, name, args, view };
    this.calls.push(call);
    // libc.ts's close() ignores the result (there is nothing a caller could do), so it never fails.
    if (name === "close") return;
    const i = this.failures.findIndex((f) => (f.at !== undefined ? f.at === call.n : f.when!(call)));
    if (i < 0) return;
    const f = this.failures[i]!;
    if (f.once) this.failures.splice(i, 1);
    call.failed = errnoName(f.errno);
    throw new SyscallError(errName, f.errno, path ?? (typeof args[0] === "string" ? args[0] : undefined));
  }

  private newFd(path: string): number {
    const fd = this.nextFd++;
    this.fds.set(fd, path);
    return fd;
  }

  private dirOf(dirfd: number): string {
    if (dirfd === AT_FDCWD) return this.cwdHost();
    const p = this.fds.get(dirfd);
    if (p === undefined) throw new SyscallError("openat", 9, String(dirfd));
    return p;
  }

  private cwdHost(): string {
    return this.cwd === "/" ? this.root : this.root === "/" ? this.cwd : this.root + this.cwd;
  }

  /** A path given relative to a dirfd, as a host path (not yet resolved through symlinks). */
  private at(dirfd: number, path: string): string {
    if (path.startsWith("/")) return this.hostPath(path);
    const base = this.dirOf(dirfd);
    return path === "." || path === "" ? base : join(base, path);
  }

  /** An absolute or cwd-relative path, or /proc/self/fd/N[/rest], as a host path. */
  private hostPath(path: string): string {
    const m = /^\/proc\/self\/fd\/(\d+)(\/.*)?$/.exec(path);
    if (m) {
      const fd = this.fds.get(Number(m[1]));
      if (fd === undefined) throw new SyscallError("open", 2, path);
      // A detached tree (open_tree) shows the files of the path it was cloned from.
      const base = fd.replace(/^tree:/, "");
      return m[2] ? base + m[2] : base;
    }
    if (path.startsWith("/")) return this.root === "/" ? path : path === "/" ? this.root : this.root + path;
    return path === "." ? this.cwdHost() : join(this.cwdHost(), path);
  }

  private toVisible(hostPath: string): string {
    if (this.root === "/") return hostPath;
    if (hostPath === this.root) return "/";
    return hostPath.startsWith(this.root + "/") ? hostPath.slice(this.root.length) : hostPath;
  }

  /**
   * Resolve symlinks along a host path. `rootIn` is where absolute link targets land and
   * what ".." cannot climb above (RESOLVE_IN_ROOT); "/" for ordinary resolution.
   */
  private resolve(path: string, rootIn: string, followLast: boolean, depth = 0): string {
    if (depth > 40) throw new SyscallError("open", 40, path);
    const base = rootIn === "/" ? "" : rootIn;
    const rel = rootIn === "/" ? path : path.slice(rootIn.length);
    const parts = rel.split("/").filter((x) => x && x !== ".");
    let cur = rootIn;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === "..") {
        if (cur !== rootIn) cur = parent(cur);
        continue;
      }
      const next = join(cur, part);
      const n = this.tree.get(next);
      if (n?.kind === "symlink" && (followLast || i < parts.length - 1)) {
        const t = n.target!;
        const rest = parts.slice(i + 1).join("/");
        const target = t.startsWith("/") ? base + t : join(cur, t);
        const joined = rest ? `${target}/${rest}` : target;
        return this.resolve(joined || "/", rootIn, followLast, depth + 1);
      }
      cur = next;
    }
    return cur;
  }

  private lookup(path: string, follow: boolean): Node | undefined {
    return this.tree.get(this.resolve(path, "/", follow));
  }

  private open(p: string, rootIn: string, flags: number, mode: number, name: string, shown: string): number {
    const inRoot = rootIn !== "/" && (p === rootIn || p.startsWith(rootIn + "/"));
    const real = this.resolve(p, inRoot ? rootIn : "/", true);
    let n = this.tree.get(real);
    if (!n) {
      if (!(flags & O_CREAT)) throw new SyscallError(name, 2, shown);
      const dir = this.tree.get(parent(real));
      if (dir?.kind !== "dir") throw new SyscallError(name, dir ? 20 : 2, shown);
      n = { kind: "file", content: "", mode };
      this.tree.set(real, n);
    } else if (flags & O_CREAT && flags & O_EXCL) {
      throw new SyscallError(name, 17, shown);
    }
    if (flags & O_DIRECTORY && n.kind !== "dir") throw new SyscallError(name, 20, shown);
    return this.newFd(real);
  }

  private create(p: string, node: Node, name: string, shown: string): void {
    const real = join(this.resolve(parent(p), "/", true), p.slice(p.lastIndexOf("/") + 1));
    if (this.tree.has(real)) throw new SyscallError(name, 17, shown);
    const dir = this.tree.get(parent(real));
    if (!dir) throw new SyscallError(name, 2, shown);
    if (dir.kind !== "dir") throw new SyscallError(name, 20, shown);
    this.tree.set(real, node);
  }

  private clearSubtree(p: string): void {
    for (const k of [...this.tree.keys()]) if (k.startsWith(p === "/" ? "/" : p + "/") && k !== p) this.tree.delete(k);
    const n = this.tree.get(p);
    if (n?.kind === "dir") n.mode = 0o755;
  }

  private replaceSubtree(target: string, source: string): void {
    if (target === source) return;
    const copied: [string, Node][] = [];
    const prefix = source === "/" ? "/" : source + "/";
    for (const [k, v] of this.tree) if (k.startsWith(prefix)) copied.push([target + k.slice(source.length), { ...v }]);
    this.clearSubtree(target);
    const s = this.tree.get(source);
    if (s) this.tree.set(target, { ...s });
    for (const [k, v] of copied) this.tree.set(k, v);
  }
}
