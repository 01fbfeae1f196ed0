// Small filesystem helpers whose point is crash safety: a reader never sees half a document.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from "../linux/libc.ts";

let seq = 0;

/** A name in the same directory that no other process will pick. */
export function tempSibling(path: string): string {
  return join(dirname(path), `.tmp-${basename(path)}-${process.pid}-${++seq}`);
}

/**
 * Write then rename, so readers see the old or the new content, never a torn one. `durable`
 * adds an fsync for content that must survive power loss (image blobs); state documents
 * skip it: ext4 and xfs order a rename after the data it replaces, and fsync costs
 * milliseconds on the start path.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, durable = false): void {
  const tmp = tempSibling(path);
  const fd = openSync(tmp, "w", mode);
  try {
    writeFileSync(fd, data);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown, mode = 0o644): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n", mode);
}

export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (e: any) {
    if (e?.code === "ENOENT") return undefined;
    throw e;
  }
}

export function mkdirp(path: string, mode = 0o755): void {
  mkdirSync(path, { recursive: true, mode });
}

export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true, maxRetries: 3 });
}

/** An exclusive advisory lock held until release(); the kernel drops it if we die. */
export class FileLock {
  private constructor(
    private fd: number,
    readonly path: string,
  ) {}

  static acquire(path: string, wait = true): FileLock | undefined {
    mkdirp(dirname(path));
    const fd = openSync(path, "a+", 0o600);
    if (!flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB), path)) {
      closeSync(fd);
      return undefined;
    }
    return new FileLock(fd, path);
  }

  release(): void {
    if (this.fd < 0) return;
    flock(this.fd, LOCK_UN, this.path);
    closeSync(this.fd);
    this.fd = -1;
  }
}

export function withLock<T>(path: string, fn: () => T): T {
  const lock = FileLock.acquire(path)!;
  try {
    return fn();
  } finally {
    lock.release();
  }
}

export async function withLockAsync<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = FileLock.acquire(path)!;
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
