// `minid build`: a Dockerfile's stages turned into images, step by step, on minid's own
// paths: RUN is a real container of the step's image (createContainer + launchContainer),
// COPY/ADD write into a not-started container's root, and each step's changes become a
// layer through commit's writeContainerLayer. Every step's result is an untagged image
// record (Docker's intermediate images) that the layer cache points at; only the target's
// result is tagged, at the very end, so a failed build leaves no tag.
import { chmodSync, chownSync, lstatSync, mkdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { basename, join, posix } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import type { ContainerConfig, HistoryEntry, ImageConfig } from "../image/config.ts";
import { DEFAULT_PATH } from "../image/config.ts";
import type { ImageRecord } from "../image/store.ts";
import { UserError, signalNumber } from "../util/errors.ts";
import { removeTree } from "../util/fs.ts";
import { trace } from "../util/trace.ts";
import { closeSync, openSync, readSync, rmSync } from "node:fs";
import { DockerfileError, checkFlags, flagValue, flagValues, parseDockerfile, type Instruction } from "./parser.ts";
import { SubstitutionError, processWord, processWords, type Vars } from "./substitute.ts";
import { IgnoreMatcher } from "./dockerignore.ts";
import { ContextError, resolveSources, sourcesChecksum, walkSource, type BuildContext, type Source } from "./context.ts";
import { BuildCache, cacheKey } from "./cache.ts";
import { copyIntoRoot, isDirInRoot, mkdirInRoot, readInRoot, withMergedView, withWritableRoot, type CopyEntry } from "./rootfs.ts";

/** Proxy args Docker passes to RUN without an ARG line, and keeps out of the history. */
const PREDEFINED_ARGS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"];
const DEFAULT_SHELL = ["/bin/sh", "-c"];

export interface BuildOptions {
  context: BuildContext;
  tags: string[];
  buildArgs: Map<string, string>;
  target?: string;
  noCache: boolean;
  labels: Record<string, string>;
  network?: string;
  /** --pull: pull every FROM image, even one already in the store. */
  pull?: boolean;
  /** -q: nothing on stderr but errors (pull progress included). */
  quiet?: boolean;
  /** `--secret id=…`: the bytes RUN --mount=type=secret may mount, by id. */
  secrets?: Map<string, Uint8Array>;
  /** Progress lines (stderr). */
  progress: (line: string) => void;
}

/** A Dockerfile error: exits 1 with the line and the instruction. */
export class BuildError extends UserError {
  constructor(message: string, ins?: Instruction, dockerfileName = "Dockerfile") {
    super(ins ? `${dockerfileName}:${ins.line}: ${abbreviate(ins.original)}: ${message}` : message, 1);
  }
}

function abbreviate(s: string): string {
  const one = s.replace(/\s*\n\s*/g, " ");
  return one.length > 80 ? `${one.slice(0, 77)}...` : one;
}

type Config = ContainerConfig & {
  OnBuild?: string[] | null;
  Shell?: string[];
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
};

interface Stage {
  index: number;
  name?: string;
  from: Instruction;
  steps: Instruction[];
}

interface StageState {
  /** The current image (undefined only for a scratch stage before its first step). */
  imageId?: string;
  config: ImageConfig & { config: Config; author?: string };
  layers: ImageRecord["layers"];
  /** ARGs declared in this stage, with their values. */
  args: Map<string, string | undefined>;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

export interface Plan {
  globalArgs: Instruction[];
  stages: Stage[];
  target: Stage;
  /** Stages the target needs, in Dockerfile order. */
  needed: Stage[];
  warnings: string[];
  escape: string;
}

/** Parse and plan: stages, the target, and only the stages it depends on. */
export function planBuild(text: string, opts: { target?: string; buildArgs: Map<string, string> }): Plan {
  const df = parseDockerfile(text);
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of df.instructions) {
    if (ins.keyword === "FROM") {
      stages.push({ index: stages.length, from: ins, steps: [] });
      continue;
    }
    if (!stages.length) {
      if (ins.keyword !== "ARG") throw new DockerfileError(`no build stage in current context: ${ins.keyword} before the first FROM`, ins.line);
      globalArgs.push(ins);
      continue;
    }
    stages[stages.length - 1]!.steps.push(ins);
  }
  if (!stages.length) throw new DockerfileError("the Dockerfile has no FROM instruction (file with no instructions?)", 1);
  const meta = metaArgs(globalArgs, opts.buildArgs, df.escape);
  for (const s of stages) {
    const words = fromWords(s.from, meta, df.escape);
    if (words.length === 3 && words[1]!.toLowerCase() === "as") {
      const name = words[2]!.toLowerCase();
      if (!/^[a-z][a-z0-9-_.]*$/.test(name)) throw new DockerfileError(`invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`, s.from.line);
      if (stages.some((o) => o !== s && o.name === name)) throw new DockerfileError(`duplicate stage name "${words[2]}"`, s.from.line);
      s.name = name;
    } else if (words.length !== 1) {
      throw new DockerfileError("FROM requires either one or three arguments", s.from.line);
    }
  }
  let target = stages[stages.length - 1]!;
  if (opts.target !== undefined) {
    const t = stages.find((s) => s.name === opts.target!.toLowerCase());
    if (!t) throw new DockerfileError(`target stage "${opts.target}" could not be found`);
    target = t;
  }
  // Walk dependencies: FROM <stage>, COPY --from=<stage|index>, RUN --mount=…,from=<stage>.
  const need = new Set<Stage>();
  const visit = (s: Stage) => {
    if (need.has(s)) return;
    need.add(s);
    const base = fromWords(s.from, meta, df.escape)[0]!;
    const dep = stageRef(stages, base, s.index, false);
    if (dep) visit(dep);
    for (const ins of s.steps) {
      const froms: string[] = [];
      if (ins.keyword === "COPY" || ins.keyword === "ADD") {
        const from = flagValue(ins, "from");
        if (typeof from === "string") froms.push(from);
      } else if (ins.keyword === "RUN") {
        for (const m of flagValues(ins, "mount")) {
          const f = /(?:^|,)from=([^,]*)/.exec(m)?.[1];
          if (f) froms.push(f);
        }
      }
      for (const from of froms) {
        const d = stageRef(stages, from, s.index, true);
        if (d) visit(d);
      }
    }
  };
  visit(target);
  return { globalArgs, stages, target, needed: stages.filter((s) => need.has(s)), warnings: df.warnings, escape: df.escape };
}

function stageRef(stages: Stage[], ref: string, before: number, allowIndex: boolean): Stage | undefined {
  const byName = stages.find((s) => s.index < before && s.name === ref.toLowerCase());
  if (byName) return byName;
  if (allowIndex && /^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= before) throw new DockerfileError(`invalid from flag value ${ref}: refers to current or later build stage`);
    return stages[i];
  }
  return undefined;
}

function metaArgs(globals: Instruction[], buildArgs: Map<string, string>, escape: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const ins of globals) {
    for (const [k, v] of argDecls(ins, varsFromMap(m), escape)) {
      const val = buildArgs.get(k) ?? v;
      if (val !== undefined) m.set(k, val);
      else m.delete(k);
    }
  }
  return m;
}

function fromWords(ins: Instruction, meta: Map<string, string>, escape: string): string[] {
  try {
    return processWords(ins.rest, varsFromMap(meta), escape);
  } catch (e) {
    if (e instanceof SubstitutionError) throw new DockerfileError(e.message, ins.line);
    throw e;
  }
}

function varsFromMap(m: Map<string, string | undefined>): Vars {
  return (n) => m.get(n);
}

