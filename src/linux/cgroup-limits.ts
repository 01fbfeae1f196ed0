// Docker's limit flags as cgroup values: validation with Docker's wording, and the pure
// conversions (cpu shares to weight, --cpus to quota, memory+swap to swap). Exported for tests
// and for `inspect`-style display.
import { availableParallelism } from "node:os";
import { CgroupError, type CgroupLimits } from "./cgroup-common.ts";

export const CPU_PERIOD_US = 100_000; // docker's period for --cpus
const MIN_MEMORY = 6 * 1024 * 1024; // docker refuses smaller --memory values

/**
 * cpu.shares → cpu.weight, with the formula runc (opencontainers/cgroups) and crun adopted in
 * 2025: a quadratic in log2 space mapping 2→1, 1024→100 (the defaults match), 262144→10000.
 * The older linear formula mapped the default 1024 to 39, under-weighting every container.
 */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(Math.pow(10, exponent));
}

/** --cpus as nano-CPUs → "quota period" for v2 cpu.max (v1 writes the same two numbers). */
export function cpuMax(nanoCpus: number, periodUs = CPU_PERIOD_US): string {
  return `${cpuQuotaUs(nanoCpus, periodUs)} ${periodUs}`;
}

export function cpuQuotaUs(nanoCpus: number, periodUs = CPU_PERIOD_US): number {
  return Math.floor((nanoCpus * periodUs) / 1e9); // docker: NanoCPUs * period / 1e9
}

/** Docker's memory+swap semantics → v2 memory.swap.max ("max" or bytes of swap alone). */
export function swapMax(memory: number, memorySwap: number | undefined): string {
  const total = memorySwap === undefined || memorySwap === 0 ? memory * 2 : memorySwap;
  return total === -1 ? "max" : String(total - memory);
}

/** "0-2,4" → [0,1,2,4]; null when malformed. */
export function parseCpuList(s: string): number[] | null {
  const out = new Set<number>();
  if (s.trim() === "") return [];
  for (const part of s.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 65536) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * Docker's daemon-side checks, runnable before anything is created (the run command can call
 * it right after parsing flags). Throws CgroupError with docker's wording.
 */
export function validateLimits(l: CgroupLimits, cpuCount = availableParallelism()): void {
  if (l.memory !== undefined && l.memory > 0 && l.memory < MIN_MEMORY) {
    throw new CgroupError("Minimum memory limit allowed is 6MB");
  }
  if (l.memorySwap !== undefined && l.memorySwap !== 0) {
    if (!l.memory || l.memory <= 0) {
      throw new CgroupError(
        "You should always set the Memory limit when using Memoryswap limit, see usage",
      );
    }
    if (l.memorySwap !== -1 && l.memorySwap < l.memory) {
      throw new CgroupError(
        "Minimum memoryswap limit should be larger than memory limit, see usage",
      );
    }
  }
  if (l.nanoCpus !== undefined && l.nanoCpus !== 0) {
    if (l.nanoCpus < 0 || l.nanoCpus < 10_000_000 || l.nanoCpus > cpuCount * 1e9) {
      throw new CgroupError(
        `Range of CPUs is from 0.01 to ${cpuCount}.00, as there are only ${cpuCount} CPUs available`,
      );
    }
  }
  if (l.cpuShares !== undefined && l.cpuShares < 0) {
    throw new CgroupError(`invalid CPU shares ${l.cpuShares}: must be positive`);
  }
  if (l.cpusetCpus !== undefined && l.cpusetCpus !== "" && parseCpuList(l.cpusetCpus) === null) {
    throw new CgroupError(`Invalid value ${l.cpusetCpus} for cpuset cpus`);
  }
}

export function checkCpusAvailable(requested: string, available: string | null): void {
  if (available === null || available === "") return;
  const have = new Set(parseCpuList(available) ?? []);
  const want = parseCpuList(requested) ?? [];
  if (want.some((c) => !have.has(c))) {
    throw new CgroupError(
      `Requested CPUs are not available - requested ${requested}, available: ${available}`,
    );
  }
}

