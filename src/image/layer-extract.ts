// Writes a tar stream's entries into a layer directory, byte-exact (names, modes, owners,
// times, xattrs, devices, hardlinks, whiteouts) and safe against hostile tars.
//
// Safety model: the destination is a directory we create, so nothing but this code writes in
// it. Every entry's parent is opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) (or an
// O_NOFOLLOW walk), and the entry itself is created relative to that fd and never followed:
// no symlink, whether planted by this tar or not, can make an entry land outside the layer.
import fs from "node:fs";
import * as libc from "../linux/libc.ts";
import { reject, show } from "./layer-error.ts";
import { META_MAX, cstring, number, octal, parsePax, type Pax } from "./tar-header.ts";
import type { ApplyLimits } from "./layer-types.ts";

const { fsat } = libc;

const DIR_FLAGS = libc.O_RDONLY | libc.O_DIRECTORY | libc.O_NOFOLLOW | libc.O_CLOEXEC;
const RESOLVE =
  libc.RESOLVE_BENEATH | libc.RESOLVE_NO_SYMLINKS | libc.RESOLVE_NO_MAGICLINKS | libc.RESOLVE_NO_XDEV;

const enum St {
  Header,
  Data, // file body being written to this.fd
  Meta, // extended header / long name body being collected
  Skip, // bytes to drop (padding, bodies of header-only types, global headers)
  Eof,
}

interface FileMeta {
  name: string;
  uid: number;
  gid: number;
  mode: number;
  atime: bigint;
  mtime: bigint;
  xattrs?: Map<string, Buffer>;
}

interface DirMeta {
  mode: number;
  atime: bigint;
  mtime: bigint;
}

export class Extractor {
  entries = 0;
  private offset = 0; // uncompressed bytes consumed
  private st = St.Header;
  private hdr = Buffer.alloc(512);
  private hdrLen = 0;
  private remaining = 0;
  private pad = 0;
  private zeroBlock = false;

  private metaKind = 0;
  private metaBuf: Buffer = Buffer.alloc(0);
  private metaLen = 0;
  private pax: Pax | null = null;
  private longName: string | null = null;
  private longLink: string | null = null;

  private fd = -1;
  private file: FileMeta | null = null;
  /** The entry being processed, for error messages. */
  current: string | null = null;

  private root: number;
  private readonly dirs = new Map<string, number>(); // verified directory fds by relative path
  private readonly dirMeta = new Map<string, DirMeta>(); // applied at the end, after children
  private readonly umask: number;
  /** Owner that new nodes get anyway (no directory is setgid until finish()). */
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;

