// The build context: a directory, or a tar (or a Dockerfile alone) on stdin; the Dockerfile
// and its ignore file (`<Dockerfile>.dockerignore` next to it wins over the context's
// `.dockerignore`); and the COPY/ADD source lookup in it (globs, ignore rules, content
// checksums for the layer cache).
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync, type Stats } from "node:fs";
import { basename, join, resolve } from "node:path";
import { IgnoreMatcher, cleanPath, patternRegex } from "./dockerignore.ts";
import { removeTree } from "../util/fs.ts";

export class ContextError extends Error {}

export interface BuildContext {
  /** Host directory holding the context files (a scratch copy for a stdin tar). */
  root: string;
  dockerfile: string;
  /** The Dockerfile's name, for messages. */
  dockerfileName: string;
  ignore: IgnoreMatcher;
  /** Removes what loading the context staged. */
  cleanup(): void;
}

export interface LoadOptions {
  /** CONTEXT argument: a directory or "-". */
  context: string;
  /** -f: a path, "-" (stdin), or undefined (CONTEXT/Dockerfile or CONTEXT/Containerfile). */
  file?: string;
  /** Reads all of stdin (injected for tests). */
  readStdin: () => Promise<Buffer>;
  /** A fresh scratch directory path for a stdin context. */
  scratch: () => string;
}

