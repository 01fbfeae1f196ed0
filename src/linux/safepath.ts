// Paths inside a container root resolved by the kernel with RESOLVE_IN_ROOT, so a symlink in
// an image (`/data -> /etc`) is followed *inside* the rootfs and can never lead a mount onto
// the host (CVE-2021-30465 class). Mounts then target `/proc/self/fd/N` of the opened fd.
// Every call goes through the syscall seam `sys` (realSyscalls in production).
import {
  SyscallError, O_PATH, O_DIRECTORY, O_CLOEXEC, O_CREAT, O_WRONLY, O_NOFOLLOW, RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
} from "./libc.ts";
import type { Syscalls } from "./syscalls.ts";

const RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

export function openInRoot(sys: Syscalls, rootFd: number, path: string, flags = O_PATH): number {
  return sys.openat2(rootFd, rel(path), flags | O_CLOEXEC, RESOLVE);
}

function rel(path: string): string {
  const r = path.replace(/^\/+/, "");
  return r === "" ? "." : r;
}

/**
 * mkdir -p inside the root; returns an O_PATH fd of the final directory. A dangling symlink
 * on the way is followed the way the kernel would inside the root (its target is created
 * there), never on the host.
 */
export function mkdirAllInRoot(sys: Syscalls, rootFd: number, path: string, mode = 0o755): number {
  let parts = rel(path).split("/").filter((p) => p && p !== ".");
  let links = 0;
  restart: for (;;) {
    let cur = "";
    let fd = openInRoot(sys, rootFd, ".", O_PATH | O_DIRECTORY);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const next = cur ? `${cur}/${part}` : part;
      let nfd: number;
      try {
        nfd = openInRoot(sys, rootFd, next, O_PATH | O_DIRECTORY);
      } catch (e) {
        if (!(e instanceof SyscallError) || e.code !== "ENOENT") {
          sys.close(fd);
          throw e;
        }
        const target = symlinkTarget(sys, fd, part);
        if (target !== undefined) {
          // Dangling symlink: continue from its target, resolved inside the root.
          sys.close(fd);
          if (++links > 40) throw new SyscallError("mkdir", 40 /* ELOOP */, path);
          const base = target.startsWith("/") ? [] : cur.split("/").filter(Boolean);
          parts = normalizeParts([...base, ...target.split("/"), ...parts.slice(i + 1)]);
          continue restart;
        }
        try {
          sys.mkdirat(fd, part, mode);
        } catch (e2) {
          if (!(e2 instanceof SyscallError) || e2.code !== "EEXIST") {
            sys.close(fd);
            throw e2;
          }
        }
        try {
          nfd = openInRoot(sys, rootFd, next, O_PATH | O_DIRECTORY);
        } catch (e3) {
          sys.close(fd);
          throw e3;
        }
      }
      sys.close(fd);
      fd = nfd;
      cur = next;
    }
    return fd;
  }
}

function symlinkTarget(sys: Syscalls, dirFd: number, name: string): string | undefined {
  try {
    return sys.readlink(`${fdPath(dirFd)}/${name}`);
  } catch {
    return undefined;
  }
}

/** Lexically resolve "." and ".." the way RESOLVE_IN_ROOT does: ".." at the root stays there. */
function normalizeParts(parts: string[]): string[] {
  const out: string[] = [];
  for (const p of parts) {
    if (!p || p === ".") continue;
    if (p === "..") out.pop();
    else out.push(p);
  }
  return out;
}

/** Make sure a regular file exists at path inside the root (for file bind mounts). */
export function ensureFileInRoot(sys: Syscalls, rootFd: number, path: string): number {
  const parent = path.replace(/\/[^/]*\/?$/, "") || "/";
  sys.close(mkdirAllInRoot(sys, rootFd, parent));
  try {
    return openInRoot(sys, rootFd, path, O_PATH);
  } catch (e) {
    if (!(e instanceof SyscallError) || e.code !== "ENOENT") throw e;
  }
  const fd = sys.openat2(rootFd, rel(path), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, RESOLVE, 0o644);
  sys.close(fd);
  return openInRoot(sys, rootFd, path, O_PATH);
}

export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** A file's text read inside the root (a symlink cannot lead out of it); null when it cannot be read. */
export function readTextInRoot(sys: Syscalls, rootFd: number, path: string): string | null {
  try {
    const fd = openInRoot(sys, rootFd, path, 0 /* O_RDONLY */);
    try {
      return (require("node:fs") as typeof import("node:fs")).readFileSync(fdPath(fd), "utf8");
    } finally {
      sys.close(fd);
    }
  } catch {
    return null;
  }
}