  constructor(
    private readonly dest: string,
    private readonly limits: Required<ApplyLimits>,
  ) {
    this.root = fsat.openat(libc.AT_FDCWD, dest, DIR_FLAGS);
    // Whatever the umask or a setgid parent did, an unlisted root is 0755 and ours, like any
    // implicit directory; and from here on no directory in dest is setgid until finish().
    libc.fchown(this.root, process.geteuid?.() ?? 0, process.getegid?.() ?? 0, dest);
    libc.fchmod(this.root, 0o755, dest);
    this.umask = process.umask();
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      switch (this.st) {
        case St.Header: {
          let h: Uint8Array;
          if (this.hdrLen === 0 && n - off >= 512) {
            h = chunk.subarray(off, off + 512);
            off += 512;
          } else {
            const k = Math.min(512 - this.hdrLen, n - off);
            this.hdr.set(chunk.subarray(off, off + k), this.hdrLen);
            this.hdrLen += k;
            off += k;
            if (this.hdrLen < 512) return;
            this.hdrLen = 0;
            h = this.hdr;
          }
          this.offset += 512;
          this.onHeader(h);
          break;
        }
        case St.Data: {
          const k = Math.min(this.remaining, n - off);
          writeAll(this.fd, chunk, off, k);
          off += k;
          this.offset += k;
          this.remaining -= k;
          if (this.remaining === 0) {
            this.finishFile();
            this.afterBody();
          }
          break;
        }
        case St.Meta: {
          const k = Math.min(this.remaining, n - off);
          this.metaBuf.set(chunk.subarray(off, off + k), this.metaLen);
          this.metaLen += k;
          off += k;
          this.offset += k;
          this.remaining -= k;
          if (this.remaining === 0) {
            this.onMeta();
            this.afterBody();
          }
          break;
        }
        case St.Skip: {
          const k = Math.min(this.remaining, n - off);
          off += k;
          this.offset += k;
          this.remaining -= k;
          if (this.remaining === 0) this.afterBody();
          break;
        }
        case St.Eof:
          // Bytes after the end-of-archive marker (record padding) count toward the digests only.
          this.offset += n - off;
          return;
      }
    }
  }

  /** The input ended: it must end between entries. */
  end(): void {
    if (this.st === St.Eof || (this.st === St.Header && this.hdrLen === 0)) {
      if (this.pax || this.longName !== null || this.longLink !== null) {
        throw reject("archive ends after an extended header, before its entry (truncated?)");
      }
      return;
    }
    const what = this.st === St.Data && this.file ? ` inside entry ${show(this.file.name)}` : "";
    throw reject(`archive is truncated${what} at byte ${this.offset + this.hdrLen}`);
  }

  private afterBody(): void {
    if (this.pad > 0) {
      this.remaining = this.pad;
      this.pad = 0;
      this.st = St.Skip;
    } else {
      this.st = St.Header;
    }
  }

  private expectBody(size: number, st: St): void {
    this.pad = (512 - (size % 512)) % 512;
    if (size > 0) {
      this.remaining = size;
      this.st = st;
    } else {
      if (st === St.Meta) this.onMeta();
      this.afterBody();
    }
  }

  private onHeader(h: Uint8Array): void {
    let sum = 0;
    let ssum = 0;
    for (let i = 0; i < 512; i++) {
      const b = h[i]!;
      sum += b;
      ssum += b < 128 ? b : b - 256;
    }
    if (sum === 0) {
      // Two zero blocks end the archive; a lone one followed by the end of input is tolerated.
      if (this.zeroBlock) this.st = St.Eof;
      this.zeroBlock = true;
      return;
    }
    const at = this.offset - 512;
    if (this.zeroBlock) throw reject(`data after an end-of-archive block at byte ${at - 512}`);
    let field = 0;
    let sfield = 0;
    for (let i = 148; i < 156; i++) {
      field += h[i]!;
      sfield += h[i]! < 128 ? h[i]! : h[i]! - 256;
    }
    const stored = octal(h, 148, 8);
    if (stored !== sum - field + 256 && stored !== ssum - sfield + 256) {
      throw reject(`invalid tar header checksum at byte ${at}${at === 0 ? " (not a tar archive?)" : ""}`);
    }

    const type = h[156]!;
    let size = number(h, 124, 12, "size");
    switch (type) {
      case 0x78 /* x */:
      case 0x67 /* g */:
      case 0x4c /* L */:
      case 0x4b /* K */: {
        if (size > META_MAX) throw reject(`extended header of ${size} bytes at byte ${at} is too large`);
        this.checkBudget(size, at, null);
        if (type === 0x67) {
          // Global headers are ignored, as Go's archive/tar (and so Docker) does.
          this.expectBody(size, St.Skip);
        } else {
          this.metaKind = type;
          this.metaBuf = Buffer.allocUnsafe(size);
          this.metaLen = 0;
          this.expectBody(size, St.Meta);
        }
        return;
      }
    }

    const pax = this.pax;
    this.pax = null;
    let name = pax?.path ?? this.longName;
    if (name == null) {
      name = cstring(h, 0, 100);
      // "ustar\0" (POSIX) has a prefix field; old GNU ("ustar  ") keeps times there instead.
      if (h[257] === 0x75 && h[261] === 0x72 && h[262] === 0) {
        // POSIX prefix; star archives ("tar\0" at 508) keep other fields after 131 bytes.
        const prefix = cstring(h, 345, h[508] === 0x74 && h[511] === 0 ? 131 : 155);
        if (prefix) name = `${prefix}/${name}`;
      }
    }
    const link = pax?.linkpath ?? this.longLink ?? cstring(h, 157, 100);
    this.longName = this.longLink = null;
    this.current = name;

    if (++this.entries > this.limits.maxEntries) {
      throw reject(`layer has more than ${this.limits.maxEntries} entries`);
    }
    if (pax?.size !== undefined) size = pax.size;
    if (type === 0x53 /* S */ || pax?.sparse) {
      throw reject(`entry ${show(name)} is a GNU sparse file, which is not supported`);
    }
    // Like Go's archive/tar: these types never carry a body, whatever the size field says.
    const headerOnly = type >= 0x31 && type <= 0x36;
    if (headerOnly) size = 0;
    this.checkBudget(size, at, name);

    const mtime = pax?.mtime ?? BigInt(number(h, 136, 12, "mtime", true)) * 1_000_000_000n;
    const meta: FileMeta = {
      name,
      uid: pax?.uid ?? number(h, 108, 8, "uid"),
      gid: pax?.gid ?? number(h, 116, 8, "gid"),
      mode: number(h, 100, 8, "mode") & 0o7777,
      mtime,
      atime: pax?.atime ?? mtime,
      xattrs: pax?.xattrs,
    };
    if (meta.uid > 0xfffffffe || meta.gid > 0xfffffffe) {
      throw reject(`entry ${show(name)} has an out-of-range uid/gid`);
    }
    if (name.includes("\0") || link.includes("\0")) throw reject(`entry ${show(name)} has a NUL in its name`);

    const rel = clean(name);
    if (rel === null) throw reject(`entry ${show(name)} would escape the layer directory`);
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    const base = rel.slice(slash + 1);

    if (base.startsWith(".wh.")) {
      this.whiteout(name, parent, base, meta);
      this.expectBody(size, St.Skip);
      return;
    }

    let kind = type;
    // Pre-POSIX archives mark directories as regular files with a trailing slash.
    if ((type === 0x30 || type === 0) && name.endsWith("/")) kind = 0x35;
    if (rel === "" && kind !== 0x35) throw reject(`entry ${show(name)} names the layer root but is not a directory`);

    switch (kind) {
      case 0x30 /* 0 */:
      case 0 /* old regular */:
      case 0x37 /* 7 contiguous */:
        this.regular(parent, base, meta);
        if (size > 0) this.expectBody(size, St.Data);
        else {
          this.finishFile();
          this.expectBody(0, St.Skip);
        }
        return;
      case 0x35 /* 5 */:
        this.directory(rel, parent, base, meta);
        break;
      case 0x32 /* 2 */:
        this.symlink(parent, base, link, meta);
        break;
      case 0x31 /* 1 */:
        this.hardlink(name, parent, base, link);
        break;
      case 0x33 /* 3 */:
      case 0x34 /* 4 */:
      case 0x36 /* 6 */: {
        const fmt = kind === 0x33 ? libc.S_IFCHR : kind === 0x34 ? libc.S_IFBLK : libc.S_IFIFO;
        const dev =
          kind === 0x36 ? 0n : libc.makedev64(number(h, 329, 8, "devmajor"), number(h, 337, 8, "devminor"));
        this.special(parent, base, fmt, dev, meta);
        break;
      }
      default:
        throw reject(`entry ${show(name)} has unsupported tar type ${JSON.stringify(String.fromCharCode(type))}`);
    }
    this.expectBody(size, St.Skip);
  }

  private checkBudget(size: number, at: number, name: string | null): void {
    if (size > this.limits.maxBytes - this.offset) {
      const what = name === null ? "an extended header" : `entry ${show(name)}`;
      throw reject(
        `${what} at byte ${at} declares ${size} bytes, more than the layer size limit of ${this.limits.maxBytes} bytes allows`,
      );
    }
  }

  private onMeta(): void {
    const body = this.metaBuf.subarray(0, this.metaLen);
    this.metaBuf = Buffer.alloc(0);
    if (this.metaKind === 0x78) {
      this.pax = parsePax(body, this.pax ?? {});
    } else {
      // GNU long names are NUL-terminated.
      const end = body.indexOf(0);
      const s = body.toString("latin1", 0, end < 0 ? body.length : end);
      if (this.metaKind === 0x4c) this.longName = s;
      else this.longLink = s;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Creating entries. Names are kept as latin1 strings (one char per byte) and turned back into
  // the exact bytes for every syscall.

  private regular(parent: string, base: string, meta: FileMeta): void {
    const pfd = this.dirFd(parent, true);
    const b = bytes(base);
    const createMode = meta.mode & 0o777;
    this.fd = this.create(pfd, b, parent, () =>
      fsat.openat(pfd, b, libc.O_WRONLY | libc.O_CREAT | libc.O_EXCL | libc.O_NOFOLLOW | libc.O_CLOEXEC, createMode),
    );
    this.file = meta;
  }

  private finishFile(): void {
    const fd = this.fd;
    const m = this.file!;
    this.fd = -1;
    this.file = null;
    try {
      // Order matters: data first (a write clears file capabilities), then chown (clears
      // setuid/setgid and capabilities), then xattrs, then the full mode, then times.
      if (m.uid !== this.euid || m.gid !== this.egid) libc.fchown(fd, m.uid, m.gid);
      if (m.xattrs) this.setXattrs(m.xattrs, (n, v) => fsat.fsetxattr(fd, n, v));
      if ((m.mode & 0o7000) !== 0 || (m.mode & this.umask) !== 0) libc.fchmod(fd, m.mode);
      fsat.utimensat(fd, null, m.atime, m.mtime);
    } finally {
      libc.close(fd);
    }
  }

  private directory(rel: string, parent: string, base: string, meta: FileMeta): void {
    let fd: number;
    if (rel === "") {
      fd = this.root;
    } else {
      fd = this.dirs.get(rel) ?? -1;
      if (fd < 0) {
        const pfd = this.dirFd(parent, true);
        fd = this.mkdirOrOpen(pfd, bytes(base), rel);
        this.remember(rel, fd);
      }
    }
    // Always: the directory may exist already, created implicitly or by an earlier entry.
    libc.fchown(fd, meta.uid, meta.gid);
    if (meta.xattrs) this.setXattrs(meta.xattrs, (n, v) => fsat.fsetxattr(fd, n, v));
    // Mode and times wait for finish(): children would change the mtime, and a read-only mode
    // would get in the way of creating them without CAP_DAC_OVERRIDE.
    this.dirMeta.set(rel, { mode: meta.mode, atime: meta.atime, mtime: meta.mtime });
  }

  /** A directory entry over an existing directory only updates its metadata. */
  private mkdirOrOpen(pfd: number, b: Buffer, rel: string): number {
    try {
      fsat.mkdirat(pfd, b, 0o700);
    } catch (e) {
      if (errnoOf(e) !== "EEXIST") throw e;
    }
    try {
      return fsat.openat(pfd, b, DIR_FLAGS);
    } catch (e) {
      const code = errnoOf(e);
      if (code !== "ENOTDIR" && code !== "ELOOP") throw e;
    }
    this.remove(pfd, b, rel);
    fsat.mkdirat(pfd, b, 0o700);
    return fsat.openat(pfd, b, DIR_FLAGS);
  }

  private symlink(parent: string, base: string, target: string, meta: FileMeta): void {
    const pfd = this.dirFd(parent, true);
    const b = bytes(base);
    // The target is stored verbatim: absolute or climbing targets are normal in a rootfs and
    // harmless here, because nothing in this module ever follows a symlink.
    this.create(pfd, b, parent, () => fsat.symlinkat(bytes(target), pfd, b));
    this.finishNode(pfd, b, meta, false);
  }

  private special(parent: string, base: string, fmt: number, dev: bigint, meta: FileMeta): void {
    const pfd = this.dirFd(parent, true);
    const b = bytes(base);
    this.create(pfd, b, parent, () => fsat.mknodat(pfd, b, fmt | (meta.mode & 0o777), dev));
    this.finishNode(pfd, b, meta, true);
  }

  private finishNode(pfd: number, b: Buffer, meta: FileMeta, chmod: boolean): void {
    if (meta.uid !== this.euid || meta.gid !== this.egid) {
      fsat.fchownat(pfd, b, meta.uid, meta.gid, libc.AT_SYMLINK_NOFOLLOW);
    }
    if (meta.xattrs) {
      // No fd can carry xattrs for a symlink or device; /proc/self/fd/<parent>/<name> with
      // lsetxattr reaches the node itself through a parent we have already vetted.
      const p = Buffer.concat([Buffer.from(`/proc/self/fd/${pfd}/`), b]);
      this.setXattrs(meta.xattrs, (n, v) => fsat.lsetxattr(p, n, v));
    }
    if (chmod) fsat.fchmodat(pfd, b, meta.mode);
    fsat.utimensat(pfd, b, meta.atime, meta.mtime, libc.AT_SYMLINK_NOFOLLOW);
  }

  private hardlink(name: string, parent: string, base: string, link: string): void {
    const target = clean(link);
    if (target === null) throw reject(`hardlink ${show(name)} -> ${show(link)} would escape the layer directory`);
    if (target === "") throw reject(`hardlink ${show(name)} points at the layer root`);
    const ts = target.lastIndexOf("/");
    const tparent = ts < 0 ? "" : target.slice(0, ts);
    const tb = bytes(target.slice(ts + 1));
    const notFound = () =>
      reject(`hardlink ${show(name)} -> ${show(link)} does not point at an earlier entry of this layer`);
    const pfd = this.dirFd(parent, true);
    // The target's directory is opened outside the cache, so caching cannot close pfd under us.
    let tfd: number;
    try {
      tfd = tparent === parent ? pfd : this.openDir(tparent, false, `hardlink ${show(name)} -> ${show(link)}`);
    } catch (e) {
      if (errnoOf(e) === "ENOENT") throw notFound();
      throw e;
    }
    const b = bytes(base);
    // Hard links share the target's inode and metadata, as GNU tar does: the entry's own
    // owner/mode/mtime fields are not re-applied (that would clear the target's capabilities).
    try {
      this.create(pfd, b, parent, () => fsat.linkat(tfd, tb, pfd, b, 0));
    } catch (e) {
      if (errnoOf(e) === "ENOENT") throw notFound();
      if (errnoOf(e) === "EPERM") throw reject(`hardlink ${show(name)} -> ${show(link)} points at a directory`);
      throw e;
    } finally {
      if (tfd !== pfd && tfd !== this.root) libc.close(tfd);
    }
  }

  private whiteout(name: string, parent: string, base: string, meta: FileMeta): void {
    if (base === ".wh..wh..opq") {
      // Opaque directory: overlayfs spells it as an xattr on the directory itself.
      const fd = this.dirFd(parent, true);
      fsat.fsetxattr(fd, "trusted.overlay.opaque", Buffer.from("y"));
      return;
    }
    // Other ".wh..wh." names are aufs bookkeeping (e.g. .wh..wh.plnk); Docker skips them too.
    if (base.startsWith(".wh..wh.")) return;
    const target = base.slice(4);
    if (target === "" || target === "." || target === "..") {
      throw reject(`whiteout ${show(name)} does not name a file`);
    }
    const pfd = this.dirFd(parent, true);
    const b = bytes(target);
    // overlayfs whiteout: a 0/0 character device, mode 0, owned as the tar entry says.
    this.create(pfd, b, parent, () => fsat.mknodat(pfd, b, libc.S_IFCHR, 0n));
    fsat.fchownat(pfd, b, meta.uid, meta.gid, libc.AT_SYMLINK_NOFOLLOW);
    fsat.utimensat(pfd, b, meta.atime, meta.mtime, libc.AT_SYMLINK_NOFOLLOW);
  }

  private setXattrs(xattrs: Map<string, Buffer>, set: (name: string, value: Buffer) => void): void {
    for (const [n, v] of xattrs) {
      // overlayfs reads trusted.overlay.* (redirect, metacopy, opaque...) from lower layers: a
      // tar must not be able to plant them. Whiteouts arrive as .wh. entries instead.
      if (n.startsWith("trusted.overlay.") || n.startsWith("user.overlay.")) continue;
      try {
        set(n, v);
      } catch (e) {
        // Filesystems without xattr support: same leniency as Docker.
        if (errnoOf(e) !== "EOPNOTSUPP") throw e;
      }
    }
  }

  /** Creates a non-directory entry, replacing whatever an earlier entry left at that name. */
  private create<T>(pfd: number, b: Buffer, parent: string, make: () => T): T {
    try {
      return make();
    } catch (e) {
      if (errnoOf(e) !== "EEXIST") throw e;
    }
    this.remove(pfd, b, join(parent, b.toString("latin1")));
    return make();
  }

  private remove(pfd: number, b: Buffer, rel: string): void {
    try {
      fsat.unlinkat(pfd, b, 0);
      return;
    } catch (e) {
      if (errnoOf(e) !== "EISDIR") throw e;
    }
    // A directory replaced by a non-directory goes with its whole subtree (as in Docker).
    for (const [k, fd] of this.dirs) {
      if (k === rel || k.startsWith(rel + "/")) {
        libc.close(fd);
        this.dirs.delete(k);
      }
    }
    for (const k of this.dirMeta.keys()) {
      if (k === rel || k.startsWith(rel + "/")) this.dirMeta.delete(k);
    }
    // Every component of the path was vetted (pfd came from a symlink-free resolution) and
    // only this code writes in dest; rmSync itself never follows symlinks.
    fs.rmSync(Buffer.concat([Buffer.from(`/proc/self/fd/${pfd}/`), b]), { recursive: true, force: true });
  }

  /** fd of directory `rel` inside dest, resolved without following any symlink. */
  private dirFd(rel: string, create: boolean): number {
    if (rel === "") return this.root;
    const hit = this.dirs.get(rel);
    if (hit !== undefined) return hit;
    const fd = this.openDir(rel, create);
    this.remember(rel, fd);
    return fd;
  }

  /** A new fd for directory `rel` (the caller closes it). */
  private openDir(rel: string, create: boolean, subject?: string): number {
    if (rel === "") return this.root;
    try {
      return fsat.openat2(this.root, bytes(rel), DIR_FLAGS, RESOLVE);
    } catch {
      // Missing components, a symlink, or a path too long for one call: walk it.
      return this.walk(rel, create, subject);
    }
  }

  private walk(rel: string, create: boolean, subject = `entry ${show(this.current ?? rel)}`): number {
    let cur = this.root;
    const parts = rel.split("/");
    try {
      for (let i = 0; i < parts.length; i++) {
        const b = bytes(parts[i]!);
        let fd: number;
        try {
          fd = fsat.openat(cur, b, DIR_FLAGS);
        } catch (e) {
          const code = errnoOf(e);
          const sofar = parts.slice(0, i + 1).join("/");
          if (code === "ENOENT" && create) {
            fsat.mkdirat(cur, b, 0o755);
            fd = fsat.openat(cur, b, DIR_FLAGS);
            if (this.umask & 0o755) libc.fchmod(fd, 0o755);
          } else if (code === "ELOOP" || code === "ENOTDIR") {
            let isLink = code === "ELOOP";
            try {
              isLink = fs.lstatSync(Buffer.concat([Buffer.from(`/proc/self/fd/${cur}/`), b])).isSymbolicLink();
            } catch {}
            throw reject(
              isLink
                ? `${subject} passes through symlink ${show(sofar)}`
                : `${subject} needs ${show(sofar)} to be a directory, but it is not`,
            );
          } else {
            throw e;
          }
        }
        if (cur !== this.root) libc.close(cur);
        cur = fd;
      }
      return cur;
    } catch (e) {
      if (cur !== this.root) libc.close(cur);
      throw e;
    }
  }

  private remember(rel: string, fd: number): void {
    // Tars list a directory's entries together, so a small cache catches nearly every parent.
    if (this.dirs.size >= 64) {
      for (const v of this.dirs.values()) libc.close(v);
      this.dirs.clear();
    }
    this.dirs.set(rel, fd);
  }

  /** Directory modes and times, last, so creating children cannot disturb them. */
  finish(): void {
    this.current = null;
    for (const fd of this.dirs.values()) libc.close(fd);
    this.dirs.clear();
    for (const [rel, m] of this.dirMeta) {
      let fd = this.root;
      if (rel !== "") {
        try {
          fd = fsat.openat2(this.root, bytes(rel), DIR_FLAGS, RESOLVE);
        } catch (e) {
          if (errnoOf(e) !== "ENAMETOOLONG") continue; // replaced by a later entry
          fd = this.walk(rel, false);
        }
      }
      try {
        libc.fchmod(fd, m.mode);
        fsat.utimensat(fd, null, m.atime, m.mtime);
      } finally {
        if (fd !== this.root) libc.close(fd);
      }
    }
    libc.close(this.root);
    this.root = -1;
  }

  /** Cleanup after a failure; never closes an fd twice (another thread may own the number). */
  closeAll(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
    for (const fd of this.dirs.values()) libc.close(fd);
    this.dirs.clear();
    if (this.root >= 0) libc.close(this.root);
    this.root = -1;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function errnoOf(e: unknown): string | undefined {
  return e instanceof libc.SyscallError ? e.code : (e as { code?: string })?.code;
}

function bytes(s: string): Buffer {
  return Buffer.from(s, "latin1");
}

function join(parent: string, base: string): string {
  return parent === "" ? base : `${parent}/${base}`;
}

/**
 * Lexically normalised path relative to the layer root ("" for the root itself), or null if
 * it climbs out. Leading "/" are dropped, as Docker and containerd do for absolute names.
 */
function clean(name: string): string | null {
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) return null;
      out.pop();
    } else {
      out.push(part);
    }
  }
  return out.join("/");
}

function writeAll(fd: number, buf: Uint8Array, off: number, len: number): void {
  while (len > 0) {
    const n = fs.writeSync(fd, buf, off, len);
    off += n;
    len -= n;
  }
}