/** `ARG a=1 b` declarations. */
function argDecls(ins: Instruction, vars: Vars, escape: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  const words = processWords(ins.rest, vars, escape);
  if (!words.length) throw new DockerfileError("ARG requires at least one argument", ins.line);
  for (const w of words) {
    const eq = w.indexOf("=");
    const k = eq < 0 ? w : w.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new DockerfileError(`invalid ARG name: ${k}`, ins.line);
    out.push([k, eq < 0 ? undefined : w.slice(eq + 1)]);
  }
  return out;
}

/** KEY=VALUE pairs of ENV/LABEL, or the legacy `KEY VALUE` form. */
function keyValues(ins: Instruction, vars: Vars, escape: string): [string, string][] {
  const rest = ins.rest;
  const first = /^\S+/.exec(rest)?.[0] ?? "";
  if (!rest) throw new DockerfileError(`${ins.keyword} requires at least one argument`, ins.line);
  if (!first.includes("=")) {
    const value = rest.slice(first.length).trim();
    if (!value) throw new DockerfileError(`${ins.keyword} names must be followed by a value (${ins.keyword} ${first} VALUE or ${first}=VALUE)`, ins.line);
    return [[processWord(first, vars, escape), processWord(value, vars, escape)]];
  }
  const out: [string, string][] = [];
  for (const w of splitKeepingQuotes(rest, escape)) {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new DockerfileError(`syntax error - can't find = in "${w}". Must be of the form: name=value`, ins.line);
    out.push([processWord(w.slice(0, eq), vars, escape), processWord(w.slice(eq + 1), vars, escape)]);
  }
  return out;
}

/** Split on unquoted whitespace, keeping quotes and escapes for a later processWord. */
function splitKeepingQuotes(s: string, escape: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q: string | undefined;
  let braces = 0; // inside ${...} whitespace belongs to the word
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q !== "'" && c === "$" && s[i + 1] === "{") {
      braces++;
      cur += "${";
      i++;
      continue;
    }
    if (braces && c === "}" && q === undefined) {
      braces--;
      cur += c;
      continue;
    }
    if (c === escape && q !== "'") {
      cur += c + (s[i + 1] ?? "");
      i++;
      continue;
    }
    if (q) {
      if (c === q) q = undefined;
      cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      q = c;
      cur += c;
      continue;
    }
    if (/\s/.test(c) && !braces) {
      if (cur) out.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  if (q) throw new SubstitutionError(`unexpected end of statement while looking for matching ${q === '"' ? "double" : "single"}-quote`);
  if (cur) out.push(cur);
  return out;
}

function envMap(cfg: Config): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of cfg.Env ?? []) {
    const i = e.indexOf("=");
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? "" : e.slice(i + 1));
  }
  return m;
}

function setEnv(cfg: Config, k: string, v: string): void {
  const env = [...(cfg.Env ?? [])];
  const i = env.findIndex((e) => e.split("=")[0] === k);
  if (i >= 0) env[i] = `${k}=${v}`;
  else env.push(`${k}=${v}`);
  cfg.Env = env;
}

