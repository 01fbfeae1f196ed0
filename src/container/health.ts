// Healthchecks: the config (the image's HEALTHCHECK, overridden field by field by --health-*),
// Docker's defaults, and the health state the watcher keeps in health.json beside the record
// (State.Health in inspect, "(healthy)" in ps). The checks themselves run in the watcher
// (health-runner.ts), through `minid exec`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.ts";

/** As Docker's container.HealthConfig (durations in nanoseconds). */
export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export const DEFAULT_INTERVAL_NS = 30e9;
export const DEFAULT_TIMEOUT_NS = 30e9;
export const DEFAULT_RETRIES = 3;
/** Docker keeps the last five results and at most 4 KiB of each one's output. */
export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT = 4096;

export type HealthStatus = "starting" | "healthy" | "unhealthy" | "none";

export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthResult[];
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds, with its error texts under Docker's flag wording. */
export function parseGoDuration(v: string, flag: string): number {
  const bad = (why: string) => new UserError(`invalid argument "${v}" for "${flag}" flag: time: ${why} "${v}"`);
  let s = v;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (!s) throw bad("invalid duration");
  let total = 0;
  const re = /((?:\d+(?:\.\d*)?|\.\d+))(ns|us|µs|ms|s|m|h)?/y;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw bad("invalid duration");
    if (!m[2]) throw bad("missing unit in duration");
    total += Number(m[1]) * UNIT_NS[m[2]]!;
    pos = re.lastIndex;
  }
  return sign * Math.round(total);
}

/**
 * The container's healthcheck: the flags' fields over the image's (Docker's merge); none when
 * neither gives a test, or the test is NONE.
 */
export function mergeHealthcheck(own: Partial<HealthConfig> | undefined, image: HealthConfig | undefined): HealthConfig | undefined {
  const test = own?.Test?.length ? own.Test : image?.Test;
  if (!test?.length || test[0] === "NONE") return undefined;
  const out: HealthConfig = { Test: test };
  for (const k of ["Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"] as const) {
    const v = own?.[k] || image?.[k];
    if (v) out[k] = v;
  }
  return out;
}

/** The command a test runs: CMD-SHELL through /bin/sh -c, CMD as it is. */
export function healthCommand(h: HealthConfig): string[] {
  const [kind, ...rest] = h.Test;
  if (kind === "CMD-SHELL") return ["/bin/sh", "-c", rest.join(" ")];
  if (kind === "CMD") return rest;
  // A bare list (no kind) is a CMD, as Docker reads an older image's config.
  return h.Test;
}

export function healthFile(containerDir: string): string {
  return join(containerDir, "health.json");
}

/** The health the watcher last wrote; undefined without a healthcheck (or before its first write). */
export function readHealth(containerDir: string): HealthState | undefined {
  try {
    const h = JSON.parse(readFileSync(healthFile(containerDir), "utf8")) as HealthState;
    if (typeof h?.Status !== "string" || !Array.isArray(h.Log)) return undefined;
    return h;
  } catch {
    return undefined;
  }
}

/** ps's words for it: "health: starting", "healthy", "unhealthy". */
export function healthWords(h: HealthState): string {
  return h.Status === "starting" ? "health: starting" : h.Status;
}
