// What `-v`, `--mount`, `--tmpfs` and `--volumes-from` ask for, parsed with Docker's rules and
// errors before anything is created, so a bad spec leaves no trace. Named and anonymous
// volumes are only named here; container/mounts.ts makes them at create.
import { isAbsolute, normalize } from "node:path";
import { UserError, quote } from "../util/errors.ts";
import type { MountSpec } from "../spec/init-spec.ts";
import { MS, parseTmpfsOptions } from "../linux/tmpfs-options.ts";

/** One mount as the user asked for it. */
export interface MountRequest {
  type: "bind" | "volume" | "tmpfs";
  /** bind: host path; volume: name ("" for an anonymous volume); tmpfs: "". */
  source: string;
  destination: string;
  readOnly: boolean;
  /** volume: do not fill a new volume with the image's content at the destination. */
  noCopy?: boolean;
  propagation?: Propagation;
  /** tmpfs data and flag words. */
  options?: string;
  /** The mode words of `-v` as typed (inspect's Mode). */
  mode?: string;
  /** Which flag asked: `-v` makes missing host directories, `--mount` refuses them. */
  origin: "volume-flag" | "mount-flag" | "tmpfs-flag";
  /** The spec as typed (HostConfig.Binds / HostConfig.Mounts). */
  spec: string;
}

export type Propagation = "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave";
const PROPAGATIONS = new Set<string>(["private", "rprivate", "shared", "rshared", "slave", "rslave"]);
const CONSISTENCY = new Set(["consistent", "cached", "delegated", "default"]);

function cleanDestination(d: string): string {
  return normalize(d).replace(/\/+$/, "") || "/";
}

/** `-v [SOURCE:]DEST[:MODE]`: SOURCE absolute is a bind, else a volume name; DEST alone is an anonymous volume. */
export function parseVolume(spec: string): MountRequest {
  const invalid = (why?: string): never => {
    throw new UserError(`invalid volume specification: ${quote1(spec)}${why ? `: ${why}` : ""}`);
  };
  const parts = spec.split(":");
  if (parts.length > 3) throw new UserError(`invalid spec: ${quote(spec).slice(1, -1)}: too many colons`);
  if (parts.some((p, i) => p === "" && (i < 2 || parts.length === 3))) invalid();
  let source = "";
  let dest: string;
  let mode: string | undefined;
  if (parts.length === 1) dest = parts[0]!;
  else [source, dest, mode] = parts as [string, string, string | undefined];
  const type = source === "" || isAbsolute(source) ? (source ? "bind" : "volume") : "volume";
  if (!isAbsolute(dest)) invalid(`invalid mount config for type "${type}": invalid mount path: '${dest}' mount path must be absolute`);
  const destination = cleanDestination(dest);
  if (destination === "/") invalid(`invalid mount config for type "${type}": invalid specification: destination can't be '/'`);
  const m = parseModes(mode, type, invalid);
  if (type === "volume" && source) checkVolumeName(source);
  return {
    type,
    source: type === "bind" ? normalize(source) : source,
    destination,
    readOnly: m.readOnly,
    noCopy: m.noCopy || undefined,
    propagation: m.propagation,
    mode: mode ?? "",
    origin: "volume-flag",
    spec,
  };
}

function quote1(s: string): string {
  return `'${quote(s).slice(1, -1)}'`;
}