function parseDurationNs(v: string, flag: string, ins: Instruction): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  if (!/^(\d+(?:\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) throw new DockerfileError(`invalid ${flag}: time: invalid duration "${v}"`, ins.line);
  const unit: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let n = 0;
  for (const m of v.matchAll(re)) n += Number(m[1]) * unit[m[2]!]!;
  return Math.round(n);
}

/** Runs a whole build; returns the final image id. */
export class Builder {
  private cache: BuildCache;
  private results = new Map<Stage, string>();
  /** FROM images pulled by this build (--pull pulls each name once). */
  private pulled = new Map<string, string>();
  private plan!: Plan;
  private meta = new Map<string, string>();
  private usedArgs = new Set<string>();
  private step = 0;
  /** The current step was taken from the cache. */
  private hit = false;
  private totalSteps = 0;
  /** What an interrupt must remove right now (a build container, scratch files). */
  private live = new Set<() => void>();

  constructor(
    private engine: Engine,
    private opts: BuildOptions,
  ) {
    this.cache = new BuildCache(engine);
  }

  /** Synchronous cleanup of whatever the running step holds (for Ctrl-C). */
  abort(): void {
    // Last acquired first: the attach connection closes before its container goes (the
    // watcher would otherwise wait for us to read the container's last output).
    for (const fn of [...this.live].reverse()) {
      try {
        fn();
      } catch {}
    }
    this.live.clear();
  }

  private err(message: string, ins?: Instruction): BuildError {
    return new BuildError(message, ins, this.opts.context.dockerfileName);
  }

  async run(): Promise<string> {
    const ctx = this.opts.context;
    try {
      this.plan = planBuild(ctx.dockerfile, { target: this.opts.target, buildArgs: this.opts.buildArgs });
    } catch (e) {
      throw this.wrap(e);
    }
    for (const w of this.plan.warnings) this.opts.progress(`[Warning] ${w}`);
    this.meta = metaArgs(this.plan.globalArgs, this.opts.buildArgs, this.plan.escape);
    for (const ins of this.plan.globalArgs) for (const [k] of argDecls(ins, () => undefined, this.plan.escape)) this.usedArgs.add(k);
    this.totalSteps = this.plan.needed.reduce((n, s) => n + 1 + s.steps.length, 0);
    this.engine.images.init();
    this.engine.images.sweep();
    let last = "";
    for (const stage of this.plan.needed) {
      last = await this.buildStage(stage);
      this.results.set(stage, last);
    }
    // --label: on the final image, as docker build adds them.
    if (Object.keys(this.opts.labels).length) {
      const img = this.engine.images.getImage(last)!;
      const cfg = this.engine.images.getConfig(img) as ImageConfig & { config: Config };
      cfg.config = { ...cfg.config, Labels: { ...(cfg.config.Labels ?? {}), ...this.opts.labels } };
      last = this.engine.images.publish({ layers: [], reuse: img.layers.map((l) => l.diffId), images: [{ config: cfg, layers: img.layers }] })[0]!.id;
    }
    const unused = [...this.opts.buildArgs.keys()].filter((k) => !this.usedArgs.has(k) && !PREDEFINED_ARGS.includes(k));
    if (unused.length) this.opts.progress(`[Warning] one or more build-args [${unused.join(" ")}] were not consumed`);
    return last;
  }

  private wrap(e: unknown, ins?: Instruction): unknown {
    if (e instanceof BuildError) return e;
    if (e instanceof DockerfileError) {
      const at = e.line !== undefined ? (this.plan?.stages.flatMap((s) => [s.from, ...s.steps]).find((i) => i.line === e.line) ?? ins) : ins;
      if (e.line !== undefined && !at) return new BuildError(`${this.opts.context.dockerfileName}:${e.line}: ${e.message}`);
      return this.err(e.message, at);
    }
    if (e instanceof SubstitutionError || e instanceof ContextError) return this.err(e.message, ins);
    if (e instanceof UserError) return this.err(e.message, ins);
    return e;
  }

  private announce(ins: Instruction): void {
    this.step++;
    this.opts.progress(`STEP ${this.step}/${this.totalSteps}: ${ins.original.replace(/\n/g, "\n")}`);
  }

  private async buildStage(stage: Stage): Promise<string> {
    this.announce(stage.from);
    let st: StageState;
    try {
      st = await this.fromStage(stage);
    } catch (e) {
      throw this.wrap(e, stage.from);
    }
    // ONBUILD triggers of the base image run first, then are dropped from the new image.
    const triggers = st.config.config.OnBuild ?? [];
    if (triggers.length) {
      st.config.config.OnBuild = null;
      for (const t of triggers) {
        let trig: Instruction;
        try {
          trig = parseDockerfile(t).instructions[0]!;
        } catch (e) {
          throw this.wrap(e, stage.from);
        }
        trig = { ...trig, line: stage.from.line };
        this.opts.progress(`--> running ONBUILD trigger: ${t}`);
        try {
          await this.dispatch(st, trig, stage);
        } catch (e) {
          throw this.wrap(e, trig);
        }
      }
    }
    for (const ins of stage.steps) {
      this.announce(ins);
      this.hit = false;
      try {
        await this.dispatch(st, ins, stage);
      } catch (e) {
        throw this.wrap(e, ins);
      }
      if (!this.hit && st.imageId) this.opts.progress(`--> ${st.imageId.slice(7, 19)}`);
    }
    if (!st.imageId) st.imageId = this.record(st, undefined).id;
    return st.imageId;
  }

  private async fromStage(stage: Stage): Promise<StageState> {
    checkFlags(stage.from, ["platform"]);
    const platform = flagValue(stage.from, "platform");
    if (platform !== undefined) {
      const p = typeof platform === "string" ? processWord(platform, varsFromMap(this.meta), this.plan.escape) : "";
      if (!/^linux\/(amd64|x86_64)(\/.*)?$/.test(p)) throw new DockerfileError(`platform "${p}" is not supported here: minid builds linux/amd64 images`, stage.from.line);
    }
    const base = fromWords(stage.from, this.meta, this.plan.escape)[0]!;
    const args = new Map<string, string | undefined>();
    const dep = stageRef(this.plan.stages, base, stage.index, false);
    let img: ImageRecord | undefined;
    if (dep) img = this.engine.images.getImage(this.results.get(dep)!);
    else if (base.toLowerCase() !== "scratch") {
      if (this.opts.pull) {
        // --pull: the registry's current image even when one is here (as docker build --pull).
        const pulled = this.pulled.get(base);
        if (pulled) img = this.engine.images.getImage(pulled);
        else {
          const { pullImage } = await import("../image/pull.ts");
          const res = await pullImage(this.engine, { reference: base, insecure: this.engine.insecureRegistries, progress: this.opts.quiet ? "quiet" : "plain" });
          img = res.image;
          this.pulled.set(base, img.id);
        }
      } else {
        const { ensureImage } = await import("../image/ensure.ts");
        img = await ensureImage(this.engine, base);
      }
    }
    if (!img) {
      const config = { architecture: "amd64", os: "linux", config: { Env: [`PATH=${DEFAULT_PATH}`] } as Config, rootfs: { type: "layers" as const, diff_ids: [] }, history: [] };
      return { config, layers: [], args, cmdSet: false };
    }
    const config = structuredClone(this.engine.images.getConfig(img)) as StageState["config"];
    config.config ??= {};
    if (!config.config.Env?.some((e) => e.startsWith("PATH="))) setEnv(config.config, "PATH", DEFAULT_PATH);
    return { imageId: img.id, config, layers: img.layers, args, cmdSet: false };
  }

  /** Variables an expanding instruction sees: the stage's ARGs, overridden by its ENV. */
  private vars(st: StageState): Vars {
    const env = envMap(st.config.config);
    return (n) => (env.has(n) ? env.get(n) : st.args.get(n));
  }

  private word(st: StageState, s: string): string {
    return processWord(s, this.vars(st), this.plan.escape);
  }

  private words(st: StageState, s: string): string[] {
    return processWords(s, this.vars(st), this.plan.escape);
  }

  private shell(st: StageState): string[] {
    return st.config.config.Shell?.length ? st.config.config.Shell : DEFAULT_SHELL;
  }

  /** Exec form as given, shell form through the stage's SHELL. */
  private commandOf(st: StageState, ins: Instruction): string[] {
    if (ins.json) return ins.json;
    if (!ins.rest) throw new DockerfileError(`${ins.keyword} requires at least one argument`, ins.line);
    return [...this.shell(st), ins.rest];
  }

  private async dispatch(st: StageState, ins: Instruction, stage: Stage): Promise<void> {
    const cfg = st.config.config;
    const noop = (text: string, mutate: () => void) => this.metadataStep(st, `/bin/sh -c #(nop)  ${text}`, mutate);
    switch (ins.keyword) {
      case "ARG": {
        const decls = argDecls(ins, this.vars(st), this.plan.escape);
        for (const [k, v] of decls) {
          this.usedArgs.add(k);
          // A stage's `ARG x` without a value takes the global (pre-FROM) one.
          st.args.set(k, this.opts.buildArgs.get(k) ?? v ?? this.meta.get(k));
        }
        return noop(`ARG ${decls.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(" ")}`, () => {});
      }
      case "ENV": {
        const kv = keyValues(ins, this.vars(st), this.plan.escape);
        return noop(`ENV ${kv.map(([k, v]) => `${k}=${v}`).join(" ")}`, () => {
          for (const [k, v] of kv) setEnv(cfg, k, v);
        });
      }
      case "LABEL": {
        const kv = keyValues(ins, this.vars(st), this.plan.escape);
        return noop(`LABEL ${kv.map(([k, v]) => `${k}=${v}`).join(" ")}`, () => {
          cfg.Labels = { ...(cfg.Labels ?? {}) };
          for (const [k, v] of kv) cfg.Labels[k] = v;
        });
      }
      case "MAINTAINER": {
        const who = ins.rest;
        return noop(`MAINTAINER ${who}`, () => {
          st.config.author = who;
        });
      }
      case "CMD": {
        const cmd = this.commandOf(st, ins);
        st.cmdSet = true;
        return noop(`CMD ${JSON.stringify(cmd)}`, () => {
          cfg.Cmd = cmd;
        });
      }
      case "ENTRYPOINT": {
        const ep = ins.json ?? (ins.rest ? [...this.shell(st), ins.rest] : []);
        return noop(`ENTRYPOINT ${JSON.stringify(ep)}`, () => {
          cfg.Entrypoint = ep.length ? ep : null;
          // An inherited CMD does not survive a new ENTRYPOINT (Docker's rule).
          if (!st.cmdSet) cfg.Cmd = null;
        });
      }
      case "EXPOSE": {
        const ports = this.words(st, ins.rest);
        if (!ports.length) throw new DockerfileError("EXPOSE requires at least one argument", ins.line);
        const keys = ports.map((p) => {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!m) throw new DockerfileError(`invalid containerPort: ${p}`, ins.line);
          return `${m[1]}${m[2] ? `-${m[2]}` : ""}/${(m[3] ?? "tcp").toLowerCase()}`;
        });
        return noop(`EXPOSE ${keys.join(" ")}`, () => {
          cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
          for (const k of keys) cfg.ExposedPorts[k] = {};
        });
      }
      case "VOLUME": {
        const vols = ins.json ?? this.words(st, ins.rest);
        if (!vols.length || vols.some((v) => !v.trim())) throw new DockerfileError("VOLUME specified can not be an empty string", ins.line);
        return noop(`VOLUME ${JSON.stringify(vols)}`, () => {
          cfg.Volumes = { ...(cfg.Volumes ?? {}) };
          for (const v of vols) cfg.Volumes[v] = {};
        });
      }
      case "USER": {
        const user = this.word(st, ins.rest);
        if (!user) throw new DockerfileError("USER requires exactly one argument", ins.line);
        return noop(`USER ${user}`, () => {
          cfg.User = user;
        });
      }
      case "STOPSIGNAL": {
        const sig = this.word(st, ins.rest);
        if (signalNumber(sig) === undefined) throw new DockerfileError(`invalid signal: ${sig}`, ins.line);
        return noop(`STOPSIGNAL ${sig}`, () => {
          cfg.StopSignal = sig;
        });
      }
      case "SHELL": {
        if (!ins.json || !ins.json.length) throw new DockerfileError("SHELL requires the arguments to be in JSON form", ins.line);
        const sh = ins.json;
        return noop(`SHELL ${JSON.stringify(sh)}`, () => {
          cfg.Shell = sh;
        });
      }
      case "ONBUILD": {
        const t = ins.trigger!;
        const text = `${t.keyword} ${ins.rest.slice(ins.rest.search(/\s/) + 1).trim()}`.trim();
        return noop(`ONBUILD ${text}`, () => {
          cfg.OnBuild = [...(cfg.OnBuild ?? []), text];
        });
      }
      case "HEALTHCHECK":
        return this.healthcheck(st, ins, noop);
      case "WORKDIR":
        return this.workdir(st, ins);
      case "RUN":
        return this.runStep(st, ins);
      case "COPY":
      case "ADD":
        return this.copyStep(st, ins, stage);
      case "FROM":
        throw new DockerfileError("FROM inside a stage", ins.line);
    }
  }

  private healthcheck(st: StageState, ins: Instruction, noop: (t: string, m: () => void) => Promise<void>): Promise<void> {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(ins.rest);
    const kind = m?.[1]?.toUpperCase();
    if (kind === "NONE") {
      if (ins.flags.length || m![2]) throw new DockerfileError("HEALTHCHECK NONE takes no arguments", ins.line);
      return noop(`HEALTHCHECK NONE`, () => {
        st.config.config.Healthcheck = { Test: ["NONE"] };
      });
    }
    if (kind !== "CMD") throw new DockerfileError(`unknown type for HEALTHCHECK: ${m?.[1] ?? ""} (use CMD or NONE)`, ins.line);
    checkFlags(ins, ["interval", "timeout", "start-period", "start-interval", "retries"]);
    const rest = m![2]!.trim();
    if (!rest) throw new DockerfileError("HEALTHCHECK CMD requires a command", ins.line);
    let test: string[];
    try {
      const v = JSON.parse(rest);
      test = Array.isArray(v) && v.every((x) => typeof x === "string") ? ["CMD", ...v] : ["CMD-SHELL", rest];
    } catch {
      test = ["CMD-SHELL", rest];
    }
    const hc: NonNullable<Config["Healthcheck"]> = { Test: test };
    for (const [flag, key] of [["interval", "Interval"], ["timeout", "Timeout"], ["start-period", "StartPeriod"], ["start-interval", "StartInterval"]] as const) {
      const v = flagValue(ins, flag);
      if (typeof v === "string") hc[key] = parseDurationNs(v, `--${flag}`, ins);
    }
    const r = flagValue(ins, "retries");
    if (typeof r === "string") {
      if (!/^\d+$/.test(r) || Number(r) < 1) throw new DockerfileError(`--retries must be at least 1`, ins.line);
      hc.Retries = Number(r);
    }
    return noop(`HEALTHCHECK &{${JSON.stringify(test)}}`, () => {
      st.config.config.Healthcheck = hc;
    });
  }

  // ---- steps that produce images ----

  /** A new image record for the stage's current config and layers. */
  private record(st: StageState, entry: HistoryEntry | undefined): ImageRecord {
    const created = new Date().toISOString();
    st.config.created = created;
    if (entry) st.config.history = [...(st.config.history ?? []), { created, ...entry }];
    st.config.rootfs = { type: "layers", diff_ids: st.layers.map((l) => l.diffId) };
    // The store's one publish operation: the step's layers are pinned and checked still there.
    const img = this.engine.images.publish({ layers: [], reuse: st.layers.map((l) => l.diffId), images: [{ config: st.config, layers: st.layers }] })[0]!;
    st.imageId = img.id;
    return img;
  }

  /** Look the step up in the cache; on a hit, take its image as the stage's state. */
  private fromCache(st: StageState, key: string): boolean {
    if (this.opts.noCache) return false;
    const id = this.cache.lookup(key);
    if (!id) return false;
    const img = this.engine.images.getImage(id)!;
    this.engine.images.pin(img.layers.flatMap((l) => [l.diffId, l.digest]));
    st.imageId = img.id;
    st.layers = img.layers;
    st.config = this.engine.images.getConfig(img) as StageState["config"];
    st.config.config ??= {};
    this.opts.progress(`--> Using cache ${img.id.slice(7)}`);
    this.hit = true;
    return true;
  }

  private async metadataStep(st: StageState, createdBy: string, mutate: () => void): Promise<void> {
    const key = cacheKey({ parent: st.imageId ?? "scratch", instruction: createdBy });
    if (this.fromCache(st, key)) return;
    mutate();
    const img = this.record(st, { created_by: createdBy, empty_layer: true });
    this.cache.store(key, img.id);
  }

  /** RUN's environment: the stage's ARGs (unless ENV has them) and passed proxy args. */
  private runArgs(st: StageState): string[] {
    const env = envMap(st.config.config);
    const out: string[] = [];
    for (const [k, v] of st.args) if (v !== undefined && !env.has(k)) out.push(`${k}=${v}`);
    for (const k of PREDEFINED_ARGS) {
      const v = this.opts.buildArgs.get(k);
      if (v !== undefined && !st.args.has(k) && !env.has(k)) out.push(`${k}=${v}`);
    }
    return out;
  }

  private async runStep(st: StageState, ins: Instruction): Promise<void> {
    checkFlags(ins, ["network", "mount", "security"]);
    const net = flagValue(ins, "network");
    if (net !== undefined && net !== "none" && net !== "default") {
      throw new DockerfileError(`RUN --network=${net} is not supported: minid build containers use the default bridge or none`, ins.line);
    }
    if (flagValue(ins, "security") !== undefined) throw new DockerfileError("RUN --security is not supported by minid build", ins.line);
    let argv: string[];
    let script: { name: string; content: string } | undefined;
    if (ins.heredocs.length && !ins.json && /^<<-?["']?[A-Za-z_][A-Za-z0-9_.-]*["']?$/.test(ins.rest.trim()) && ins.heredocs[0]!.content.startsWith("#!")) {
      // `RUN <<EOF` whose body starts with #!: BuildKit runs the body as an executable file
      // with its own interpreter. It is mounted under /dev (a tmpfs), so it is not committed.
      const h = ins.heredocs[0]!;
      script = { name: h.name, content: h.expand ? this.expandHeredoc(st, h.content) : h.content };
      argv = [`/dev/pipes/${h.name}`];
    } else if (ins.heredocs.length && !ins.json && /^<<-?["']?[A-Za-z_][A-Za-z0-9_.-]*["']?$/.test(ins.rest.trim())) {
      // `RUN <<EOF`: the heredoc is the script.
      argv = [...this.shell(st), ins.heredocs[0]!.content];
    } else if (ins.heredocs.length && !ins.json) {
      // A command reading heredocs: the shell gets the line with its bodies.
      const text = [ins.rest, ...ins.heredocs.map((h) => `${h.content}${h.name}`)].join("\n");
      argv = [...this.shell(st), text];
    } else argv = this.commandOf(st, ins);
    const args = this.runArgs(st).filter((a) => !PREDEFINED_ARGS.includes(a.split("=")[0]!));
    const shown = ins.json ? argv.join(" ") : argv.join(" ");
    const createdBy = args.length ? `|${args.length} ${args.join(" ")} ${shown}` : shown;
    const { parseRunMount, mountKey, RunMountError } = await import("./run-mounts.ts");
    let mounts;
    try {
      mounts = flagValues(ins, "mount").map((m) => parseRunMount(this.word(st, m), st.config.config.WorkingDir || "/"));
    } catch (e) {
      if (e instanceof RunMountError) throw new DockerfileError(e.message, ins.line);
      throw e;
    }
    // A bind of context files keys the step on their content, as BuildKit does: editing a
    // file the RUN reads through the mount reruns it.
    const mountsKey = mounts.map((m) => {
      if (m.type !== "bind" || m.from !== undefined) return mountKey(m);
      const found = resolveSources(this.opts.context, m.source);
      if (found.length !== 1) throw new DockerfileError(`RUN --mount source ${m.source}: not found in the build context`, ins.line);
      return `${mountKey(m)} ${sourcesChecksum(this.opts.context, found)}`;
    });
    const key = cacheKey({
      parent: st.imageId ?? "scratch",
      instruction: `RUN ${JSON.stringify(argv)}${script ? ` script=${JSON.stringify(script.content)}` : ""}${mountsKey.length ? " " + JSON.stringify(mountsKey) : ""}${net && net !== "default" ? ` network=${net}` : ""}`,
      args,
    });
    if (this.fromCache(st, key)) return;
    if (!st.imageId) this.record(st, undefined);
    const staged = await this.stageMounts(st, mounts, ins);
    if (script) {
      const file = join(staged.scratch(), script.name);
      writeFileSync(file, script.content, { mode: 0o755 });
      chmodSync(file, 0o755);
      staged.volumes.push(`${file}:/dev/pipes/${script.name}:ro`);
    }
    try {
      const layer = await this.inContainer(st, async (c) => {
        const code = await this.runContainer(c);
        if (code !== 0) {
          throw new DockerfileError(`process "${argv.join(" ")}" did not complete successfully: exit code: ${code}`, ins.line);
        }
      }, this.runArgs(st), argv, { started: true, volumes: staged.volumes, tmpfs: staged.tmpfs, network: (net ?? this.opts.network) === "none" ? "none" : undefined });
      st.layers = [...st.layers, layer];
    } finally {
      staged.cleanup();
    }
    const img = this.record(st, { created_by: createdBy });
    this.cache.store(key, img.id);
  }

  /**
   * Host paths for a RUN's mounts, as -v/--tmpfs specs: context binds in place (read-only),
   * rw binds and binds of another stage as scratch copies (their writes are thrown away),
   * cache mounts from the store, secrets as private scratch files.
   */
  private async stageMounts(st: StageState, mounts: import("./run-mounts.ts").RunMount[], ins: Instruction) {
    const { cacheMountDir } = await import("./run-mounts.ts");
    const volumes: string[] = [];
    const tmpfs: string[] = [];
    const scratches: string[] = [];
    const cleanup = () => {
      for (const d of scratches.splice(0)) removeTree(d);
    };
    const scratch = () => {
      const d = this.engine.images.scratch("run-mount");
      mkdirSync(d, { mode: 0o700 });
      scratches.push(d);
      return d;
    };
    this.live.add(cleanup);
    try {
      for (const m of mounts) {
        if (m.type === "tmpfs") {
          tmpfs.push(m.size ? `${m.target}:size=${m.size}` : m.target);
        } else if (m.type === "bind") {
          let host: string;
          if (m.from !== undefined) host = await this.copyFromStage(st, m.from, m.source, join(scratch(), "src"), ins);
          else {
            const found = resolveSources(this.opts.context, m.source)[0]!;
            if (m.rw) {
              host = join(scratch(), "src");
              const { copyTree } = await import("../storage/copy-tree.ts");
              copyTree(found.path, host);
            } else host = found.path;
          }
          volumes.push(`${host}:${m.target}${m.rw ? "" : ":ro"}`);
        } else if (m.type === "cache") {
          const base = join(this.engine.root, "build", "cache-mounts");
          const { dir, fresh } = cacheMountDir(base, m);
          if (fresh && m.from !== undefined) {
            // A new cache seeded from another stage's (or image's) directory.
            const seeded = await this.copyFromStage(st, m.from, m.source ?? "/", join(scratch(), "seed"), ins);
            const { copyLayers } = await import("../storage/copy-tree.ts");
            copyLayers([seeded], dir);
          }
          volumes.push(`${dir}:${m.target}${m.readOnly ? ":ro" : ""}`);
        } else {
          const secret = this.opts.secrets?.get(m.id);
          if (secret === undefined) {
            if (m.required) throw new DockerfileError(`secret ${m.id} not found: give it with --secret id=${m.id},src=PATH`, ins.line);
            continue;
          }
          const file = join(scratch(), "secret");
          writeFileSync(file, secret, { mode: m.mode });
          chownSync(file, m.uid, m.gid);
          chmodSync(file, m.mode); // after chown, and exact whatever the umask
          volumes.push(`${file}:${m.target}:ro`);
        }
      }
    } catch (e) {
      this.live.delete(cleanup);
      cleanup();
      throw e;
    }
    return {
      volumes,
      tmpfs,
      scratch,
      cleanup: () => {
        this.live.delete(cleanup);
        cleanup();
      },
    };
  }

  /** Copy `path` of a previous stage (or an image) to `dest`, through a merged read-only view. */
  private async copyFromStage(_st: StageState, from: string, path: string, dest: string, ins: Instruction): Promise<string> {
    const stage = this.plan.stages.find((s) => s.steps.includes(ins))!;
    await this.withStageView(from, stage.index, async (root) => {
      const { copyTreeInRoot } = await import("../storage/copy-tree.ts");
      if (!copyTreeInRoot(root, path, dest)) throw new DockerfileError(`RUN --mount from=${from}: ${path} not found`, ins.line);
    });
    return dest;
  }

  /**
   * Run fn with a read-only merged view of `from`: a previous stage (by name or index,
   * before stage `before`) or an image (pulled if missing). A container of it is made for
   * the view and removed however fn ends.
   */
  private async withStageView<T>(from: string, before: number, fn: (root: string) => Promise<T>): Promise<T> {
    const dep = stageRef(this.plan.stages, from, before, true);
    let img: ImageRecord;
    if (dep) img = this.engine.images.getImage(this.results.get(dep)!)!;
    else {
      const { ensureImage } = await import("../image/ensure.ts");
      img = await ensureImage(this.engine, from);
    }
    const { createContainer } = await import("../container/create.ts");
    const { removeContainer } = await import("../container/remove.ts");
    const c = await createContainer(this.engine, {
      image: img.id, cmd: ["/bin/sh"], entrypoint: "", env: [], envFiles: [], volumes: [], tmpfs: [],
      readOnly: false, rm: false, interactive: false, tty: false,
    });
    const remove = () => removeContainer(this.engine, c.id, { force: true });
    this.live.add(remove);
    try {
      return await withMergedView(this.engine, c, fn);
    } finally {
      this.live.delete(remove);
      remove();
    }
  }

  /**
   * A container of the stage's current image (created, maybe started by fn), whose changes
   * become the returned layer; the container is removed however fn ends.
   */
  private async inContainer(
    st: StageState,
    fn: (c: ContainerState) => Promise<void>,
    env: string[] = [],
    cmd: string[] = ["/bin/sh"],
    opts: { started: boolean; volumes?: string[]; tmpfs?: string[]; network?: string } = { started: false },
  ): Promise<ImageRecord["layers"][number]> {
    const { createContainer } = await import("../container/create.ts");
    const { removeContainer } = await import("../container/remove.ts");
    const { writeContainerLayer } = await import("../image/commit.ts");
    const c = await createContainer(this.engine, {
      image: st.imageId!,
      cmd,
      entrypoint: "",
      env,
      envFiles: [],
      volumes: opts.volumes ?? [],
      tmpfs: opts.tmpfs ?? [],
      readOnly: false,
      rm: false,
      interactive: false,
      tty: false,
      // RUN gets the default bridge, as in Docker's builds, unless --network none
      network: { network: opts.network },
    });
    const remove = () => removeContainer(this.engine, c.id, { force: true });
    this.live.add(remove);
    try {
      await fn(c);
      trace("build step: container done");
      const rec = await writeContainerLayer(this.engine, this.engine.containers.find(c.id));
      trace("build step: layer written");
      if (!opts.started) {
        const { adoptUpperAsLayer } = await import("./rootfs.ts");
        adoptUpperAsLayer(this.engine, c, rec.diffId);
      }
      return { diffId: rec.diffId, digest: rec.digest, mediaType: rec.mediaType, size: rec.compressedSize };
    } finally {
      this.live.delete(remove);
      remove();
      trace("build step: container removed");
    }
  }

  /** Start the container attached (its output on our stderr) and wait for its exit code. */
  private async runContainer(c: ContainerState): Promise<number> {
    const { launchContainer } = await import("../container/start.ts");
    const launched = await launchContainer(this.engine, c, { attach: true, stdin: false });
    const conn = launched.conn!;
    const close = () => conn.close();
    this.live.add(close);
    try {
      await conn.closed;
    } finally {
      this.live.delete(close);
    }
    const exit = conn.exit;
    if (!exit) throw new UserError("lost the connection to the build container's watcher");
    return exit.exitCode;
  }

  private async workdir(st: StageState, ins: Instruction): Promise<void> {
    const w = this.word(st, ins.rest);
    if (!w) throw new DockerfileError("WORKDIR requires exactly one argument", ins.line);
    const dir = posix.resolve(st.config.config.WorkingDir || "/", w);
    const createdBy = `/bin/sh -c #(nop) WORKDIR ${dir}`;
    const key = cacheKey({ parent: st.imageId ?? "scratch", instruction: createdBy });
    if (this.fromCache(st, key)) return;
    if (!st.imageId) this.record(st, undefined);
    // The directory is made when missing (owned by USER, as Docker's), in its own layer.
    const exists = await this.probeDir(st, dir);
    st.config.config.WorkingDir = dir;
    if (exists) {
      const img = this.record(st, { created_by: createdBy, empty_layer: true });
      this.cache.store(key, img.id);
      return;
    }
    const layer = await this.inContainer(st, (c) =>
      withWritableRoot(this.engine, c, async (root) => {
        mkdirInRoot(root, dir, this.ownerOf(root, st.config.config.User ?? "", true));
      }),
    );
    st.layers = [...st.layers, layer];
    const img = this.record(st, { created_by: createdBy });
    this.cache.store(key, img.id);
  }

  private async probeDir(st: StageState, dir: string): Promise<boolean> {
    if (!st.layers.length) return dir === "/";
    // Check in the layers directly (top first), as lowerExists does for commit.
    const { lowerExists } = await import("../image/commit.ts");
    await this.engine.images.ensureExtracted(st.layers.map((l) => l.diffId));
    const dirs = st.layers.map((l) => this.engine.images.layerDiffDir(l.diffId));
    if (dir === "/") return true;
    if (!lowerExists(dirs)(dir.replace(/^\/+/, ""))) return false;
    // A symlink or a file there: let the container decide (mkdir resolves it in the root).
    for (let i = dirs.length - 1; i >= 0; i--) {
      try {
        return lstatSync(join(dirs[i]!, dir)).isDirectory();
      } catch {}
    }
    return false;
  }

  /** uid/gid for --chown or USER (names resolved in the image's passwd/group). */
  private ownerOf(root: string, spec: string, forUser: boolean): { uid: number; gid: number } {
    if (!spec) return { uid: 0, gid: 0 };
    const { resolveUser } = require("../linux/users.ts") as typeof import("../linux/users.ts");
    const passwd = readInRoot(root, "/etc/passwd");
    const group = readInRoot(root, "/etc/group");
    try {
      const u = resolveUser(spec, passwd, group);
      // --chown=user: "the same numeric UID as the GID" when no group is given (Docker docs).
      if (!forUser && !spec.includes(":")) return { uid: u.uid, gid: u.uid };
      return { uid: u.uid, gid: u.gid };
    } catch (e) {
      throw new UserError(`unable to convert uid/gid chown string to host mapping: ${(e as Error).message}`);
    }
  }

  private async copyStep(st: StageState, ins: Instruction, stage: Stage): Promise<void> {
    const isAdd = ins.keyword === "ADD";
    checkFlags(ins, isAdd ? ["chown", "chmod", "link", "checksum", "exclude", "from", "keep-git-dir"] : ["chown", "chmod", "link", "from", "parents", "exclude"]);
    if (isAdd && flagValue(ins, "from") !== undefined) throw new DockerfileError("ADD does not support --from", ins.line);
    // --exclude: patterns with .dockerignore's rules, on top of .dockerignore: matched against
    // a source's own path (from the context or --from root), and inside a directory source
    // against paths relative to that directory.
    const excludes = flagValues(ins, "exclude").map((v) => this.word(st, v));
    // --parents: each source keeps its path (from the context root, or from a "/./" in the
    // argument) under the destination, instead of only its last component.
    const parentsV = flagValue(ins, "parents");
    const parents = parentsV === true || parentsV === "true";
    if (parentsV !== undefined && typeof parentsV === "string" && parentsV !== "true" && parentsV !== "false") {
      throw new DockerfileError(`invalid value for --parents: ${parentsV}`, ins.line);
    }
    const keepGitDirV = flagValue(ins, "keep-git-dir");
    const keepGitDir = keepGitDirV === true || keepGitDirV === "true";
    const checksumV = flagValue(ins, "checksum");
    let wantDigest: string | undefined;
    if (checksumV !== undefined) {
      wantDigest = typeof checksumV === "string" ? this.word(st, checksumV) : "";
      if (!/^sha256:[a-f0-9]{64}$/.test(wantDigest)) throw new DockerfileError(`invalid checksum digest format "${wantDigest}": use sha256:<64 hex digits>`, ins.line);
    }
    const chownV = flagValue(ins, "chown");
    const chmodV = flagValue(ins, "chmod");
    const chown = typeof chownV === "string" ? this.word(st, chownV) : undefined;
    let mode: number | undefined;
    if (typeof chmodV === "string") {
      const m = this.word(st, chmodV);
      if (!/^[0-7]{1,4}$/.test(m)) throw new DockerfileError(`invalid chmod parameter ${m}: use an octal mode`, ins.line);
      mode = parseInt(m, 8);
    }
    const words = ins.json ? ins.json.map((w) => this.word(st, w)) : this.words(st, ins.rest);
    const heredocNames = new Set(ins.heredocs.map((h) => h.name));
    const isHeredoc = (w: string) => /^<<-?/.test(w) && heredocNames.has(w.replace(/^<<-?["']?|["']?$/g, ""));
    if (words.length < 2) throw new DockerfileError(`${ins.keyword} requires at least two arguments, but only one was provided. Destination could not be determined`, ins.line);
    const destArg = words[words.length - 1]!;
    const srcArgs = words.slice(0, -1);
    const dest = destArg.startsWith("/") ? destArg : posix.join(st.config.config.WorkingDir || "/", destArg);
    const destIsDir = destArg.endsWith("/") || destArg === "." || destArg.endsWith("/.");

    const scratch = this.engine.images.scratch("build-src");
    mkdirSync(scratch, { mode: 0o700 });
    const dropScratch = () => removeTree(scratch);
    this.live.add(dropScratch);
    try {
      // Where sources come from: the context, another stage, or an image.
      const fromV = flagValue(ins, "from");
      const from = typeof fromV === "string" ? this.word(st, fromV) : undefined;
      const excluded = excludes.length ? new IgnoreMatcher(excludes) : undefined;
      const run = async (srcRoot: { root: string; ignore: IgnoreMatcher }) => {
        const plan: { sources: Source[]; kind: "file" | "dir" | "tar" | "url"; keep?: (rel: string) => string; ignore?: IgnoreMatcher; sum?: string }[] = [];
        let n = 0;
        for (const a of srcArgs) {
          if (isHeredoc(a)) {
            const h = ins.heredocs.find((x) => x.name === a.replace(/^<<-?["']?|["']?$/g, ""))!;
            const content = h.expand ? this.expandHeredoc(st, h.content) : h.content;
            const dir = join(scratch, `heredoc-${n++}`);
            mkdirSync(dir);
            writeFileSync(join(dir, h.name), content, { mode: 0o644 });
            const p = join(dir, h.name);
            plan.push({ sources: [{ rel: h.name, path: p, stat: statSync(p), wildcard: false }], kind: "file" });
          } else if (isAdd && /^https?:\/\//i.test(a)) {
            const got = await this.download(a, join(scratch, `url-${n++}`), ins);
            if (wantDigest) {
              const digest = "sha256:" + new Bun.CryptoHasher("sha256").update(require("node:fs").readFileSync(got.path)).digest("hex");
              if (digest !== wantDigest) throw new DockerfileError(`digest mismatch for ${a}: expected ${wantDigest}, got ${digest}`, ins.line);
            }
            plan.push({ sources: [got], kind: "url" });
          } else if (isAdd && isGitSource(a)) {
            if (wantDigest) throw new DockerfileError("ADD --checksum is not supported for Git sources", ins.line);
            const got = await cloneGit(a, join(scratch, `git-${n++}`), ins);
            // The clone's files, without its .git unless --keep-git-dir: a directory source
            // whose checksum is the commit, as BuildKit keys a Git source.
            plan.push({ sources: [got.source], kind: "dir", ignore: new IgnoreMatcher(keepGitDir ? [] : [".git"]), sum: `git ${got.commit} ${got.subdir}` });
          } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(a) || a.startsWith("git@")) {
            throw new DockerfileError(`${ins.keyword} source ${a}: only http(s) URLs are supported${isAdd ? "" : ", and only by ADD"}`, ins.line);
          } else {
            if (wantDigest) throw new DockerfileError("ADD --checksum needs an http(s) source", ins.line);
            const found = resolveSources(srcRoot, a);
            if (!found.length && !excludes.length) throw new ContextError(`lstat ${a}: no source files were specified (nothing matches the pattern)`);
            let keep: ((rel: string) => string) | undefined;
            if (parents) {
              const pivot = a.includes("/./") ? posix.normalize(a.slice(0, a.indexOf("/./"))).replace(/^\/+|\/+$/g, "").replace(/^\.$/, "") : "";
              keep = (rel: string) => {
                const r = rel === "." ? "" : rel;
                return pivot && (r === pivot || r.startsWith(pivot + "/")) ? r.slice(pivot.length + 1) : r;
              };
            }
            // A source --exclude names itself is not copied at all.
            for (const s of found) if (!excluded?.ignored(s.rel)) plan.push({ sources: [s], keep, kind: isAdd && !from && s.stat.isFile() && isArchive(s.path) ? "tar" : s.stat.isDirectory() ? "dir" : "file" });
          }
        }
        const count = plan.reduce((k, p) => k + p.sources.length, 0);
        if ((count > 1 || srcArgs.some((a) => /[*?[]/.test(a)) && count > 1) && !destIsDir) {
          throw new DockerfileError(`When using ${ins.keyword} with more than one source file, the destination must be a directory and end with a /`, ins.line);
        }
        const sources = plan.flatMap((p) => p.sources);
        const checksum = sourcesChecksum(srcRoot, plan.filter((p) => !p.sum).flatMap((p) => p.sources)) + plan.map((p) => p.sum ?? p.kind).join(",");
        const what = sources.length === 1 && sources[0]!.stat.isDirectory() ? "dir" : "file";
        const createdBy = `/bin/sh -c #(nop) ${ins.keyword} ${what}:${checksum.slice(0, 64)} in ${dest} `;
        const key = cacheKey({
          parent: st.imageId ?? "scratch",
          instruction: `${ins.keyword} ${JSON.stringify({ chown, mode, dest, destIsDir, srcArgs, from, ...(excludes.length ? { excludes } : {}), ...(parents ? { parents } : {}) })}`,
          content: checksum,
        });
        if (this.fromCache(st, key)) return;
        if (!st.imageId) this.record(st, undefined);
        // Untar archives for ADD into scratch first (never into the image directly).
        const expanded: { entries: ReturnType<typeof walkSource>; src: Source; kind: string; keepOwners: boolean; keep?: (rel: string) => string }[] = [];
        for (const p of plan) {
          for (const s of p.sources) {
            if (p.kind === "tar") {
              const out = join(scratch, `tar-${n++}`);
              await extractArchive(s.path, out, s.rel, ins);
              const root: Source = { rel: ".", path: out, stat: lstatSync(out), wildcard: false };
              expanded.push({ entries: walkSource({ ignore: new IgnoreMatcher([]) }, root), src: root, kind: "dir", keepOwners: true });
            } else {
              // From another stage or image, owners stay as they were there (BuildKit's
              // rule); context files become root's unless --chown says otherwise.
              let entries = walkSource(p.ignore ? { ignore: p.ignore } : srcRoot, s);
              // Inside a directory source, --exclude matches paths relative to it.
              if (excluded && s.stat.isDirectory()) entries = entries.filter((x) => x.rel === "" || !excluded.ignored(x.rel));
              expanded.push({ entries, src: s, kind: p.kind, keepOwners: from !== undefined && chown === undefined, keep: p.keep });
            }
          }
        }
        trace("build copy: sources ready");
        const layer = await this.inContainer(st, (c) =>
          withWritableRoot(this.engine, c, async (root) => {
            trace("build copy: root mounted");
            const owner = this.ownerOf(root, chown ?? "", false);
            const copies: CopyEntry[] = [];
            const intoDir = destIsDir || isDirInRoot(root, dest);
            for (const e of expanded) {
              let base: string;
              if (e.keep) base = posix.join(dest, e.keep(e.src.rel)); // --parents: the path kept
              else if (e.kind === "dir") base = dest; // a directory's contents go into dest
              else base = intoDir ? posix.join(dest, basename(e.src.rel === "." ? e.src.path : e.src.rel)) : dest;
              for (const x of e.entries) {
                if (e.kind === "dir" && x.rel === "") {
                  mkdirInRoot(root, base, owner); // a new destination directory gets --chown's owner
                  continue;
                }
                copies.push({ src: x.path, stat: x.stat, dest: x.rel ? posix.join(base, x.rel) : base });
              }
              if (e.kind === "dir") {
                copyIntoRoot(root, copies.splice(0), { ...owner, mode, keepOwners: e.keepOwners });
              }
            }
            if (copies.length) copyIntoRoot(root, copies, { ...owner, mode, keepOwners: from !== undefined && chown === undefined });
            trace("build copy: files copied");
          }),
        );
        st.layers = [...st.layers, layer];
        const img = this.record(st, { created_by: createdBy });
        this.cache.store(key, img.id);
      };
      if (from === undefined) return await run(this.opts.context);
      // --from: a previous stage (name or index) or an image, read through a merged view.
      await this.withStageView(from, stage.index, (root) => run({ root, ignore: new IgnoreMatcher([]) }));
    } finally {
      this.live.delete(dropScratch);
      dropScratch();
    }
  }

  private expandHeredoc(st: StageState, content: string): string {
    // Unquoted COPY heredocs expand variables (quotes in the text stay as written).
    return content.replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, (m) => processWord(m, this.vars(st), this.plan.escape));
  }

  /** ADD <url>: fetched into scratch, named after the URL's last path segment, mode 0600. */
  private async download(url: string, dir: string, ins: Instruction): Promise<Source> {
    mkdirSync(dir);
    let res: Response;
    try {
      res = await fetch(url, { redirect: "follow" });
    } catch (e) {
      throw new DockerfileError(`failed to download ${url}: ${(e as Error).message}`, ins.line);
    }
    if (!res.ok) throw new DockerfileError(`failed to download ${url}: HTTP ${res.status}`, ins.line);
    const name = basename(new URL(res.url || url).pathname) || "index.html";
    const p = join(dir, name);
    writeFileSync(p, new Uint8Array(await res.arrayBuffer()), { mode: 0o600 });
    const lm = res.headers.get("last-modified");
    if (lm && !Number.isNaN(Date.parse(lm))) utimesSync(p, new Date(lm), new Date(lm));
    return { rel: name, path: p, stat: statSync(p), wildcard: false };
  }
}

/**
 * An ADD source naming a Git repository, as BuildKit recognises one: `git@host:path`,
 * `git://…`, `ssh://…`, or an http(s) URL whose path ends in `.git`; an optional
 * `#REF[:SUBDIR]` picks a branch, tag or commit and a directory of it.
 */
export function isGitSource(a: string): boolean {
  const base = a.split("#")[0]!;
  return /^git@[^:\s]+:/.test(base) || /^(git|ssh):\/\//i.test(base) || /^https?:\/\/[^\s]+\.git\/?$/i.test(base);
}

export function parseGitSource(a: string): { url: string; ref?: string; subdir: string } {
  const i = a.indexOf("#");
  const url = i < 0 ? a : a.slice(0, i);
  const frag = i < 0 ? "" : a.slice(i + 1);
  const [ref, ...sub] = frag.split(":");
  const subdir = posix.normalize("/" + sub.join(":")).replace(/^\/+/, "");
  return { url, ref: ref || undefined, subdir: subdir === "." ? "" : subdir };
}

/**
 * Clone a Git source with the host's git (BuildKit runs git too), shallow where the server
 * allows: a branch or tag is fetched at depth 1; a commit id the server won't hand out alone
 * falls back to a full fetch. Returns the tree (or its SUBDIR) and the commit.
 */
async function cloneGit(a: string, dir: string, ins: Instruction): Promise<{ source: Source; commit: string; subdir: string }> {
  if (!Bun.which("git")) throw new DockerfileError(`ADD ${a}: Git sources need git on the host (install git)`, ins.line);
  const { url, ref, subdir } = parseGitSource(a);
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "/bin/false", LC_ALL: "C" };
  const git = (args: string[], cwd = dir) => {
    const r = Bun.spawnSync(["git", ...args], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    return { ok: r.exitCode === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim().split("\n").pop() ?? "" };
  };
  mkdirSync(dir, { recursive: true });
  const fail = (why: string): never => {
    throw new DockerfileError(`failed to fetch ${url}${ref ? `#${ref}` : ""}: ${why}`, ins.line);
  };
  if (!git(["init", "-q"]).ok) fail("git init failed");
  let got = git(["fetch", "-q", "--depth", "1", "--no-tags", url, ref ?? "HEAD"]);
  if (!got.ok && ref && /^[0-9a-f]{7,40}$/i.test(ref)) {
    // A commit id: fetch everything, then find it.
    const all = git(["fetch", "-q", "--no-tags", url, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]);
    if (!all.ok) fail(all.err);
    got = git(["rev-parse", "--verify", "-q", `${ref}^{commit}`]);
    if (!got.ok) fail(`no commit ${ref} in the repository`);
    if (!git(["update-ref", "FETCH_HEAD", got.out]).ok) fail("cannot select the commit");
  } else if (!got.ok) fail(got.err);
  const co = git(["-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD"]);
  if (!co.ok) fail(co.err);
  git(["submodule", "update", "-q", "--init", "--recursive", "--depth", "1"]);
  const commit = git(["rev-parse", "HEAD"]).out;
  let path = dir;
  if (subdir) {
    // Inside the checkout only: a subdir reached through a symlink out of it is refused.
    const real = require("node:fs").realpathSync(join(dir, subdir));
    if (real !== dir && !real.startsWith(dir + "/")) fail(`${subdir} leads outside the repository`);
    path = real;
  }
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return fail(`${subdir} not found in the repository`);
  }
  if (!stat.isDirectory()) fail(`${subdir} is not a directory`);
  return { source: { rel: ".", path, stat, wildcard: false }, commit, subdir };
}

/** How a local file ADD extracts is compressed, or null when it is not an archive. */
function archiveKind(path: string): "tar" | "gzip" | "zstd" | "xz" | "bzip2" | null {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(512);
    const n = readSync(fd, b, 0, 512, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return "gzip";
    if (n >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return "zstd";
    if (n >= 6 && b.toString("latin1", 0, 6) === "\xfd7zXZ\0") return "xz";
    if (n >= 3 && b.toString("latin1", 0, 3) === "BZh") return "bzip2";
    return n >= 262 && b.toString("latin1", 257, 262) === "ustar" ? "tar" : null;
  } finally {
    closeSync(fd);
  }
}

function isArchive(path: string): boolean {
  return archiveKind(path) !== null;
}

/**
 * Extract an ADD archive into `out` (a new directory) with the layer extractor, so owners,
 * modes, symlinks, devices and xattrs come out exactly as the tar says and no entry lands
 * outside `out` (node-tar rewrites links and drops specials: design.md). gzip and zstd are
 * read in-process; xz and bzip2 go through the host's `xz`/`bzip2` as a stream, which is
 * what Docker's own archive code does for xz.
 */
async function extractArchive(path: string, out: string, rel: string, ins: Instruction): Promise<void> {
  const kind = archiveKind(path);
  const { applyLayer } = await import("../image/layer-apply.ts");
  let child: ReturnType<typeof Bun.spawn> | undefined;
  let input: string | ReadableStream<Uint8Array> = path;
  if (kind === "xz" || kind === "bzip2") {
    const tool = kind === "xz" ? "xz" : "bzip2";
    if (!Bun.which(tool)) throw new DockerfileError(`failed to extract ${rel}: it is ${kind}-compressed and needs the host's ${tool} (install ${kind === "xz" ? "xz-utils" : "bzip2"})`, ins.line);
    child = Bun.spawn([tool, "-dc", path], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    input = child.stdout as ReadableStream<Uint8Array>;
  }
  try {
    await applyLayer(input, out);
    if (child) {
      const code = await child.exited;
      if (code !== 0) throw new Error((await new Response(child.stderr as ReadableStream).text()).trim() || `${kind} exited with ${code}`);
    }
  } catch (e) {
    child?.kill();
    rmSync(out, { recursive: true, force: true });
    throw new DockerfileError(`failed to extract ${rel}: ${(e as Error).message}`, ins.line);
  }
}
