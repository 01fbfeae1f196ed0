// One build as the CLI runs it: context, builder, Ctrl-C cleanup, tags, --iidfile. The
// container's output of each RUN goes to stderr (stdout carries only the image id).
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import type { Engine } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { dup2 } from "../linux/libc.ts";
import { loadContext, ContextError } from "./context.ts";
import { Builder, BuildError } from "./builder.ts";

export interface BuildRequest {
  context: string;
  file?: string;
  tags: string[];
  buildArgs: string[];
  target?: string;
  noCache: boolean;
  quiet: boolean;
  labels: string[];
  iidfile?: string;
  network?: string;
  pull?: boolean;
  /** --secret id=ID[,src=PATH|env=VAR] */
  secrets?: string[];
}

function parseKV(list: string[], flag: string, fromEnv: boolean): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of list) {
    const eq = kv.indexOf("=");
    if (eq === 0) throw new UserError(`invalid ${flag} "${kv}": the name is empty`);
    if (eq < 0) {
      // --build-arg NAME takes NAME's value from the environment, if set (as docker).
      if (fromEnv) {
        const v = process.env[kv];
        if (v !== undefined) m.set(kv, v);
        continue;
      }
      m.set(kv, "");
      continue;
    }
    m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

/** Run a build; returns the image id. */
export async function buildImage(engine: Engine, req: BuildRequest): Promise<string> {
  const { parseReference } = await import("../image/reference.ts");
  for (const t of req.tags) {
    const ref = parseReference(t);
    if (ref.digest) throw new UserError(`invalid tag "${t}": a tag cannot name a digest`);
  }
  if (req.network !== undefined && req.network !== "none" && req.network !== "default") {
    throw new UserError(`--network ${req.network} is not supported: minid build containers use the default bridge (or --network none)`);
  }
  // Secrets are read now, so a missing file fails before any step runs.
  const secrets = new Map<string, Uint8Array>();
  const { parseSecretFlag, RunMountError } = await import("./run-mounts.ts");
  for (const spec of req.secrets ?? []) {
    let s;
    try {
      s = parseSecretFlag(spec);
    } catch (e) {
      if (e instanceof RunMountError) throw new UserError(e.message, 1);
      throw e;
    }
    if (s.env !== undefined) {
      const v = process.env[s.env];
      if (v === undefined) throw new UserError(`secret ${s.id}: environment variable ${s.env} is not set`, 1);
      secrets.set(s.id, Buffer.from(v));
    } else {
      try {
        secrets.set(s.id, require("node:fs").readFileSync(s.src!));
      } catch (e) {
        throw new UserError(`secret ${s.id}: cannot read ${s.src}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 1);
      }
    }
  }
  const progress = (line: string) => {
    if (!req.quiet) writeSync(2, `${line}\n`);
  };
  engine.images.init();
  let ctx;
  try {
    ctx = await loadContext({
      context: req.context,
      file: req.file,
      readStdin: async () => Buffer.from(await new Response(Bun.stdin.stream()).arrayBuffer()),
      scratch: () => engine.images.scratch("build-context"),
    });
  } catch (e) {
    if (e instanceof ContextError) throw new UserError(e.message, 1);
    throw e;
  }
  const builder = new Builder(engine, {
    context: ctx,
    tags: req.tags,
    buildArgs: parseKV(req.buildArgs, "--build-arg", true),
    target: req.target,
    noCache: req.noCache,
    labels: Object.fromEntries(parseKV(req.labels, "--label", false)),
    network: req.network,
    pull: req.pull,
    quiet: req.quiet,
    secrets,
    progress,
  });
  const { onInterrupt } = await import("../image/registry/interrupt.ts");
  const done = onInterrupt(() => {
    builder.abort();
    ctx.cleanup();
  });
  // RUN output reaches fd 1 through the attach connection: point fd 1 at stderr (or
  // /dev/null with -q) for the build, and restore it for the id.
  const saved = openSync("/dev/null", "r");
  dup2(1, saved);
  const sink = req.quiet ? openSync("/dev/null", "w") : 2;
  dup2(sink, 1);
  let id: string;
  try {
    id = await builder.run();
  } finally {
    dup2(saved, 1);
    closeSync(saved);
    if (sink !== 2) closeSync(sink);
    done();
    ctx.cleanup();
  }
  for (const t of req.tags) {
    engine.images.setTag(t, id);
    progress(`Successfully tagged ${t}`);
  }
  if (req.iidfile) writeFileSync(req.iidfile, id);
  return id;
}

export { BuildError };