/** The comma-separated mode words of `-v` (Docker's linux parser's rules). */
function parseModes(
  mode: string | undefined, type: "bind" | "volume", invalid: (why: string) => never,
): { readOnly: boolean; noCopy: boolean; propagation?: Propagation } {
  let rw: string | undefined;
  let label: string | undefined;
  let propagation: Propagation | undefined;
  let copy: string | undefined;
  let consistency: string | undefined;
  if (mode === undefined) return { readOnly: false, noCopy: false };
  const bad = (): never => {
    throw new UserError(`invalid mode: ${mode}`);
  };
  for (const w of mode.split(",")) {
    if (w === "ro" || w === "rw") {
      if (rw) bad();
      rw = w;
    } else if (w === "z" || w === "Z") {
      // SELinux relabelling: nothing to relabel where SELinux is off (minid loads no policy).
      if (label) bad();
      label = w;
    } else if (PROPAGATIONS.has(w)) {
      if (propagation) bad();
      propagation = w as Propagation;
    } else if (w === "nocopy" || w === "copy") {
      if (copy) bad();
      copy = w;
    } else if (CONSISTENCY.has(w)) {
      // macOS file-sharing hints; on Linux every mount is consistent.
      if (consistency) bad();
      consistency = w;
    } else bad();
  }
  if (propagation && type === "volume") invalid(`invalid mount config for type "volume": field BindOptions must not be specified`);
  if (copy && type === "bind") invalid(`invalid mount config for type "bind": field VolumeOptions must not be specified`);
  return { readOnly: rw === "ro", noCopy: copy === "nocopy", propagation };
}

