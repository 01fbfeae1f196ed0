// Keeping a long-lived Bun process (the watcher) small. Most of a fresh Bun process's resident
// set is the clean, read-only text of the executable, touched once during start-up and never
// again. Dropping this process's mappings of those pages (MADV_DONTNEED on the executable's
// read-only, never-written mappings) costs nothing: the pages stay in the page cache, shared
// with every other minid process, and fault back in (a minor fault) if they are needed again.
// Mappings holding any private (written) page, such as RELRO, are never touched.
import { readFileSync } from "node:fs";
import { madvise, MADV_DONTNEED } from "../linux/libc.ts";

export function trimResidentText(): number {
  let smaps: string[];
  try {
    smaps = readFileSync("/proc/self/smaps", "utf8").split("\n");
  } catch {
    return 0;
  }
  const ranges: [bigint, bigint][] = [];
  for (let i = 0; i < smaps.length; i++) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s+(.*)$/.exec(smaps[i]!);
    // The executable and the shared libraries: file-backed, private, never written.
    if (!m || !m[4]!.startsWith("/") || (m[3] !== "r--p" && m[3] !== "r-xp")) continue;
    let anon = -1;
    let dirty = -1;
    for (let j = i + 1; j < smaps.length && !/^[0-9a-f]+-[0-9a-f]+ /.test(smaps[j]!); j++) {
      const a = /^(Anonymous|Private_Dirty):\s+(\d+)/.exec(smaps[j]!);
      if (a?.[1] === "Anonymous") anon = Number(a[2]);
      else if (a?.[1] === "Private_Dirty") dirty = Number(a[2]);
    }
    if (anon !== 0 || dirty !== 0) continue;
    const start = BigInt(`0x${m[1]}`);
    ranges.push([start, BigInt(`0x${m[2]}`) - start]);
  }
  // Last, in one tight loop: code run after the advice would fault its pages straight back.
  let dropped = 0;
  for (const [start, len] of ranges) if (madvise(start, len, MADV_DONTNEED)) dropped++;
  return dropped;
}

/** Resident and proportional set sizes of a process in kB (from smaps_rollup). */
export function memoryOf(pid: number | "self"): { rss: number; pss: number; anon: number; file: number } | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0);
    return { rss: get("Rss"), pss: get("Pss"), anon: get("Anonymous"), file: get("Pss_File") };
  } catch {
    return undefined;
  }
}
