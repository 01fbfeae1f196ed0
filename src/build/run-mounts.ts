// RUN --mount: what BuildKit's Dockerfile frontend offers a RUN step beyond its image, as
// plain `-v`/`--tmpfs` specs for the step's container.
//   type=bind   a context path (or a path of another stage or image, `from=`), read-only
//               unless `rw`; writes to an rw bind are discarded, so it is a scratch copy
//   type=cache  a directory kept across builds under <root>/build/cache-mounts/, keyed by
//               `id` (default: the target), created with mode/uid/gid
//   type=tmpfs  a tmpfs at the target (`size=`)
//   type=secret a file given to `build --secret id=ID,src=PATH`, at /run/secrets/ID unless
//               `target=` says otherwise, read-only; never part of the layer or the cache key
// None of these mounts' content is committed: init mounts them over the container's root,
// and a layer is the container's upper directory only.
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { createHash } from "node:crypto";

export class RunMountError extends Error {}

export type RunMount =
  | { type: "bind"; target: string; source: string; from?: string; rw: boolean }
  | { type: "cache"; target: string; id: string; source?: string; from?: string; mode: number; uid: number; gid: number; readOnly: boolean; sharing: string }
  | { type: "tmpfs"; target: string; size?: string }
  | { type: "secret"; target: string; id: string; required: boolean; mode: number; uid: number; gid: number };

const TYPES = new Set(["bind", "cache", "tmpfs", "secret"]);

function bool(k: string, v: string | undefined): boolean {
  if (v === undefined || v === "" || v === "true") return true;
  if (v === "false") return false;
  throw new RunMountError(`invalid value for ${k}: ${v}`);
}

function num(k: string, v: string | undefined, base = 10): number {
  const n = v === undefined ? NaN : parseInt(v, base);
  if (!v || !Number.isInteger(n) || n < 0 || !(base === 8 ? /^[0-7]+$/ : /^\d+$/).test(v)) throw new RunMountError(`invalid value for ${k}: ${v ?? ""}`);
  return n;
}

/** Parse one `--mount=` value (BuildKit's comma-separated key=value list). */
export function parseRunMount(spec: string, workdir: string): RunMount {
  const kv = new Map<string, string | undefined>();
  for (const field of spec.split(",")) {
    if (!field) continue;
    const i = field.indexOf("=");
    const k = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    kv.set(k, i < 0 ? undefined : field.slice(i + 1));
  }
  const type = kv.get("type") ?? "bind";
  if (!TYPES.has(type)) throw new RunMountError(`unsupported mount type "${type}" (bind, cache, tmpfs or secret)`);
  const known: Record<string, string[]> = {
    bind: ["type", "target", "dst", "destination", "source", "src", "from", "rw", "readwrite", "ro", "readonly"],
    cache: ["type", "target", "dst", "destination", "id", "source", "src", "from", "mode", "uid", "gid", "ro", "readonly", "sharing"],
    tmpfs: ["type", "target", "dst", "destination", "size"],
    secret: ["type", "target", "dst", "destination", "id", "required", "mode", "uid", "gid"],
  };
  for (const k of kv.keys()) if (!known[type]!.includes(k)) throw new RunMountError(`unexpected key '${k}' in '${spec}'`);
  const rawTarget = kv.get("target") ?? kv.get("dst") ?? kv.get("destination");
  const id = kv.get("id");
  if (!rawTarget && type !== "secret") throw new RunMountError(`mount ${spec}: target is required`);
  // A relative target is relative to the step's working directory, as BuildKit resolves it.
  const abs = (t: string) => posix.resolve(workdir || "/", t);
  const source = kv.get("source") ?? kv.get("src");
  const ro = kv.has("ro") ? bool("ro", kv.get("ro")) : kv.has("readonly") ? bool("readonly", kv.get("readonly")) : undefined;
  switch (type) {
    case "bind": {
      const rw = kv.has("rw") ? bool("rw", kv.get("rw")) : kv.has("readwrite") ? bool("readwrite", kv.get("readwrite")) : ro === false;
      return { type, target: abs(rawTarget!), source: source ?? ".", from: kv.get("from"), rw };
    }
    case "cache": {
      const target = abs(rawTarget!);
      const sharing = kv.get("sharing") ?? "shared";
      if (!["shared", "private", "locked"].includes(sharing)) throw new RunMountError(`unsupported sharing value "${sharing}"`);
      return {
        type, target, id: id || target, source, from: kv.get("from"), sharing,
        mode: kv.has("mode") ? num("mode", kv.get("mode"), 8) : 0o755,
        uid: kv.has("uid") ? num("uid", kv.get("uid")) : 0,
        gid: kv.has("gid") ? num("gid", kv.get("gid")) : 0,
        readOnly: ro ?? false,
      };
    }
    case "tmpfs": {
      const size = kv.get("size");
      if (size !== undefined && !/^\d+[bkmg]?$/i.test(size)) throw new RunMountError(`invalid tmpfs size "${size}"`);
      return { type, target: abs(rawTarget!), size };
    }
    default: {
      const sid = id ?? (rawTarget ? posix.basename(rawTarget) : undefined);
      if (!sid) throw new RunMountError(`mount ${spec}: secret needs an id or a target`);
      return {
        type: "secret", id: sid, target: rawTarget ? abs(rawTarget) : `/run/secrets/${sid}`,
        required: kv.has("required") ? bool("required", kv.get("required")) : false,
        mode: kv.has("mode") ? num("mode", kv.get("mode"), 8) : 0o400,
        uid: kv.has("uid") ? num("uid", kv.get("uid")) : 0,
        gid: kv.has("gid") ? num("gid", kv.get("gid")) : 0,
      };
    }
  }
}

