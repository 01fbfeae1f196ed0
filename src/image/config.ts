// The OCI image config (what `minid inspect IMAGE` prints) and Dockerfile-style `--change`
// instructions that import and commit apply to it.
import { UserError } from "../util/errors.ts";

export interface ContainerConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  author?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  config: ContainerConfig;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: HistoryEntry[];
}

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Parse `CMD ["sh"]` / `CMD sh -c x` style arguments: JSON array or shell form. */
function parseCommandForm(rest: string, shell: boolean): string[] {
  const t = rest.trim();
  if (t.startsWith("[")) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new UserError(`invalid JSON array in change: ${t}`);
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
      throw new UserError(`change must be a JSON array of strings: ${t}`);
    }
    return v as string[];
  }
  return shell ? ["/bin/sh", "-c", t] : t.split(/\s+/).filter(Boolean);
}

function parseKeyValues(rest: string): [string, string][] {
  const out: [string, string][] = [];
  const t = rest.trim();
  if (!t.includes("=")) {
    const sp = t.search(/\s/);
    if (sp < 0) throw new UserError(`change needs KEY=VALUE or KEY VALUE: ${t}`);
    return [[t.slice(0, sp), t.slice(sp).trim()]];
  }
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (const m of t.matchAll(re)) {
    let v = m[2]!;
    if (v.startsWith('"')) v = JSON.parse(v);
    out.push([m[1]!, v]);
  }
  return out;
}

const CHANGE_KEYWORDS = ["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"];

/** Apply one Dockerfile instruction (the subset `docker commit --change` accepts). */
export function applyChange(cfg: ContainerConfig, change: string): void {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(change);
  if (!m) throw new UserError(`invalid change: "${change}"`);
  const kw = m[1]!.toUpperCase();
  const rest = m[2]!;
  switch (kw) {
    case "CMD":
      cfg.Cmd = parseCommandForm(rest, true);
      break;
    case "ENTRYPOINT":
      cfg.Entrypoint = parseCommandForm(rest, true);
      break;
    case "ENV": {
      const env = [...(cfg.Env ?? [])];
      for (const [k, v] of parseKeyValues(rest)) {
        const i = env.findIndex((e) => e.split("=")[0] === k);
        if (i >= 0) env[i] = `${k}=${v}`;
        else env.push(`${k}=${v}`);
      }
      cfg.Env = env;
      break;
    }
    case "LABEL":
      cfg.Labels = { ...(cfg.Labels ?? {}) };
      for (const [k, v] of parseKeyValues(rest)) cfg.Labels[k] = v;
      break;
    case "EXPOSE":
      cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
      for (const p of rest.trim().split(/\s+/)) cfg.ExposedPorts[p.includes("/") ? p : `${p}/tcp`] = {};
      break;
    case "VOLUME": {
      cfg.Volumes = { ...(cfg.Volumes ?? {}) };
      const vols = rest.trim().startsWith("[") ? parseCommandForm(rest, false) : rest.trim().split(/\s+/);
      for (const v of vols) cfg.Volumes[v] = {};
      break;
    }
    case "USER":
      cfg.User = rest.trim();
      break;
    case "WORKDIR":
      cfg.WorkingDir = rest.trim();
      break;
    case "STOPSIGNAL":
      cfg.StopSignal = rest.trim();
      break;
    default:
      throw new UserError(
        `${kw} is not a valid change command (one of ${CHANGE_KEYWORDS.filter((k) => k !== "ONBUILD").join(", ")})`,
      );
  }
}

export function emptyConfig(): ImageConfig {
  return {
    architecture: "amd64",
    os: "linux",
    config: { Env: [`PATH=${DEFAULT_PATH}`] },
    rootfs: { type: "layers", diff_ids: [] },
    history: [],
  };
}
