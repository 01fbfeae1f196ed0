// The container's environment: the image's, then --env-file, then -e, and nothing of the
// host's except what the user passes by name (`-e VAR` copies VAR from the host, as Docker).
import { readFileSync } from "node:fs";
import { UserError } from "../util/errors.ts";
import { DEFAULT_PATH } from "../image/config.ts";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";

export function parseEnvFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e: any) {
    throw new UserError(`open ${path}: ${e?.code === "ENOENT" ? "no such file or directory" : e?.message}`);
  }
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (!line.trim() || line.trimStart().startsWith("#")) continue;
    out.push(line.trimStart());
  }
  return out;
}

/** Resolve `-e NAME` (no '=') from the host environment; a missing one is dropped. */
function expand(entry: string, hostEnv: Record<string, string | undefined>): string | undefined {
  if (entry.includes("=")) {
    if (entry.startsWith("=")) throw new UserError(`invalid environment variable: ${entry}`);
    return entry;
  }
  const v = hostEnv[entry];
  return v === undefined ? undefined : `${entry}=${v}`;
}

interface EnvSources {
  image: string[];
  files: string[];
  flags: string[];
  hostEnv?: Record<string, string | undefined>;
}

/**
 * The container's own variables as Docker records them (Config.Env): the user's (env files,
 * then -e, each name once, `-e NAME` copied from our environment), then the image's others.
 */
export function configEnv(opts: EnvSources): string[] {
  const hostEnv = opts.hostEnv ?? process.env;
  const user = new Map<string, string>();
  const own = (e: string) => {
    const x = expand(e, hostEnv);
    if (x) user.set(x.slice(0, x.indexOf("=")), x);
  };
  for (const f of opts.files) for (const e of parseEnvFile(f)) own(e);
  for (const e of opts.flags) own(e);
  return [...user.values(), ...opts.image.filter((e) => !user.has(e.slice(0, e.indexOf("="))))];
}

/**
 * The command's environment, in Docker's order: the daemon's PATH, HOSTNAME and TERM first,
 * the container's own variables replacing in place or appended, HOME last when none is set.
 */
export function buildEnv(opts: EnvSources & { hostname: string; home?: string; tty: boolean }): string[] {
  const env = daemonEnv(configEnv(opts), opts.hostname, opts.tty);
  if (!env.some((e) => e.startsWith("HOME=")) && opts.home) env.push(`HOME=${opts.home}`);
  return env;
}

/** The container's image's Env ([] when the image is gone). */
export function imageEnvOf(engine: Engine, st: ContainerState): string[] {
  try {
    const img = engine.images.getImage(st.imageId);
    return (img && (engine.images.getConfig(img).config as { Env?: string[] } | undefined)?.Env) || [];
  } catch {
    return [];
  }
}

/**
 * Config.Env of a container: kept at create (`extra.configEnv`); for a record made before,
 * worked out from its process environment without what the runtime adds to every process
 * (HOSTNAME, and HOME or TERM when minid supplied them), the user's first.
 */
export function declaredEnv(st: ContainerState, image: () => string[]): string[] {
  const kept = st.extra?.configEnv;
  if (Array.isArray(kept) && kept.every((e) => typeof e === "string")) return kept as string[];
  return guessDeclaredEnv(st.config.env, { hostname: st.config.hostname, tty: st.config.tty, image: image() });
}

function guessDeclaredEnv(env: string[], o: { hostname: string; tty: boolean; image: string[] }): string[] {
  const fromImage = new Set(o.image);
  const imageKeys = new Set(o.image.map((e) => e.split("=")[0]));
  const declared = env.filter((e) => {
    if (fromImage.has(e)) return true;
    const k = e.split("=")[0]!;
    if (k === "HOSTNAME" && e === `HOSTNAME=${o.hostname}`) return false;
    if (k === "HOME" && e === "HOME=/root" && !imageKeys.has("HOME")) return false;
    if (k === "TERM" && e === "TERM=xterm" && o.tty && !imageKeys.has("TERM")) return false;
    return true;
  });
  return [...declared.filter((e) => !fromImage.has(e)), ...declared.filter((e) => fromImage.has(e))];
}

/**
 * Docker's daemon environment of a process: PATH, HOSTNAME and (with a terminal) TERM, with the
 * container's declared variables replacing in place or appended. HOME, when none is set, comes
 * from the user's passwd entry where the process starts.
 */
export function daemonEnv(declared: string[], hostname: string, tty: boolean): string[] {
  const env = new Map<string, string>([["PATH", DEFAULT_PATH], ["HOSTNAME", hostname]]);
  if (tty) env.set("TERM", "xterm");
  for (const e of declared) env.set(e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1));
  return [...env].map(([k, v]) => `${k}=${v}`);
}
