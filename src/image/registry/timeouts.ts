// How long minid waits on a registry. Two limits, as Docker's transport has them:
//   connect: from opening a request until the response headers arrive (Docker's dialer gives
//            30 s to connect and its TLS handshake 10 s; a registry that accepts and never
//            answers is caught here, it would otherwise hang a pull forever);
//   idle:    the longest silence between two reads of a response body.
// Settable from the CLI (--registry-connect-timeout, --registry-idle-timeout) or the
// environment (MINID_REGISTRY_CONNECT_TIMEOUT, MINID_REGISTRY_IDLE_TIMEOUT).
import { UserError, quote } from "../../util/errors.ts";

export interface RegistryTimeouts {
  connectMs: number;
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: RegistryTimeouts = { connectMs: 30_000, idleMs: 30_000 };

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration ("30s", "1m30s", "500ms"; a bare number is seconds) in milliseconds. */
export function parseDuration(value: string, what: string): number {
  const v = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) ms = Number(v) * 1000;
  else {
    const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
    ms = 0;
    let end = 0;
    for (let m = re.exec(v); m; m = re.exec(v)) {
      ms += Number(m[1]) * UNITS[m[2]!]!;
      end = re.lastIndex;
    }
    if (!v || end !== v.length) throw new UserError(`invalid duration ${quote(value)} for ${what}: use e.g. 30s, 1m30s, 500ms`);
  }
  if (!(ms > 0) || !Number.isFinite(ms)) throw new UserError(`invalid duration ${quote(value)} for ${what}: it must be more than 0`);
  return Math.max(1, Math.round(ms));
}

let configured: Partial<RegistryTimeouts> = {};

/** Set by the CLI's global flags; wins over the environment. */
export function setRegistryTimeouts(t: Partial<RegistryTimeouts>): void {
  configured = { ...configured, ...t };
}

export function registryTimeouts(env: NodeJS.ProcessEnv = process.env): RegistryTimeouts {
  const fromEnv = (name: string) => (env[name] ? parseDuration(env[name]!, name) : undefined);
  return {
    connectMs: configured.connectMs ?? fromEnv("MINID_REGISTRY_CONNECT_TIMEOUT") ?? DEFAULT_TIMEOUTS.connectMs,
    idleMs: configured.idleMs ?? fromEnv("MINID_REGISTRY_IDLE_TIMEOUT") ?? DEFAULT_TIMEOUTS.idleMs,
  };
}

export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A request that outlived one of the limits. `phase` tells which: "connect" is never retried
 * (an unresponsive registry would multiply the wait), "idle" counts as a dropped connection
 * (a blob download resumes with a Range request, within the retry budget).
 */
export class RegistryTimeoutError extends UserError {
  readonly code: string;
  constructor(
    message: string,
    readonly phase: "connect" | "idle",
  ) {
    super(message);
    this.code = phase === "idle" ? "MINID_IDLE_TIMEOUT" : "MINID_CONNECT_TIMEOUT";
  }
}
