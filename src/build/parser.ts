// The Dockerfile syntax as Docker's frontend documents it: parser directives at the top
// (`# syntax=` is accepted and ignored, `# escape=` picks the escape character), comments,
// line continuations (comment and empty lines inside one are dropped), heredocs after RUN,
// COPY and ADD (`<<EOF`, `<<-EOF` strips leading tabs, `<<"EOF"` suppresses expansion),
// flags (`--from=x`) and the exec (JSON array) form. No expansion happens here: which words
// are expanded depends on the instruction (substitute.ts, builder.ts).

export class DockerfileError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

export const INSTRUCTIONS = [
  "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
  "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
] as const;
export type Keyword = (typeof INSTRUCTIONS)[number];

/** Instructions whose arguments may start with --flags. */
const FLAGGED = new Set<Keyword>(["ADD", "COPY", "FROM", "RUN", "HEALTHCHECK"]);
const HEREDOC_ALLOWED = new Set<Keyword>(["ADD", "COPY", "RUN"]);

export interface Heredoc {
  name: string;
  content: string;
  /** Unquoted marker: the content is subject to expansion. */
  expand: boolean;
}

export interface Instruction {
  keyword: Keyword;
  /** 1-based line where the instruction starts. */
  line: number;
  /** The instruction as written, continuations joined (for messages and history). */
  original: string;
  /** Leading --flags, as written without the dashes: "from=build". */
  flags: string[];
  /** Arguments after the flags, continuations joined. */
  rest: string;
  /** Exec form: the JSON array, when the arguments are one. */
  json?: string[];
  heredocs: Heredoc[];
  /** ONBUILD: the instruction it stores. */
  trigger?: Instruction;
}

export interface Dockerfile {
  directives: Record<string, string>;
  escape: string;
  instructions: Instruction[];
  /** Notices for the user (ignored syntax directive, empty continuation lines). */
  warnings: string[];
}

const DIRECTIVE_RE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(["syntax", "escape", "check"]);

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/^\uFEFF/, "").split("\n").map((l) => l.replace(/\r$/, ""));
  const directives: Record<string, string> = {};
  const warnings: string[] = [];
  let i = 0;
  // Directives: only before the first instruction, comment or blank line.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE_RE.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) break; // an unknown directive is a comment, and ends them
    if (key in directives) throw new DockerfileError(`only one ${key} parser directive can be used`, i + 1);
    directives[key] = m[2]!;
  }
  const escape = directives.escape ?? "\\";
  if (escape !== "\\" && escape !== "`") {
    throw new DockerfileError(`invalid escape token '${escape}' does not match ` + "` or \\", 1);
  }
  if (directives.syntax !== undefined) {
    warnings.push(`the syntax directive (${directives.syntax}) is ignored: minid builds with its own Dockerfile frontend`);
  }
  const contRe = new RegExp(`${escapeRe(escape)}[ \\t]*$`);
  const instructions: Instruction[] = [];
  while (i < lines.length) {
    const raw = lines[i]!;
    const trimmed = raw.replace(/^[ \t]+/, "");
    if (trimmed === "" || trimmed.startsWith("#")) {
      i++;
      continue;
    }
    const start = i + 1;
    let text = "";
    let cur = trimmed;
    let emptyInside = false;
    // Join continuation lines; comments and blank lines inside a continuation are skipped.
    for (;;) {
      if (contRe.test(cur)) {
        text += cur.replace(contRe, "");
        i++;
        for (;;) {
          if (i >= lines.length) {
            cur = "";
            break;
          }
          const t = lines[i]!.replace(/^[ \t]+/, "");
          if (t.startsWith("#")) {
            i++;
            continue;
          }
          if (t === "") {
            emptyInside = true;
            i++;
            continue;
          }
          cur = lines[i]!;
          break;
        }
        if (i >= lines.length) break;
        continue;
      }
      text += cur;
      i++;
      break;
    }
    if (emptyInside) warnings.push(`Dockerfile:${start}: empty continuation lines will become errors in a future release`);
    const ins = parseInstructionLine(text, start, escape, false);
    // Heredoc bodies follow the line that names them.
    if (HEREDOC_ALLOWED.has(ins.keyword) && !ins.json) {
      for (const marker of heredocMarkers(ins.rest)) {
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          let l = lines[i++]!;
          if (marker.chomp) l = l.replace(/^\t+/, "");
          if (l === marker.name) {
            closed = true;
            break;
          }
          body.push(l);
        }
        if (!closed) throw new DockerfileError(`unterminated heredoc ${marker.name}`, start);
        ins.heredocs.push({ name: marker.name, content: body.length ? body.join("\n") + "\n" : "", expand: marker.expand });
      }
    }
    instructions.push(ins);
  }
  return { directives, escape, instructions, warnings };
}