/** `build --secret id=ID[,src=PATH|,env=VAR]`: the id and where its bytes come from. */
export function parseSecretFlag(spec: string): { id: string; src?: string; env?: string } {
  const kv = new Map<string, string>();
  for (const f of spec.split(",")) {
    const i = f.indexOf("=");
    if (i < 0) throw new RunMountError(`invalid secret "${spec}": expected id=ID,src=PATH`);
    kv.set(f.slice(0, i).trim(), f.slice(i + 1));
  }
  const id = kv.get("id");
  if (!id) throw new RunMountError(`invalid secret "${spec}": id is required`);
  for (const k of kv.keys()) if (!["id", "src", "source", "env", "type"].includes(k)) throw new RunMountError(`invalid secret "${spec}": unexpected key '${k}'`);
  const src = kv.get("src") ?? kv.get("source");
  const env = kv.get("env");
  if (!src && !env) {
    // BuildKit's default: an env var named like the id, else a file named like the id.
    return process.env[id] !== undefined ? { id, env: id } : { id, src: id };
  }
  return { id, src, env };
}

/** The directory a cache mount's id lives in (created with its mode and owner on first use). */
export function cacheMountDir(base: string, m: Extract<RunMount, { type: "cache" }>): { dir: string; fresh: boolean } {
  const dir = join(base, createHash("sha256").update(m.id).digest("hex").slice(0, 32));
  if (!existsSync(dir)) {
    mkdirSync(base, { recursive: true, mode: 0o700 });
    mkdirSync(dir, { mode: m.mode });
    chownSync(dir, m.uid, m.gid);
    chmodSync(dir, m.mode);
    return { dir, fresh: true };
  }
  if (!statSync(dir).isDirectory()) throw new RunMountError(`cache mount ${m.id}: ${dir} is not a directory`);
  return { dir, fresh: false };
}

/** What of a mount decides the step's cache key (secrets never do; their bytes stay out). */
export function mountKey(m: RunMount): string {
  switch (m.type) {
    case "bind":
      return `bind ${m.target} ${m.source} ${m.from ?? ""} ${m.rw}`;
    case "cache":
      return `cache ${m.target} ${m.id} ${m.mode} ${m.uid}:${m.gid} ${m.readOnly}`;
    case "tmpfs":
      return `tmpfs ${m.target} ${m.size ?? ""}`;
    default:
      return `secret ${m.id} ${m.target}`;
  }
}
