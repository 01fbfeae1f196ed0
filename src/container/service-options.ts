// The flags of cli/service-flags.ts, checked the way Docker's CLI and daemon check them, before
// anything is created: restart policy, healthcheck (merged with the image's HEALTHCHECK),
// labels (merged with the image's), and the options init applies (run-options.ts).
import { readFileSync } from "node:fs";
import { UserError } from "../util/errors.ts";
import type { ContainerConfig } from "../image/config.ts";
import { parseRestartPolicy, type RestartPolicy } from "./restart-policy.ts";
import { mergeHealthcheck, parseGoDuration, type HealthConfig } from "./health.ts";
import { parseRunOptions, type RunFlags, type RunOptions } from "./run-options.ts";

export interface ServiceFlags extends RunFlags {
  restart?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  noHealthcheck?: boolean;
  labels?: string[];
  labelFiles?: string[];
  cidfile?: string;
  attach?: string[];
  pull?: string;
  quiet?: boolean;
  platform?: string;
}

export interface ServiceSettings {
  restartPolicy?: RestartPolicy;
  /** The container's own (flags over the image's); undefined: none. */
  healthcheck?: HealthConfig;
  labels: Record<string, string>;
  runOptions?: RunOptions;
}

/** What can be checked before the image is known (run calls this first: a bad flag costs nothing). */
export function checkServiceFlags(f: ServiceFlags, autoRemove: boolean): void {
  const p = f.restart === undefined ? undefined : parseRestartPolicy(f.restart);
  if (autoRemove && p && p.name !== "no") throw new UserError("Conflicting options: --restart and --rm");
  healthFlags(f);
  flagLabels(f);
  if (f.pull !== undefined && !["always", "missing", "never"].includes(f.pull)) {
    throw new UserError(`invalid pull option: '${f.pull}': must be one of "always", "missing" or "never"`);
  }
  if (f.platform !== undefined && !/^linux\/(amd64|x86_64|x86-64)$/.test(f.platform.toLowerCase()) && f.platform.toLowerCase() !== "linux") {
    throw new UserError(`image platform ${f.platform} is not supported here: minid runs linux/amd64 images only`);
  }
  for (const s of f.attach ?? []) {
    if (!["stdin", "stdout", "stderr"].includes(s.toLowerCase())) {
      throw new UserError(`invalid argument "${s}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
    }
  }
}

/** Everything, with the image's config: what the container record keeps. */
export function serviceSettings(f: ServiceFlags, image: ContainerConfig & { Healthcheck?: unknown }): ServiceSettings {
  const restartPolicy = f.restart === undefined ? undefined : parseRestartPolicy(f.restart);
  const own = healthFlags(f);
  const healthcheck = f.noHealthcheck ? undefined : mergeHealthcheck(own, image.Healthcheck as HealthConfig | undefined);
  const labels = { ...(image.Labels ?? {}), ...flagLabels(f) };
  const runOptions = parseRunOptions(f);
  return { restartPolicy: restartPolicy?.name === "no" ? undefined : restartPolicy, healthcheck, labels, runOptions };
}

function healthFlags(f: ServiceFlags): Partial<HealthConfig> | undefined {
  const given = [f.healthCmd, f.healthInterval, f.healthTimeout, f.healthRetries, f.healthStartPeriod].some((v) => v !== undefined);
  if (f.noHealthcheck) {
    if (given) throw new UserError("--no-healthcheck conflicts with --health-* options");
    return undefined;
  }
  if (!given) return undefined;
  const h: Partial<HealthConfig> = {};
  if (f.healthCmd !== undefined && f.healthCmd !== "") h.Test = ["CMD-SHELL", f.healthCmd];
  const dur = (v: string | undefined, flag: string, key: "Interval" | "Timeout" | "StartPeriod") => {
    if (v === undefined) return;
    const ns = parseGoDuration(v, flag);
    if (ns < 0) throw new UserError(`${flag} cannot be negative`);
    if (ns > 0 && ns < 1_000_000) throw new UserError(`${key} in Healthcheck cannot be less than 1ms`);
    if (ns) h[key] = ns;
  };
  dur(f.healthInterval, "--health-interval", "Interval");
  dur(f.healthTimeout, "--health-timeout", "Timeout");
  dur(f.healthStartPeriod, "--health-start-period", "StartPeriod");
  if (f.healthRetries !== undefined) {
    if (!/^-?\d+$/.test(f.healthRetries)) {
      throw new UserError(`invalid argument "${f.healthRetries}" for "--health-retries" flag: strconv.ParseInt: parsing "${f.healthRetries}": invalid syntax`);
    }
    const n = Number(f.healthRetries);
    if (n < 0) throw new UserError("--health-retries cannot be negative");
    if (n) h.Retries = n;
  }
  return h;
}

/** --label-file lines, then --label (later wins), as Docker's CLI reads them. */
function flagLabels(f: ServiceFlags): Record<string, string> {
  const words: string[] = [];
  for (const file of f.labelFiles ?? []) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UserError(`open ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
    }
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.replace(/^\s+/, "");
      if (line && !line.startsWith("#")) words.push(line);
    }
  }
  words.push(...(f.labels ?? []));
  const out: Record<string, string> = {};
  for (const w of words) {
    const i = w.indexOf("=");
    const k = i < 0 ? w : w.slice(0, i);
    if (!k.trim()) throw new UserError(`invalid label '${w}': empty name`);
    out[k] = i < 0 ? "" : w.slice(i + 1);
  }
  return out;
}