function parseInstructionLine(text: string, line: number, escape: string, nested: boolean): Instruction {
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) throw new DockerfileError("empty instruction", line);
  const word = m[1]!;
  const keyword = word.toUpperCase() as Keyword;
  if (!(INSTRUCTIONS as readonly string[]).includes(keyword)) {
    throw new DockerfileError(`unknown instruction: ${word}`, line);
  }
  let rest = (m[2] ?? "").trim();
  const ins: Instruction = { keyword, line, original: text.trim(), flags: [], rest, heredocs: [] };
  if (keyword === "ONBUILD") {
    if (nested) throw new DockerfileError("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", line);
    if (!rest) throw new DockerfileError("ONBUILD requires at least one argument", line);
    const trig = parseInstructionLine(rest, line, escape, true);
    if (trig.keyword === "FROM" || trig.keyword === "MAINTAINER") {
      throw new DockerfileError(`${trig.keyword} isn't allowed as an ONBUILD trigger`, line);
    }
    ins.trigger = trig;
    return ins;
  }
  if (FLAGGED.has(keyword)) {
    // Flags: leading words "--name[=value]"; "--" alone ends them.
    for (;;) {
      const fm = /^--([^\s=]*)(=(?:"[^"]*"|'[^']*'|\S)*)?(?:\s+|$)/.exec(rest);
      if (!fm) break;
      rest = rest.slice(fm[0].length);
      if (fm[1] === "" && fm[2] === undefined) break;
      ins.flags.push(fm[1]! + (fm[2] ?? ""));
    }
  }
  ins.rest = rest;
  if (rest.startsWith("[")) {
    try {
      const v = JSON.parse(rest);
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) ins.json = v;
    } catch {
      // not JSON: shell form, as Docker treats it
    }
  }
  return ins;
}

interface Marker {
  name: string;
  chomp: boolean;
  expand: boolean;
}

/** `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` words in an instruction's arguments. */
export function heredocMarkers(rest: string): Marker[] {
  const out: Marker[] = [];
  for (const m of rest.matchAll(/(?:^|\s|[0-9]|[|&;(])<<(-?)(?:"([A-Za-z0-9_.-]+)"|'([A-Za-z0-9_.-]+)'|([A-Za-z_][A-Za-z0-9_.-]*))/g)) {
    const name = m[2] ?? m[3] ?? m[4]!;
    out.push({ name, chomp: m[1] === "-", expand: m[4] !== undefined });
  }
  return out;
}

/** The value of flag `name` (last one wins), true for a bare flag, undefined when absent. */
export function flagValue(ins: Instruction, name: string): string | true | undefined {
  let v: string | true | undefined;
  for (const f of ins.flags) {
    const eq = f.indexOf("=");
    const k = eq < 0 ? f : f.slice(0, eq);
    if (k !== name) continue;
    v = eq < 0 ? true : unquote(f.slice(eq + 1));
  }
  return v;
}

/** Every value of a repeatable flag (RUN --mount). */
export function flagValues(ins: Instruction, name: string): string[] {
  const out: string[] = [];
  for (const f of ins.flags) {
    const eq = f.indexOf("=");
    if ((eq < 0 ? f : f.slice(0, eq)) === name && eq >= 0) out.push(unquote(f.slice(eq + 1)));
  }
  return out;
}

/** Fail on a flag the instruction does not know (Docker: "unknown flag: x"). */
export function checkFlags(ins: Instruction, allowed: string[]): void {
  for (const f of ins.flags) {
    const k = f.split("=")[0]!;
    if (!allowed.includes(k)) throw new DockerfileError(`unknown flag: ${k}`, ins.line);
  }
}

function unquote(v: string): string {
  if (v.length >= 2 && ((v[0] === '"' && v.endsWith('"')) || (v[0] === "'" && v.endsWith("'")))) return v.slice(1, -1);
  return v;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