export async function loadContext(opts: LoadOptions): Promise<BuildContext> {
  let root: string;
  let staged: string | undefined;
  let dockerfile: string | undefined;
  let dockerfileName = "Dockerfile";
  let dockerfilePath: string | undefined;
  const cleanup = () => {
    if (staged) removeTree(staged);
  };
  try {
    if (opts.context === "-") {
      if (opts.file === "-") throw new ContextError("cannot read both the Dockerfile and the context from stdin");
      const data = await opts.readStdin();
      staged = opts.scratch();
      mkdirSync(staged, { recursive: true, mode: 0o700 });
      root = join(staged, "context");
      mkdirSync(root, { mode: 0o755 });
      if (isTar(data)) {
        const tarFile = join(staged, "context.tar");
        writeFileSync(tarFile, data);
        const tar = await import("tar");
        await tar.x({ file: tarFile, cwd: root, preserveOwner: false, strict: true });
      } else {
        // A Dockerfile alone: an empty context.
        dockerfile = data.toString("utf8");
      }
    } else {
      root = resolve(opts.context);
      let st: Stats;
      try {
        st = statSync(root);
      } catch {
        throw new ContextError(`unable to prepare context: path "${opts.context}" not found`);
      }
      if (!st.isDirectory()) throw new ContextError(`unable to prepare context: "${opts.context}" is not a directory`);
    }
    if (dockerfile === undefined) {
      if (opts.file === "-") {
        dockerfile = (await opts.readStdin()).toString("utf8");
      } else {
        if (opts.file !== undefined) {
          // -f is relative to the current directory for a directory context, to the context
          // root for a stdin tar (as docker build).
          dockerfilePath = opts.context === "-" ? join(root, cleanPath(opts.file)) : resolve(opts.file);
          dockerfileName = basename(opts.file);
        } else {
          dockerfilePath = join(root, "Dockerfile");
          if (!existsSync(dockerfilePath) && existsSync(join(root, "Containerfile"))) {
            dockerfilePath = join(root, "Containerfile");
            dockerfileName = "Containerfile";
          }
        }
        try {
          dockerfile = readFileSync(dockerfilePath, "utf8");
        } catch {
          throw new ContextError(`unable to read the Dockerfile: ${opts.file ?? join(opts.context, dockerfileName)}: no such file`);
        }
      }
    }
    let ignoreText = "";
    const specific = dockerfilePath ? `${dockerfilePath}.dockerignore` : undefined;
    if (specific && existsSync(specific)) ignoreText = readFileSync(specific, "utf8");
    else if (existsSync(join(root, ".dockerignore"))) ignoreText = readFileSync(join(root, ".dockerignore"), "utf8");
    let ignore: IgnoreMatcher;
    try {
      ignore = IgnoreMatcher.parse(ignoreText);
    } catch (e) {
      throw new ContextError(`.dockerignore: ${(e as Error).message}`);
    }
    return { root, dockerfile, dockerfileName, ignore, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

function isTar(b: Buffer): boolean {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true; // gzip
  return b.length >= 262 && b.toString("latin1", 257, 262) === "ustar";
}

/** A source selected by a COPY/ADD argument. */
export interface Source {
  /** Path relative to the context root ("." for the root). */
  rel: string;
  /** Absolute host path. */
  path: string;
  stat: Stats;
  /** The argument contained a wildcard. */
  wildcard: boolean;
}

const WILDCARD = /[*?[]/;

/**
 * Resolve one COPY/ADD source argument in the context: a path (cleaned, never above the
 * root) or a glob over paths, minus what .dockerignore excludes.
 */
export function resolveSources(ctx: { root: string; ignore: IgnoreMatcher }, arg: string): Source[] {
  const rel = cleanPath(arg);
  if (!WILDCARD.test(rel)) {
    // Symlinks on the way (and the source itself, when it is one) are followed as if the
    // root were "/": never to a host path.
    const path = rel === "." ? ctx.root : resolveInContext(ctx.root, rel);
    let st: Stats | undefined;
    try {
      if (path !== undefined) st = lstatSync(path);
    } catch {}
    if (!st || path === undefined) throw new ContextError(`"/${rel === "." ? "" : rel}": not found`);
    if (rel !== "." && ctx.ignore.ignored(rel)) {
      // Excluded, unless an exception keeps something below a directory.
      if (!(st.isDirectory() && ctx.ignore.hasExceptions)) throw new ContextError(`"/${rel}": not found (excluded by .dockerignore)`);
    }
    return [{ rel, path, stat: st, wildcard: false }];
  }
  // Glob: match each component against the directory entries.
  const parts = rel.split("/");
  let cur: string[] = [""];
  for (const part of parts) {
    const next: string[] = [];
    const re = WILDCARD.test(part) ? patternRegex(part) : undefined;
    for (const dir of cur) {
      const abs = dir ? join(ctx.root, dir) : ctx.root;
      // Only real directories are descended into: a symlink on the way could lead out of
      // the root (an image's `dir -> /etc` read through a host path).
      try {
        if (!lstatSync(abs).isDirectory()) continue;
      } catch {
        continue;
      }
      if (!re) {
        const p = dir ? `${dir}/${part}` : part;
        if (existsSync(join(ctx.root, p)) || isLink(join(ctx.root, p))) next.push(p);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(abs).sort();
      } catch {
        continue;
      }
      for (const n of names) if (re.test(n)) next.push(dir ? `${dir}/${n}` : n);
    }
    cur = next;
  }
  return cur
    .filter((r) => !ctx.ignore.ignored(r))
    .map((r) => ({ rel: r, path: join(ctx.root, r), stat: lstatSync(join(ctx.root, r)), wildcard: true }));
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Follow symlinks of `rel` as if the context root were "/"; undefined when dangling. */
function resolveInContext(root: string, rel: string): string | undefined {
  let parts = rel.split("/");
  let done: string[] = [];
  for (let hops = 0; parts.length && hops < 255; ) {
    const part = parts.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const p = join(root, ...done, part);
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      hops++;
      const t = readlinkSync(p);
      if (t.startsWith("/")) done = [];
      parts = [...t.split("/"), ...parts];
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

/**
 * Every path under a source (itself included) that the ignore rules keep, relative to the
 * source, parents before children, names in byte order.
 */
export function walkSource(ctx: { ignore: IgnoreMatcher }, src: Source): { rel: string; path: string; stat: Stats }[] {
  const out: { rel: string; path: string; stat: Stats }[] = [{ rel: "", path: src.path, stat: src.stat }];
  if (!src.stat.isDirectory()) return out;
  const walk = (abs: string, relToSrc: string, relToCtx: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const r = relToSrc ? `${relToSrc}/${name}` : name;
      const c = relToCtx === "." ? name : `${relToCtx}/${name}`;
      const st = lstatSync(p);
      const ignored = ctx.ignore.ignored(c);
      if (ignored && !(st.isDirectory() && ctx.ignore.hasExceptions)) continue;
      const mark = out.length;
      if (!ignored) out.push({ rel: r, path: p, stat: st });
      if (st.isDirectory()) {
        if (ignored) out.push({ rel: r, path: p, stat: st }); // provisional: kept if it holds kept files
        walk(p, r, c);
        if (ignored && out.length === mark + 1) out.pop();
      }
    }
  };
  walk(src.path, "", src.rel);
  return out;
}

/** A checksum over what a set of sources copies: names, types, modes, link targets, contents. */
export function sourcesChecksum(ctx: { ignore: IgnoreMatcher }, sources: Source[]): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const s of sources) {
    h.update(`src ${s.rel}\0`);
    for (const e of walkSource(ctx, s)) {
      const st = e.stat;
      // Like Docker's: content and mode decide, not timestamps or host owners (COPY sets owners).
      h.update(`${e.rel}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(`-> ${readlinkSync(e.path)}\0`);
      else if (st.isFile()) {
        h.update(`${st.size}\0`);
        h.update(readFileSync(e.path));
      }
    }
  }
  return h.digest("hex");
}