export function checkVolumeName(name: string): void {
  if (/^[a-zA-Z0-9]$/.test(name)) throw new UserError(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
    throw new UserError(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

const MOUNT_KEYS = new Set([
  "type", "source", "src", "target", "destination", "dst", "readonly", "ro", "consistency", "bind-propagation",
  "bind-nonrecursive", "volume-nocopy", "volume-label", "volume-driver", "volume-opt", "tmpfs-size", "tmpfs-mode",
]);

/** `--mount type=bind|volume|tmpfs,source=,target=,...`, with the CLI's and the daemon's errors. */
export function parseMount(spec: string): MountRequest {
  const flagErr = (why: string): never => {
    throw new UserError(`invalid argument ${quote(spec)} for "--mount" flag: ${why}`);
  };
  const f: Record<string, string | true> = {};
  const seen: string[] = [];
  for (const field of spec.split(",")) {
    if (field === "") continue;
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    if (!MOUNT_KEYS.has(key)) flagErr(`unexpected key '${key}' in '${field}'`);
    const boolKey = key === "readonly" || key === "ro" || key === "volume-nocopy" || key === "bind-nonrecursive";
    if (value === undefined && !boolKey) flagErr(`invalid field '${field}' must be a key=value pair`);
    if (boolKey && value !== undefined && !/^(1|0|t|f|true|false|TRUE|FALSE|True|False)$/.test(value)) {
      flagErr(`invalid value for ${key}: ${value}`);
    }
    f[key] = value === undefined ? true : value;
    seen.push(key);
  }
  const truthy = (k: string) => f[k] === true || (typeof f[k] === "string" && /^(1|t|true)$/i.test(f[k] as string));
  const type = (f.type ?? "volume") as string;
  const source = (f.source ?? f.src ?? "") as string;
  const target = (f.target ?? f.destination ?? f.dst ?? "") as string;
  const cfg = (why: string): never => {
    throw new UserError(`invalid mount config for type "${type}": ${why}`);
  };
  if (type !== "bind" && type !== "volume" && type !== "tmpfs") cfg("mount type unknown");
  if (!target) flagErr("target is required");
  for (const [prefix, own] of [["bind-", "bind"], ["volume-", "volume"], ["tmpfs-", "tmpfs"]] as const) {
    if (type !== own && seen.some((k) => k.startsWith(prefix)) && (type === "bind" || type === "volume" || type === "tmpfs")) {
      flagErr(`cannot mix '${prefix}*' options with mount type '${type}'`);
    }
  }
  if (!isAbsolute(target)) cfg(`invalid mount path: '${target}' mount path must be absolute`);
  const destination = cleanDestination(target);
  if (destination === "/") cfg("invalid specification: destination can't be '/'");
  const has = (prefix: string) => seen.some((k) => k.startsWith(prefix));
  const readOnly = truthy("readonly") || truthy("ro");
  if (typeof f.consistency === "string" && !CONSISTENCY.has(f.consistency)) flagErr(`invalid consistency: ${f.consistency}`);
  if (type !== "bind" && has("bind-")) cfg("field BindOptions must not be specified");
  if (type !== "volume" && has("volume-")) cfg("field VolumeOptions must not be specified");
  if (type !== "tmpfs" && has("tmpfs-")) cfg("field TmpfsOptions must not be specified");
  if (type === "bind") {
    if (!source) cfg("field Source must not be empty");
    if (!isAbsolute(source)) cfg(`invalid mount path: '${source}' mount path must be absolute`);
    let propagation: Propagation | undefined;
    if (typeof f["bind-propagation"] === "string") {
      if (!PROPAGATIONS.has(f["bind-propagation"])) flagErr(`invalid propagation: ${f["bind-propagation"]}`);
      propagation = f["bind-propagation"] as Propagation;
    }
    return { type, source: normalize(source), destination, readOnly, propagation, origin: "mount-flag", spec };
  }
  if (type === "volume") {
    if (source) checkVolumeName(source);
    if (typeof f["volume-driver"] === "string" && f["volume-driver"] !== "local") {
      throw new UserError(`error looking up volume plugin ${f["volume-driver"]}: plugin "${f["volume-driver"]}" not found`);
    }
    if (f["volume-opt"] !== undefined) cfg("volume-opt is not supported by the local driver of minid (no device mounts)");
    return { type, source, destination, readOnly, noCopy: truthy("volume-nocopy") || undefined, origin: "mount-flag", spec };
  }
  if (source) cfg("field Source must not be specified");
  const opts: string[] = [];
  if (typeof f["tmpfs-size"] === "string") {
    const { parseBytes } = require("../util/units.ts") as typeof import("../util/units.ts");
    let n: number;
    try {
      n = parseBytes(f["tmpfs-size"], "--mount");
    } catch {
      flagErr(`invalid value for tmpfs-size: ${f["tmpfs-size"]}`);
    }
    opts.push(`size=${n!}`);
  }
  if (typeof f["tmpfs-mode"] === "string") {
    if (!/^[0-7]{1,4}$/.test(f["tmpfs-mode"])) flagErr(`invalid value for tmpfs-mode: ${f["tmpfs-mode"]}`);
    opts.push(`mode=${f["tmpfs-mode"]}`);
  }
  // Docker's --mount tmpfs: nosuid,nodev,noexec unless said otherwise, mode 1777 by default.
  return { type: "tmpfs", source: "", destination, readOnly, options: opts.join(",") || "mode=1777", origin: "mount-flag", spec };
}

export function parseTmpfs(spec: string): MountSpec {
  const [dest, opts] = spec.split(/:(.*)/s) as [string, string | undefined];
  if (!dest || !isAbsolute(dest)) throw new UserError(`invalid tmpfs specification "${spec}": path must be absolute`);
  // Checked here so a bad option fails before anything is created; init splits it again.
  const { flags } = parseTmpfsOptions(opts, "tmpfs");
  return { type: "tmpfs", source: "tmpfs", destination: normalize(dest), readOnly: (flags & MS.RDONLY) !== 0, options: opts ?? "" };
}

/** `--volumes-from CONTAINER[:ro|rw]`. */
export function parseVolumesFrom(spec: string): { ref: string; mode?: "ro" | "rw" } {
  const [ref, mode, more] = spec.split(":");
  if (!ref || more !== undefined || (mode !== undefined && mode !== "ro" && mode !== "rw")) {
    throw new UserError(`invalid --volumes-from ${quote(spec)}: expected CONTAINER[:ro|rw]`);
  }
  return { ref, mode: mode as "ro" | "rw" | undefined };
}

/** Two requests for one destination: Docker's error. */
export function checkDuplicates(reqs: { destination: string }[]): void {
  const seen = new Set<string>();
  for (const r of reqs) {
    if (seen.has(r.destination)) throw new UserError(`Duplicate mount point: ${r.destination}`);
    seen.add(r.destination);
  }
}
