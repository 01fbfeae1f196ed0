// Go's text/template as the Docker CLI uses it for --format: the same grammar (actions, pipelines,
// variables, if/else if/with/range/else/break/continue, define/template/block, comments and trim
// markers), the same builtins (and or not len index slice eq ne lt le gt ge print printf println
// html js urlquery call) plus Docker's own functions (json split join title lower upper pad
// truncate), and error messages worded as Go words them, so scripts written against docker keep
// working and fail the same way.
//
// Values: JS strings, booleans, null (Go's nil), undefined (an absent map entry: "<no value>"),
// arrays (slices), plain objects (maps, printed map[k:v] with sorted keys) and objects marked
// with asStruct() (Docker's formatter contexts: an unknown field is an error, functions on them
// are methods). An integer JS number is a Go int, any other number (or a literal such as 1.0) a
// float64.
import { UserError } from "../util/errors.ts";

/** A template error: `template: :1:2: executing "" at <.Foo>: …` (Go's wording). */
export class TemplateError extends Error {}

const STRUCTS = new WeakMap<object, string>();
const GO_MAPS = new WeakSet<object>();

/** Mark `obj` as a Go struct of type `typeName`: unknown fields fail, functions are methods. */
export function asStruct<T extends object>(obj: T, typeName: string): T {
  STRUCTS.set(obj, typeName);
  return obj;
}

/** Mark `obj` as a Go map even under missingkey=error (a missing key is "<no value>"). */
export function asMap<T extends object>(obj: T): T {
  GO_MAPS.add(obj);
  return obj;
}

/** A float64 constant written in the template (1.0, 1e3), which Go never treats as an int. */
class Float {
  constructor(readonly v: number) {}
}

type Value = unknown;
const MISSING = Symbol("missing");

// ---------------------------------------------------------------------------------------------
// Lexing and parsing

type Node =
  | { k: "text"; text: string }
  | { k: "action"; pos: number; pipe: Pipe }
  | ControlNode
  | { k: "template"; pos: number; name: string; pipe?: Pipe }
  | { k: "break" | "continue"; pos: number };

interface ControlNode {
  k: "if" | "with" | "range";
  pos: number;
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
}
interface Pipe {
  pos: number;
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
  src: string;
}
interface Cmd {
  pos: number;
  args: Arg[];
  src: string;
}
type Arg =
  | { k: "field"; pos: number; names: string[]; src: string }
  | { k: "var"; pos: number; name: string; names: string[]; src: string }
  | { k: "ident"; pos: number; name: string; src: string }
  | { k: "chain"; pos: number; node: Arg; names: string[]; src: string }
  | { k: "pipe"; pos: number; pipe: Pipe; src: string }
  | { k: "const"; pos: number; value: Value; src: string }
  | { k: "dot"; pos: number; src: string }
  | { k: "nil"; pos: number; src: string };

type Tok =
  | { t: "field"; pos: number; names: string[]; sp: boolean; src: string }
  | { t: "var"; pos: number; name: string; names: string[]; sp: boolean; src: string }
  | { t: "ident"; pos: number; name: string; sp: boolean; src: string }
  | { t: "const"; pos: number; value: Value; sp: boolean; src: string }
  | { t: "dot" | "(" | ")" | "|" | "," | ":=" | "=" | "end"; pos: number; sp: boolean; src: string };

const KEYWORDS = new Set(["if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"]);
const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";
const isAlnum = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);

class Parser {
  private defs = new Map<string, Node[]>();
  private vars: string[][] = [];
  constructor(
    private readonly src: string,
    private readonly funcs: Record<string, unknown>,
  ) {}

  lineOf(pos: number): number {
    let n = 1;
    for (let i = 0; i < pos && i < this.src.length; i++) if (this.src[i] === "\n") n++;
    return n;
  }
  fail(pos: number, msg: string): never {
    throw new TemplateError(`template: :${this.lineOf(pos)}: ${msg}`);
  }

  // The template as a sequence of text and actions; each action is its token list.
  private items: ({ k: "text"; text: string } | { k: "act"; pos: number; toks: Tok[] })[] = [];
  private ii = 0;

  lex(): void {
    const s = this.src;
    let i = 0;
    let trimNext = false;
    while (i < s.length) {
      const open = s.indexOf("{{", i);
      let text = s.slice(i, open < 0 ? s.length : open);
      if (trimNext) text = text.replace(/^[ \t\r\n]+/, "");
      trimNext = false;
      if (open < 0) {
        if (text) this.items.push({ k: "text", text });
        break;
      }
      let p = open + 2;
      if (s[p] === "-" && isSpace(s[p + 1])) {
        text = text.replace(/[ \t\r\n]+$/, "");
        p += 2;
      }
      if (text) this.items.push({ k: "text", text });
      // A comment: {{/* … */}}, with optional trim markers.
      const q = p;
      if (s.startsWith("/*", q)) {
        const end = s.indexOf("*/", q + 2);
        if (end < 0) this.fail(q, "unclosed comment");
        let r = end + 2;
        if (s.startsWith(" -}}", r) || (isSpace(s[r]) && s.startsWith("-}}", r + 1))) {
          trimNext = true;
          r = s.indexOf("}}", r) + 2;
        } else if (s.startsWith("}}", r)) r += 2;
        else this.fail(q, "comment ends before closing delimiter");
        i = r;
        continue;
      }
      const { toks, end, trim } = this.lexAction(p);
      this.items.push({ k: "act", pos: open, toks });
      trimNext = trim;
      i = end;
    }
  }

  private lexAction(start: number): { toks: Tok[]; end: number; trim: boolean } {
    const s = this.src;
    const toks: Tok[] = [];
    let i = start;
    let sp = true;
    let parens = 0;
    for (;;) {
      if (i >= s.length) this.fail(i, "unclosed action");
      const c = s[i]!;
      if (isSpace(c)) {
        let j = i;
        while (isSpace(s[j])) j++;
        if (s.startsWith("-}}", j)) return { toks, end: j + 3, trim: true };
        if (c === "\n" || s.slice(i, j).includes("\n")) {
          // Go allows newlines inside actions only within parentheses... and since 1.16 anywhere.
        }
        i = j;
        sp = true;
        continue;
      }
      if (s.startsWith("}}", i)) {
        if (parens > 0) this.fail(i, "unclosed left paren");
        return { toks, end: i + 2, trim: false };
      }
      const pos = i;
      const push = (t: Tok) => {
        toks.push(t);
        sp = false;
      };
      if (c === "(" || c === ")" || c === "|" || c === ",") {
        if (c === "(") parens++;
        if (c === ")") {
          parens--;
          if (parens < 0) this.fail(i, `unexpected right paren`);
        }
        push({ t: c, pos, sp, src: c });
        i++;
        continue;
      }
      if (c === ":" ) {
        if (s[i + 1] !== "=") this.fail(i, "expected :=");
        push({ t: ":=", pos, sp, src: ":=" });
        i += 2;
        continue;
      }
      if (c === "=") {
        push({ t: "=", pos, sp, src: "=" });
        i++;
        continue;
      }
      if (c === '"' || c === "`" || c === "'") {
        const end = this.scanQuoted(i);
        const raw = s.slice(i, end);
        push({ t: "const", pos, value: this.unquote(raw, pos), sp, src: raw });
        i = end;
        continue;
      }
      if (c === "." && !/[0-9]/.test(s[i + 1] ?? "")) {
        if (!isAlnum(s[i + 1])) {
          push({ t: "dot", pos, sp, src: "." });
          i++;
          continue;
        }
        const { names, end } = this.scanFields(i);
        push({ t: "field", pos, names, sp, src: s.slice(i, end) });
        i = end;
        continue;
      }
      if (c === "$") {
        let j = i + 1;
        while (isAlnum(s[j])) j++;
        const name = s.slice(i, j);
        const { names, end } = s[j] === "." && isAlnum(s[j + 1]) ? this.scanFields(j) : { names: [], end: j };
        push({ t: "var", pos, name, names, sp, src: s.slice(i, end) });
        i = end;
        continue;
      }
      if (/[0-9+\-.]/.test(c)) {
        const m = /^[+-]?(0[xX][0-9a-fA-F_]+(\.[0-9a-fA-F_]*)?([pP][+-]?[0-9]+)?|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?[\d_]*([eE][+-]?\d+)?)/.exec(s.slice(i));
        const text = m?.[0] ?? "";
        if (!text || !/[0-9]/.test(text) || isAlnum(s[i + text.length])) {
          this.fail(i, `bad number syntax: "${s.slice(i, i + Math.max(text.length, 1) + (isAlnum(s[i + text.length]) ? 1 : 0))}"`);
        }
        push({ t: "const", pos, value: this.number(text, pos), sp, src: text });
        i += text.length;
        continue;
      }
      if (isAlnum(c)) {
        let j = i;
        while (isAlnum(s[j])) j++;
        const word = s.slice(i, j);
        if (word === "true" || word === "false") push({ t: "const", pos, value: word === "true", sp, src: word });
        else push({ t: "ident", pos, name: word, sp, src: word });
        i = j;
        continue;
      }
      const cp = c.codePointAt(0)!;
      this.fail(i, `bad character U+${cp.toString(16).toUpperCase().padStart(4, "0")} '${c}'`);
    }
  }

  private scanFields(i: number): { names: string[]; end: number } {
    const s = this.src;
    const names: string[] = [];
    while (s[i] === "." && isAlnum(s[i + 1])) {
      let j = i + 1;
      while (isAlnum(s[j])) j++;
      names.push(s.slice(i + 1, j));
      i = j;
    }
    return { names, end: i };
  }

  private scanQuoted(i: number): number {
    const s = this.src;
    const q = s[i]!;
    let j = i + 1;
    for (;;) {
      if (j >= s.length || (q !== "`" && s[j] === "\n")) this.fail(i, q === "`" ? "unterminated raw quoted string" : q === "'" ? "unterminated character constant" : "unterminated quoted string");
      if (q !== "`" && s[j] === "\\") {
        j += 2;
        continue;
      }
      if (s[j] === q) return j + 1;
      j++;
    }
  }

  private unquote(raw: string, pos: number): Value {
    if (raw[0] === "`") return raw.slice(1, -1);
    const body = raw.slice(1, -1);
    let out = "";
    for (let i = 0; i < body.length; i++) {
      const c = body[i]!;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = body[++i];
      const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v", "\\": "\\", '"': '"', "'": "'" };
      if (e !== undefined && simple[e] !== undefined) out += simple[e];
      else if (e === "x" || e === "u" || e === "U") {
        const n = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = body.slice(i + 1, i + 1 + n);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) this.fail(pos, `invalid syntax: ${raw}`);
        out += e === "x" ? Buffer.from([parseInt(hex, 16)]).toString("latin1") : String.fromCodePoint(parseInt(hex, 16));
        i += n;
      } else if (e !== undefined && /[0-7]/.test(e)) {
        out += String.fromCharCode(parseInt(body.slice(i, i + 3), 8));
        i += 2;
      } else this.fail(pos, `invalid syntax: ${raw}`);
    }
    if (raw[0] === "'") {
      if ([...out].length !== 1) this.fail(pos, `malformed character constant: ${raw}`);
      return out.codePointAt(0)!;
    }
    return out;
  }

  private number(text: string, pos: number): Value {
    const t = text.replace(/_/g, "");
    if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(t)) return parseInt(t, 16);
    if (/^[+-]?0[bB][01]+$/.test(t)) return (t.startsWith("-") ? -1 : 1) * parseInt(t.replace(/^[+-]?0[bB]/, ""), 2);
    if (/^[+-]?0[oO]?[0-7]+$/.test(t) && /^[+-]?0/.test(t) && t.replace(/^[+-]/, "").length > 1) return (t.startsWith("-") ? -1 : 1) * parseInt(t.replace(/^[+-]?0[oO]?/, ""), 8);
    if (/^[+-]?\d+$/.test(t)) return Number(t);
    const n = Number(t);
    if (Number.isNaN(n)) this.fail(pos, `bad number syntax: "${text}"`);
    return new Float(n);
  }

  // ------------------------------------------------------------------ parser over the items

  parse(): { root: Node[]; defs: Map<string, Node[]> } {
    this.lex();
    this.vars = [["$"]];
    const { list, end } = this.list(true);
    if (end) this.fail(end.pos, `unexpected ${end.what}`);
    return { root: list, defs: this.defs };
  }

  /** Parse until {{end}} / {{else}}; returns which one ended the list. */
  private list(top = false): { list: Node[]; end?: { what: string; pos: number; toks: Tok[] } } {
    const list: Node[] = [];
    for (;;) {
      const it = this.items[this.ii++];
      if (!it) {
        if (!top) this.fail(this.src.length, "unexpected EOF");
        return { list };
      }
      if (it.k === "text") {
        list.push(it);
        continue;
      }
      const toks = it.toks;
      const head = toks[0];
      if (!head) this.fail(it.pos, "missing value for command");
      if (head.t === "ident" && KEYWORDS.has(head.name)) {
        const kw = head.name;
        if (kw === "end" || kw === "else") {
          if (top) this.fail(it.pos, `unexpected {{${kw}}}`);
          return { list, end: { what: kw, pos: it.pos, toks: toks.slice(1) } };
        }
        if (kw === "if" || kw === "with" || kw === "range") {
          list.push(this.control(kw, it.pos, toks.slice(1)));
          continue;
        }
        if (kw === "break" || kw === "continue") {
          if (toks.length > 1) this.fail(it.pos, `unexpected ${toks[1]!.src} in {{${kw}}}`);
          list.push({ k: kw, pos: it.pos });
          continue;
        }
        if (kw === "template" || kw === "block") {
          const nameTok = toks[1];
          if (!nameTok || nameTok.t !== "const" || typeof nameTok.value !== "string") this.fail(it.pos, `unexpected ${nameTok?.src ?? "EOF"} in ${kw} clause`);
          const pipe = toks.length > 2 ? this.pipeline(toks.slice(2), kw, it.pos) : undefined;
          if (kw === "block") {
            const body = this.list();
            if (body.end?.what !== "end") this.fail(it.pos, "unexpected {{else}} in block clause");
            this.defs.set(nameTok.value as string, body.list);
          }
          list.push({ k: "template", pos: it.pos, name: nameTok.value as string, pipe });
          continue;
        }
        if (kw === "define") {
          const nameTok = toks[1];
          if (!top) this.fail(it.pos, "unexpected <define> in command");
          if (!nameTok || nameTok.t !== "const" || typeof nameTok.value !== "string" || toks.length > 2) this.fail(it.pos, "define clause: expected name");
          const saved = this.vars;
          this.vars = [["$"]];
          const body = this.list();
          this.vars = saved;
          if (body.end?.what !== "end") this.fail(it.pos, "unexpected {{else}} in define clause");
          this.defs.set(nameTok.value as string, body.list);
          continue;
        }
      }
      list.push({ k: "action", pos: it.pos, pipe: this.pipeline(toks, "command", it.pos) });
    }
  }

  private control(kw: "if" | "with" | "range", pos: number, toks: Tok[]): Node {
    this.vars.push([]);
    const pipe = this.pipeline(toks, kw, pos, kw === "range");
    const body = this.list();
    let elseList: Node[] | undefined;
    if (body.end?.what === "else") {
      const rest = body.end.toks;
      if (rest.length && rest[0]!.t === "ident" && ((rest[0] as { name: string }).name === "if" || (rest[0] as { name: string }).name === "with") && kw !== "range") {
        // {{else if …}} / {{else with …}}: a nested control that shares this one's {{end}}.
        const innerKw = (rest[0] as { name: string }).name as "if" | "with";
        elseList = [this.control(innerKw, body.end.pos, rest.slice(1))];
      } else {
        if (rest.length) this.fail(body.end.pos, `unexpected ${rest[0]!.src} in else`);
        this.vars.push([]);
        const e = this.list();
        this.vars.pop();
        if (e.end?.what !== "end") this.fail(e.end?.pos ?? pos, "expected end; found {{else}}");
        elseList = e.list;
      }
    } else if (!body.end) this.fail(pos, "unexpected EOF");
    // The pipeline's variables are visible in {{else}} too, as in Go.
    this.vars.pop();
    return { k: kw, pos, pipe, list: body.list, elseList };
  }

  private pipeline(toks: Tok[], context: string, pos: number, isRange = false): Pipe {
    const src = toks.map((t) => (t.sp ? " " : "") + t.src).join("").trim();
    const pipe: Pipe = { pos: toks[0]?.pos ?? pos, decl: [], assign: false, cmds: [], src };
    let i = 0;
    // Variable declarations: $x := …, $i, $e := …, $x = …
    const t0 = toks[0];
    if (t0 && t0.t === "var" && t0.names.length === 0) {
      const t1 = toks[1];
      if (t1 && (t1.t === ":=" || t1.t === "=")) {
        pipe.decl = [t0.name];
        pipe.assign = t1.t === "=";
        i = 2;
      } else if (t1 && t1.t === "," && isRange) {
        const t2 = toks[2];
        const t3 = toks[3];
        if (t2?.t === "var" && t3 && (t3.t === ":=" || t3.t === "=")) {
          pipe.decl = [t0.name, t2.name];
          pipe.assign = t3.t === "=";
          i = 4;
        } else this.fail(pos, "range can only initialize variables");
      } else if (t1 && t1.t === ",") this.fail(pos, `too many declarations in ${context}`);
    }
    if (pipe.assign) for (const v of pipe.decl) this.lookupVar(v, pos);
    const cmds = this.commands(toks.slice(i), pos, context);
    if (!cmds.length) this.fail(pos, `missing value for ${context}`);
    pipe.cmds = cmds;
    if (!pipe.assign) this.vars[this.vars.length - 1]!.push(...pipe.decl);
    return pipe;
  }

  private lookupVar(name: string, pos: number): void {
    for (const scope of this.vars) if (scope.includes(name)) return;
    this.fail(pos, `undefined variable "${name}"`);
  }

  private commands(toks: Tok[], pos: number, context: string): Cmd[] {
    const cmds: Cmd[] = [];
    let cur: Arg[] = [];
    let curPos = toks[0]?.pos ?? pos;
    let start = 0;
    const finish = (end: number) => {
      if (!cur.length) this.fail(pos, `missing value for command`);
      cmds.push({ pos: curPos, args: cur, src: toks.slice(start, end).map((t, j) => (j && t.sp ? " " : "") + t.src).join("") });
      cur = [];
    };
    let i = 0;
    while (i < toks.length) {
      const t = toks[i]!;
      if (t.t === "|") {
        finish(i);
        i++;
        start = i;
        curPos = toks[i]?.pos ?? pos;
        if (i >= toks.length) this.fail(pos, "missing command");
        continue;
      }
      if (cur.length && !t.sp && t.t !== ")") this.fail(t.pos, `unexpected ${describe(t)} in operand`);
      const { arg, next } = this.operand(toks, i, pos, context);
      cur.push(arg);
      i = next;
    }
    if (cur.length) finish(toks.length);
    return cmds;
  }

  private operand(toks: Tok[], i: number, pos: number, context: string): { arg: Arg; next: number } {
    const t = toks[i]!;
    let arg: Arg;
    let next = i + 1;
    switch (t.t) {
      case "field":
        arg = { k: "field", pos: t.pos, names: t.names, src: t.src };
        break;
      case "var":
        this.lookupVar(t.name, t.pos);
        arg = { k: "var", pos: t.pos, name: t.name, names: t.names, src: t.src };
        break;
      case "ident":
        if (KEYWORDS.has(t.name)) this.fail(t.pos, `unexpected <${t.name}> in ${context}`);
        if (t.name === "nil") arg = { k: "nil", pos: t.pos, src: "nil" };
        else {
          if (!(t.name in this.funcs)) this.fail(t.pos, `function "${t.name}" not defined`);
          arg = { k: "ident", pos: t.pos, name: t.name, src: t.name };
        }
        break;
      case "const":
        arg = { k: "const", pos: t.pos, value: t.value, src: t.src };
        break;
      case "dot":
        arg = { k: "dot", pos: t.pos, src: "." };
        break;
      case "(": {
        let depth = 1;
        let j = i + 1;
        for (; j < toks.length; j++) {
          if (toks[j]!.t === "(") depth++;
          if (toks[j]!.t === ")" && --depth === 0) break;
        }
        if (j >= toks.length) this.fail(t.pos, "unclosed left paren");
        const inner = toks.slice(i + 1, j);
        if (!inner.length) this.fail(t.pos, "missing value for parenthesized pipeline");
        const pipe = this.pipeline(inner, "parenthesized pipeline", t.pos);
        arg = { k: "pipe", pos: t.pos, pipe, src: `(${pipe.src})` };
        next = j + 1;
        break;
      }
      default:
        this.fail(t.pos, `unexpected ${describe(t)} in ${context}`);
    }
    // A field chain right after an operand: (pipe).Field, $x.Field handled by the lexer.
    const after = toks[next];
    if (after && !after.sp && after.t === "field") {
      if (arg.k === "const" || arg.k === "nil") this.fail(after.pos, `unexpected . after term "${arg.src}"`);
      arg = { k: "chain", pos: arg.pos, node: arg, names: after.names, src: arg.src + after.src };
      next++;
    }
    return { arg, next };
  }
}

function describe(t: Tok): string {
  if (t.t === "const" && typeof t.value === "string") return `quoted string`;
  if (t.t === ")" || t.t === "(" || t.t === "|" || t.t === ",") return `"${t.t}"`;
  return `<${t.src}>`;
}

// ---------------------------------------------------------------------------------------------
// Values as Go sees them

function kindOf(v: Value): string {
  if (v === undefined) return "invalid";
  if (v === null) return "nil";
  if (v instanceof Float) return "float";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "function") return "func";
  if (Array.isArray(v)) return "slice";
  if (typeof v === "object" && STRUCTS.has(v)) return "struct";
  return "map";
}

function typeName(v: Value): string {
  const k = kindOf(v);
  if (k === "int") return "int";
  if (k === "float") return "float64";
  if (k === "slice") return "[]interface {}";
  if (k === "map") return "map[string]interface {}";
  if (k === "struct") return STRUCTS.get(v as object)!;
  if (k === "nil" || k === "invalid") return "interface {}";
  if (k === "func") return "func";
  return k;
}

const num = (v: Value): number => (v instanceof Float ? v.v : (v as number));

function truth(v: Value): boolean {
  switch (kindOf(v)) {
    case "invalid":
    case "nil":
      return false;
    case "bool":
      return v as boolean;
    case "int":
    case "float":
      return num(v) !== 0;
    case "string":
      return (v as string).length > 0;
    case "slice":
      return (v as unknown[]).length > 0;
    case "map":
      return Object.keys(v as object).length > 0;
    default:
      return true;
  }
}

/** strconv.FormatFloat(f, 'g', -1, 64), which fmt's %v uses for float64: exponent form when the
 * decimal exponent is < -4 or >= 6 (Go's shortest-form threshold), so 1e6 prints 1e+06. */
function formatFloat(f: number): string {
  if (Number.isNaN(f)) return "NaN";
  if (!Number.isFinite(f)) return f > 0 ? "+Inf" : "-Inf";
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  const [mant, e] = f.toExponential().split("e");
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  // String() switches to exponent form only from 1e21: below 1e6 it is Go's plain form.
  return String(f);
}

/** fmt's %v. */
export function goString(v: Value): string {
  switch (kindOf(v)) {
    case "invalid":
      return "<no value>";
    case "nil":
      return "<nil>";
    case "float":
      return formatFloat(num(v));
    case "slice":
      return `[${(v as unknown[]).map(inner).join(" ")}]`;
    case "map": {
      const o = v as Record<string, unknown>;
      return `map[${Object.keys(o).sort().map((k) => `${k}:${inner(o[k])}`).join(" ")}]`;
    }
    case "struct": {
      const o = v as Record<string, unknown>;
      return `{${Object.values(o).filter((x) => typeof x !== "function").map(inner).join(" ")}}`;
    }
    case "func":
      return "0x0";
    default:
      return String(v);
  }
}
// Inside a composite, fmt prints a nil interface as <nil> and never "<no value>".
const inner = (v: Value) => (v === undefined ? "<nil>" : goString(v));

/** encoding/json as Docker's `json` function uses it: no HTML escaping, maps with sorted keys. */
export function goJson(v: Value): string {
  const conv = (x: Value): unknown => {
    if (x === undefined) return null;
    if (x instanceof Float) return x.v;
    if (Array.isArray(x)) return x.map(conv);
    if (x && typeof x === "object") {
      const o = x as Record<string, unknown>;
      const keys = STRUCTS.has(o) ? Object.keys(o).sort() : GO_MAPS.has(o) || !isDocOrder(o) ? Object.keys(o).sort() : Object.keys(o);
      const out: Record<string, unknown> = {};
      for (const k of keys) if (typeof o[k] !== "function") out[k] = conv(o[k]);
      return out;
    }
    return typeof x === "function" ? null : x;
  };
  return JSON.stringify(conv(v)).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}
// Documents built as Docker's structs (inspect) keep their declaration order; everything else
// is a Go map and encoding/json sorts its keys.
const DOC_ORDER = new WeakSet<object>();
const isDocOrder = (o: object) => DOC_ORDER.has(o);
/** Mark every object in `doc` (except those marked asMap) as a struct for json's key order. */
export function keepOrder<T>(doc: T): T {
  const walk = (x: unknown) => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === "object") {
      if (!GO_MAPS.has(x)) DOC_ORDER.add(x);
      Object.values(x).forEach(walk);
    }
  };
  walk(doc);
  return doc;
}

// ---------------------------------------------------------------------------------------------
// fmt: Sprint, Sprintln, Sprintf

function sprint(args: Value[]): string {
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && kindOf(a) !== "string" && kindOf(args[i - 1]) !== "string") out += " ";
    out += goString(a);
  });
  return out;
}

const sprintln = (args: Value[]) => args.map(goString).join(" ") + "\n";

function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\x07") out += "\\a";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (ch === "\v") out += "\\v";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if ((c >= 0x80 && c < 0xa0) || c === 0xfffd || (c >= 0xd800 && c < 0xe000)) out += c > 0xffff ? `\\U${c.toString(16).padStart(8, "0")}` : `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + '"';
}

export function sprintf(format: string, args: Value[]): string {
  let out = "";
  let ai = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== "%") {
      out += c;
      continue;
    }
    const m = /^([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])/.exec(format.slice(i + 1));
    if (!m) {
      out += "%!(NOVERB)";
      break;
    }
    i += m[0].length;
    const flags = m[1]!;
    let width = m[2] === "*" ? Number(args[ai++]) : m[2] ? Number(m[2]) : undefined;
    const precision = m[3] === "*" ? Number(args[ai++]) : m[3] !== undefined ? Number(m[3]) : m[0].includes(".") ? 0 : undefined;
    const verb = m[4]!;
    if (verb === "%") {
      out += "%";
      continue;
    }
    if (ai >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[ai++];
    const k = kindOf(a);
    const bad = () => `%!${verb}(${typeName(a)}=${goString(a)})`;
    let s: string;
    switch (verb) {
      case "v":
        s = flags.includes("#") && k === "string" ? goQuote(a as string) : goString(a);
        break;
      case "s":
        s = k === "string" ? (a as string) : k === "slice" && (a as unknown[]).every((x) => typeof x === "string") ? goString(a) : k === "int" || k === "float" || k === "bool" ? bad() : goString(a);
        if (precision !== undefined && k === "string") s = [...s].slice(0, precision).join("");
        break;
      case "q":
        s = k === "string" ? goQuote(a as string) : k === "int" ? `'${String.fromCodePoint(a as number)}'` : bad();
        break;
      case "d":
        s = k === "int" ? String(a) : bad();
        if (k === "int" && flags.includes("+") && (a as number) >= 0) s = "+" + s;
        break;
      case "x":
      case "X": {
        if (k === "int") s = (a as number).toString(16);
        else if (k === "string") s = Buffer.from(a as string).toString("hex");
        else s = bad();
        if (verb === "X") s = s.toUpperCase();
        break;
      }
      case "o":
        s = k === "int" ? (a as number).toString(8) : bad();
        break;
      case "b":
        s = k === "int" ? (a as number).toString(2) : bad();
        break;
      case "c":
        s = k === "int" ? String.fromCodePoint(a as number) : bad();
        break;
      case "t":
        s = k === "bool" ? String(a) : bad();
        break;
      case "f":
      case "F":
        s = k === "float" || k === "int" ? (k === "int" ? bad() : num(a).toFixed(precision ?? 6)) : bad();
        if (k === "float" && flags.includes("+") && num(a) >= 0) s = "+" + s;
        break;
      case "e":
      case "g":
        if (k !== "float") s = bad();
        else if (verb === "e") {
          const [mm, e] = num(a).toExponential(precision ?? 6).split("e");
          s = `${mm}e${Number(e) < 0 ? "-" : "+"}${String(Math.abs(Number(e))).padStart(2, "0")}`;
        } else s = precision !== undefined ? String(Number(num(a).toPrecision(precision || 1))) : formatFloat(num(a));
        break;
      case "T":
        s = typeName(a);
        break;
      default:
        s = bad();
    }
    if (width !== undefined && [...s].length < width) {
      const pad = width - [...s].length;
      if (flags.includes("-")) s = s + " ".repeat(pad);
      else if (flags.includes("0") && "dfFeEgxXob".includes(verb)) {
        const sign = /^[+-]/.test(s) ? s[0] : "";
        s = sign + "0".repeat(pad) + s.slice(sign.length);
      } else s = " ".repeat(pad) + s;
    }
    out += s;
  }
  if (ai < args.length) out += `%!(EXTRA ${args.slice(ai).map((a) => `${typeName(a)}=${goString(a)}`).join(", ")})`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Functions

class CallError extends Error {}
/** A function's argument of the wrong type (reported at the argument, as Go does). */
class ArgTypeError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

type GoFunc = { fn: (...a: Value[]) => Value; params: string[]; variadic?: string; raw?: boolean };

const wantString = (v: Value, i: number): string => {
  if (kindOf(v) !== "string") throw new ArgTypeError(i, `wrong type for value; expected string; got ${typeName(v)}`);
  return v as string;
};
const wantInt = (v: Value, i: number): number => {
  if (kindOf(v) !== "int") throw new ArgTypeError(i, `wrong type for value; expected int; got ${typeName(v)}`);
  return v as number;
};

function indexArg(v: Value, len: number, cap = len): number {
  if (kindOf(v) !== "int") throw new CallError(`cannot index slice/array with type ${typeName(v)}`);
  const n = v as number;
  if (n < 0 || n > cap) throw new CallError(`index out of range: ${n}`);
  return n;
}

function basicKind(v: Value): string {
  const k = kindOf(v);
  if (k === "int" || k === "float" || k === "string" || k === "bool") return k;
  throw new CallError("invalid type for comparison");
}

function eq(a: Value, ...bs: Value[]): boolean {
  const ka = kindOf(a);
  if (!bs.length) throw new CallError("missing argument for comparison");
  for (const b of bs) {
    const kb = kindOf(b);
    if ((ka === "nil" || ka === "invalid") && (kb === "nil" || kb === "invalid")) return true;
    if (ka === "slice" || ka === "map" || ka === "struct" || kb === "slice" || kb === "map" || kb === "struct" || ka === "func" || kb === "func") {
      if (ka === "nil" || kb === "nil") {
        if (b === a) return true;
        continue;
      }
      throw new CallError(`non-comparable type ${goString(ka === "slice" || ka === "map" || ka === "struct" ? a : b)}: ${typeName(ka === "slice" || ka === "map" || ka === "struct" ? a : b)}`);
    }
    if (ka === "nil" || kb === "nil" || ka === "invalid" || kb === "invalid") {
      if (ka === "invalid" || kb === "invalid") throw new CallError("invalid type for comparison");
      continue;
    }
    if (basicKind(a) !== basicKind(b)) throw new CallError("incompatible types for comparison");
    if (ka === "int" || ka === "float" ? num(a) === num(b) : a === b) return true;
  }
  return false;
}

function lt(a: Value, b: Value): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka !== kb) throw new CallError("incompatible types for comparison");
  if (ka === "bool") throw new CallError("invalid type for comparison");
  return ka === "string" ? Buffer.compare(Buffer.from(a as string), Buffer.from(b as string)) < 0 : num(a) < num(b);
}

function htmlEscape(s: string): string {
  return s.replace(/[<>&'"\0]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\uFFFD" })[c]!);
}

function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === "<") out += "\\u003C";
    else if (ch === ">") out += "\\u003E";
    else if (ch === "&") out += "\\u0026";
    else if (ch === "=") out += "\\u003D";
    else if (c < 0x20) out += `\\u${c.toString(16).toUpperCase().padStart(4, "0")}`;
    else out += ch;
  }
  return out;
}

/** strings.Title: the first letter of each word upper-cased (words split at non-letters). */
function title(s: string): string {
  let prev = " ";
  let out = "";
  for (const ch of s) {
    const sep = !/[\p{L}\p{N}_']/u.test(prev);
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

function goLen(v: Value): number {
  const k = kindOf(v);
  if (k === "string") return Buffer.byteLength(v as string);
  if (k === "slice") return (v as unknown[]).length;
  if (k === "map") return Object.keys(v as object).length;
  throw new CallError(`len of type ${typeName(v)}`);
}

function goIndex(item: Value, ...idx: Value[]): Value {
  let v = item;
  for (const i of idx) {
    const k = kindOf(v);
    if (k === "slice") {
      const arr = v as unknown[];
      if (kindOf(i) !== "int") throw new CallError(`cannot index slice/array with type ${typeName(i)}`);
      if ((i as number) < 0 || (i as number) >= arr.length) throw new CallError(`index out of range: ${i}`);
      v = arr[i as number];
    } else if (k === "string") {
      const b = Buffer.from(v as string);
      if (kindOf(i) !== "int") throw new CallError(`cannot index slice/array with type ${typeName(i)}`);
      if ((i as number) < 0 || (i as number) >= b.length) throw new CallError(`index out of range: ${i}`);
      v = b[i as number];
    } else if (k === "map") {
      if (kindOf(i) !== "string") throw new CallError(`value has type ${typeName(i)}; should be string`);
      const o = v as Record<string, unknown>;
      if (Object.hasOwn(o, i as string)) v = o[i as string];
      else {
        // A missing key yields the map's zero value: "" for Docker's map[string]string.
        const vals = Object.values(o);
        v = vals.length === 0 || vals.every((x) => typeof x === "string") ? "" : null;
      }
    } else if (k === "nil" || k === "invalid") throw new CallError("index of untyped nil");
    else throw new CallError(`can't index item of type ${typeName(v)}`);
  }
  return v;
}

function goSlice(item: Value, ...idx: Value[]): Value {
  const k = kindOf(item);
  if (k !== "string" && k !== "slice") {
    if (k === "nil" || k === "invalid") throw new CallError("slice of untyped nil");
    throw new CallError(`can't slice item of type ${typeName(item)}`);
  }
  if (idx.length > 3) throw new CallError(`too many slice indexes: ${idx.length}`);
  if (k === "string" && idx.length === 3) throw new CallError("cannot 3-index slice a string");
  const len = k === "string" ? Buffer.byteLength(item as string) : (item as unknown[]).length;
  const ix = idx.map((i) => indexArg(i, len));
  const lo = ix[0] ?? 0;
  const hi = ix[1] ?? len;
  if (lo > hi) throw new CallError(`invalid slice index: ${lo} > ${hi}`);
  if (ix[2] !== undefined && hi > ix[2]) throw new CallError(`invalid slice index: ${hi} > ${ix[2]}`);
  return k === "string" ? Buffer.from(item as string).subarray(lo, hi).toString() : (item as unknown[]).slice(lo, hi);
}

const REFLECT_BUILTINS = new Set(["and", "or", "not", "len", "index", "slice", "eq", "ne", "lt", "le", "gt", "ge", "call"]);

const BUILTINS: Record<string, GoFunc> = {
  and: { fn: () => undefined, params: [], raw: true },
  or: { fn: () => undefined, params: [], raw: true },
  not: { fn: (a) => !truth(a), params: ["any"] },
  len: { fn: (a) => goLen(a), params: ["any"] },
  index: { fn: (a, ...r) => goIndex(a, ...r), params: ["any"], variadic: "any" },
  slice: { fn: (a, ...r) => goSlice(a, ...r), params: ["any"], variadic: "any" },
  eq: { fn: (a, ...r) => eq(a, ...r), params: ["any"], variadic: "any" },
  ne: { fn: (a, b) => !eq(a, b), params: ["any", "any"] },
  lt: { fn: (a, b) => lt(a, b), params: ["any", "any"] },
  le: { fn: (a, b) => lt(a, b) || eq(a, b), params: ["any", "any"] },
  gt: { fn: (a, b) => !lt(a, b) && !eq(a, b), params: ["any", "any"] },
  ge: { fn: (a, b) => !lt(a, b), params: ["any", "any"] },
  print: { fn: (...a) => sprint(a), params: [], variadic: "any" },
  printf: { fn: (f, ...a) => sprintf(f as string, a), params: ["string"], variadic: "any" },
  println: { fn: (...a) => sprintln(a), params: [], variadic: "any" },
  html: { fn: (...a) => htmlEscape(a.length === 1 && typeof a[0] === "string" ? a[0] : sprint(a)), params: [], variadic: "any" },
  js: { fn: (...a) => jsEscape(a.length === 1 && typeof a[0] === "string" ? a[0] : sprint(a)), params: [], variadic: "any" },
  urlquery: { fn: (...a) => encodeURIComponent(a.length === 1 && typeof a[0] === "string" ? a[0] : sprint(a)).replace(/%20/g, "+").replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase()), params: [], variadic: "any" },
  call: {
    fn: (f, ...a) => {
      if (typeof f !== "function") throw new CallError(`non-function ${goString(f)} of type ${typeName(f)}`);
      return f(...a);
    },
    params: ["any"],
    variadic: "any",
  },
};

const DOCKER_FUNCS: Record<string, GoFunc> = {
  json: { fn: (v) => goJson(v), params: ["any"] },
  split: { fn: (s, sep) => (sep === "" ? [...(s as string)] : (s as string).split(sep as string)), params: ["string", "string"] },
  join: {
    fn: (a, sep) => {
      if (!Array.isArray(a) || !a.every((x) => typeof x === "string")) throw new ArgTypeError(0, `wrong type for value; expected []string; got ${typeName(a)}`);
      return a.join(sep as string);
    },
    params: ["any", "string"],
  },
  title: { fn: (s) => title(s as string), params: ["string"] },
  lower: { fn: (s) => (s as string).toLowerCase(), params: ["string"] },
  upper: { fn: (s) => (s as string).toUpperCase(), params: ["string"] },
  pad: { fn: (s, l, r) => ((s as string) === "" ? "" : " ".repeat(l as number) + s + " ".repeat(r as number)), params: ["string", "int", "int"] },
  truncate: {
    fn: (s, n) => {
      const b = Buffer.from(s as string);
      if (b.length < (n as number)) return s;
      if ((n as number) < 0) throw new CallError(`slice bounds out of range [:${n}]`);
      return b.subarray(0, n as number).toString();
    },
    params: ["string", "int"],
  },
};

/** Docker's table headers keep their text: these replace the functions that would change it. */
const HEADER_FUNCS: Record<string, GoFunc> = {
  json: { fn: (v) => v, params: ["string"] },
  split: { fn: (v) => v, params: ["string", "string"] },
  join: { fn: (v) => v, params: ["string", "string"] },
  title: { fn: (v) => v, params: ["string"] },
  lower: { fn: (v) => v, params: ["string"] },
  upper: { fn: (v) => v, params: ["string"] },
  truncate: { fn: (v) => v, params: ["string", "int"] },
};

// ---------------------------------------------------------------------------------------------
// Execution

class Break {}
class Continue {}

export interface ExecOptions {
  /** Go's Option("missingkey=error"): an absent map key fails (docker inspect's raw fallback). */
  missingKeyError?: boolean;
  /** Use Docker's header functions (table headers). */
  header?: boolean;
}

export class Template {
  private readonly root: Node[];
  private readonly defs: Map<string, Node[]>;
  private readonly src: string;
  constructor(src: string) {
    this.src = src;
    const p = new Parser(src, { ...BUILTINS, ...DOCKER_FUNCS });
    const { root, defs } = p.parse();
    this.root = root;
    this.defs = defs;
  }

  /** Execute; on an error, what was written before it is in `partial` of the thrown error. */
  execute(data: Value, opts: ExecOptions = {}): string {
    const st = new State(this.src, this.defs, data, opts);
    st.walkList(this.root, data);
    return st.out;
  }

  /** Execute, keeping whatever was written before an error (Docker ignores header errors). */
  executePartial(data: Value, opts: ExecOptions = {}): string {
    const st = new State(this.src, this.defs, data, opts);
    try {
      st.walkList(this.root, data);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
    }
    return st.out;
  }
}

class State {
  out = "";
  private vars: { name: string; value: Value }[];
  private node: { pos: number; src: string } | undefined;
  private name = "";
  private depth = 0;
  private readonly funcs: Record<string, GoFunc>;
  constructor(
    private readonly src: string,
    private readonly defs: Map<string, Node[]>,
    data: Value,
    private readonly opts: ExecOptions,
  ) {
    this.vars = [{ name: "$", value: data }];
    this.funcs = { ...BUILTINS, ...DOCKER_FUNCS, ...(opts.header ? HEADER_FUNCS : {}) };
  }

  private at(n: { pos: number; src: string }) {
    this.node = n;
  }

  private fail(msg: string): never {
    const n = this.node;
    let loc = "";
    if (n) {
      const before = this.src.slice(0, n.pos);
      const line = before.split("\n").length;
      const col = n.pos - (before.lastIndexOf("\n") + 1);
      const ctx = n.src.length > 20 ? `${n.src.slice(0, 20)}...` : n.src;
      loc = `:${line}:${col}: executing "${this.name}" at <${ctx}>: `;
    } else loc = `: executing "${this.name}": `;
    throw new TemplateError(`template: ${loc}${msg}`);
  }

  walkList(list: Node[], dot: Value): void {
    for (const n of list) this.walk(n, dot);
  }

  private walk(n: Node, dot: Value): void {
    switch (n.k) {
      case "text":
        this.out += n.text;
        return;
      case "action": {
        const mark = this.vars.length;
        const v = this.evalPipe(dot, n.pipe);
        if (!n.pipe.decl.length) this.print(v, n.pipe);
        // Variables declared in a bare action live until the end of the enclosing block.
        void mark;
        return;
      }
      case "if":
      case "with": {
        const mark = this.vars.length;
        const v = this.evalPipe(dot, n.pipe);
        if (truth(v)) this.walkList(n.list, n.k === "with" ? v : dot);
        else if (n.elseList) this.walkList(n.elseList, dot);
        this.vars.length = mark;
        return;
      }
      case "range":
        return this.range(n, dot);
      case "break":
        throw new Break();
      case "continue":
        throw new Continue();
      case "template": {
        const body = this.defs.get(n.name);
        this.at({ pos: n.pos, src: `{{template "${n.name}"}}` });
        if (!body) this.fail(`no such template "${n.name}"`);
        if (++this.depth > 10000) this.fail(`exceeded maximum template depth (100000)`);
        const v = n.pipe ? this.evalPipe(dot, n.pipe) : undefined;
        const saved = { vars: this.vars, name: this.name };
        this.vars = [{ name: "$", value: v }];
        this.name = n.name;
        this.walkList(body, v);
        this.vars = saved.vars;
        this.name = saved.name;
        this.depth--;
        return;
      }
    }
  }

  private range(n: ControlNode, dot: Value): void {
    const mark = this.vars.length;
    // The declared variables are set per element, not to the pipeline's value.
    const v = this.evalPipe(dot, { ...n.pipe, decl: [] });
    const decl = n.pipe.decl;
    if (!n.pipe.assign) for (const d of decl) this.vars.push({ name: d, value: undefined });
    const one = (key: Value, elem: Value): boolean => {
      if (decl.length === 1) this.setVar(decl[0]!, elem);
      if (decl.length === 2) {
        this.setVar(decl[0]!, key);
        this.setVar(decl[1]!, elem);
      }
      const inner = this.vars.length;
      try {
        this.walkList(n.list, elem);
      } catch (e) {
        if (e instanceof Break) return false;
        if (!(e instanceof Continue)) throw e;
      } finally {
        this.vars.length = inner;
      }
      return true;
    };
    let any = false;
    const k = kindOf(v);
    if (k === "slice") {
      const arr = v as unknown[];
      for (let i = 0; i < arr.length; i++) {
        any = true;
        if (!one(i, arr[i])) break;
      }
    } else if (k === "map") {
      const o = v as Record<string, unknown>;
      for (const key of Object.keys(o).sort()) {
        any = true;
        if (!one(key, o[key])) break;
      }
    } else if (k === "int") {
      if (decl.length > 1) {
        this.at(n.pipe);
        this.fail("can't use int to iterate over more than one variable");
      }
      for (let i = 0; i < (v as number); i++) {
        any = true;
        if (!one(i, i)) break;
      }
    } else if (k === "nil" || k === "invalid") {
      // Ranging over nothing runs {{else}}.
    } else {
      this.at(n.pipe);
      this.fail(`range can't iterate over ${goString(v)}`);
    }
    if (!any && n.elseList) this.walkList(n.elseList, dot);
    this.vars.length = mark;
  }

  private setVar(name: string, value: Value): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.fail(`undefined variable: ${name}`);
  }

  private getVar(name: string): Value {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.fail(`undefined variable: ${name}`);
  }

  private print(v: Value, at: { pos: number; src: string }) {
    if (typeof v === "function") {
      this.at(at);
      this.fail(`can't print ${at.src} of type func`);
    }
    this.out += goString(v);
  }

  private evalPipe(dot: Value, pipe: Pipe): Value {
    let v: Value = MISSING;
    for (const c of pipe.cmds) v = this.evalCmd(dot, c, v);
    if (v === MISSING) v = undefined;
    for (const d of pipe.decl) {
      if (pipe.assign) this.setVar(d, v);
      else this.vars.push({ name: d, value: v });
    }
    return v;
  }

  private evalCmd(dot: Value, cmd: Cmd, final: Value): Value {
    const first = cmd.args[0]!;
    switch (first.k) {
      case "field":
        return this.evalFields(dot, dot, first, first.names, cmd.args, final);
      case "chain": {
        const base = this.evalArg(dot, first.node);
        return this.evalFields(dot, base, first, first.names, cmd.args, final);
      }
      case "ident":
        return this.callFunc(dot, first, cmd, final);
      case "var": {
        const base = this.getVar(first.name);
        if (!first.names.length) {
          this.notAFunction(cmd, final);
          return base;
        }
        return this.evalFields(dot, base, first, first.names, cmd.args, final);
      }
      case "pipe":
        this.notAFunction(cmd, final);
        return this.evalPipe(dot, first.pipe);
    }
    this.notAFunction(cmd, final);
    return this.evalArg(dot, first);
  }

  private notAFunction(cmd: Cmd, final: Value) {
    if (cmd.args.length > 1 || final !== MISSING) {
      this.at(cmd.args[0]!);
      this.fail(`can't give argument to non-function ${cmd.args[0]!.src}`);
    }
  }

  private evalArg(dot: Value, a: Arg): Value {
    this.at(a);
    switch (a.k) {
      case "dot":
        return dot;
      case "nil":
        this.fail("cannot assign nil to interface {}");
      // eslint-disable-next-line no-fallthrough
      case "const":
        return a.value;
      case "field":
        return this.evalFields(dot, dot, a, a.names, [a], MISSING);
      case "var":
        return a.names.length ? this.evalFields(dot, this.getVar(a.name), a, a.names, [a], MISSING) : this.getVar(a.name);
      case "chain":
        return this.evalFields(dot, this.evalArg(dot, a.node), a, a.names, [a], MISSING);
      case "pipe":
        return this.evalPipe(dot, a.pipe);
      case "ident":
        return this.callFunc(dot, a, { pos: a.pos, args: [a], src: a.src }, MISSING);
    }
  }

  /** .A.B.C on `receiver`; the last name may be a method taking the command's other arguments. */
  private evalFields(dot: Value, receiver: Value, node: Arg, names: string[], args: Arg[], final: Value): Value {
    let v = receiver;
    for (let i = 0; i < names.length; i++) {
      const last = i === names.length - 1;
      const hasArgs = last && (args.length > 1 || final !== MISSING);
      v = this.field(dot, v, names[i]!, node, hasArgs ? args : [], final, last);
    }
    return v;
  }

  private field(dot: Value, recv: Value, name: string, node: Arg, args: Arg[], final: Value, last: boolean): Value {
    this.at(node);
    const hasArgs = args.length > 1 || (last && final !== MISSING);
    const k = kindOf(recv);
    if (k === "invalid") {
      if (this.opts.missingKeyError) this.fail(`nil data; no entry for key "${name}"`);
      return undefined;
    }
    if (k === "nil") this.fail(`nil pointer evaluating interface {}.${name}`);
    if (k === "struct") {
      const o = recv as Record<string, unknown>;
      if (!Object.hasOwn(o, name)) this.fail(`can't evaluate field ${name} in type ${typeName(recv)}`);
      const f = o[name];
      if (typeof f === "function") {
        const vals = args.slice(1).map((a) => this.evalArg(dot, a));
        if (final !== MISSING && last) vals.push(final);
        if (vals.length !== f.length) {
          this.at(node);
          this.fail(`wrong number of args for ${name}: want ${f.length} got ${vals.length}`);
        }
        for (const [i, x] of vals.entries()) if (typeof x !== "string") {
          this.at(args[i + 1] ?? node);
          this.fail(`wrong type for value; expected string; got ${typeName(x)}`);
        }
        try {
          return f.apply(o, vals);
        } catch (e) {
          this.fail(`error calling ${name}: ${(e as Error).message}`);
        }
      }
      if (hasArgs) this.fail(`${name} has arguments but cannot be invoked as function`);
      return f;
    }
    if (k === "map") {
      if (hasArgs) this.fail(`${name} is not a method but has arguments`);
      const o = recv as Record<string, unknown>;
      if (!Object.hasOwn(o, name)) {
        if (this.opts.missingKeyError && !GO_MAPS.has(o)) this.fail(`map has no entry for key "${name}"`);
        return undefined;
      }
      return o[name];
    }
    this.fail(`can't evaluate field ${name} in type ${typeName(recv)}`);
  }

  private callFunc(dot: Value, id: Extract<Arg, { k: "ident" }>, cmd: Cmd, final: Value): Value {
    this.at(id);
    const f = this.funcs[id.name];
    if (!f) this.fail(`"${id.name}" is not a defined function`);
    const argNodes = cmd.args.slice(1);
    if (id.name === "and" || id.name === "or") {
      const n = argNodes.length + (final !== MISSING ? 1 : 0);
      if (n < 1) this.fail(`wrong number of args for ${id.name}: want at least 1 got 0`);
      let v: Value;
      for (const a of argNodes) {
        v = this.evalArg(dot, a);
        if (truth(v) === (id.name === "or")) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const numIn = argNodes.length + (final !== MISSING ? 1 : 0);
    if (f.variadic) {
      if (numIn < f.params.length) this.fail(`wrong number of args for ${id.name}: want at least ${f.params.length} got ${argNodes.length}`);
    } else if (numIn !== f.params.length) this.fail(`wrong number of args for ${id.name}: want ${f.params.length} got ${numIn}`);
    const vals: Value[] = argNodes.map((a) => this.evalArg(dot, a));
    if (final !== MISSING) vals.push(final);
    const nodes: { pos: number; src: string }[] = [...argNodes, ...(final !== MISSING ? [cmd.args[cmd.args.length - 1]!] : [])];
    vals.forEach((v, i) => {
      const t = f.params[i] ?? f.variadic ?? "any";
      try {
        if (v === undefined) {
          // An absent value: Go's builtins that take reflect.Value see it as is; a parameter of
          // interface type gets nil (so {{print .Nope}} is <nil>); any other type is an error.
          if (REFLECT_BUILTINS.has(id.name)) return;
          if (t === "any") vals[i] = null;
          else throw new ArgTypeError(i, `invalid value; expected ${t}`);
        } else if (t === "string") wantString(v, i);
        else if (t === "int") wantInt(v, i);
      } catch (e) {
        if (!(e instanceof ArgTypeError)) throw e;
        this.at(nodes[i] ?? id);
        this.fail(e.message);
      }
    });
    try {
      return f.fn(...vals);
    } catch (e) {
      if (e instanceof ArgTypeError) {
        this.at(nodes[e.index] ?? id);
        this.fail(e.message);
      }
      if (e instanceof CallError || e instanceof RangeError) {
        this.at(cmd);
        this.fail(`error calling ${id.name}: ${e.message}`);
      }
      throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Docker's use of it

/** Compile `tpl` as Docker does (errors as `template parsing error: template: :1: …`). */
export function compile(tpl: string): Template {
  try {
    return new Template(tpl);
  } catch (e) {
    if (e instanceof TemplateError) throw new UserError(`template parsing error: ${e.message}`, 1);
    throw e;
  }
}

/** Run a compiled template; an execution error is a one-line UserError exiting 1. */
export function run(t: Template, data: Value, opts: ExecOptions = {}): string {
  try {
    return t.execute(data, opts);
  } catch (e) {
    if (e instanceof TemplateError) throw new UserError(`template parsing error: ${e.message}`, 1);
    throw e;
  }
}

/** One-shot: compile and run `tpl` on `data` (the escapes \t and \n are Docker's, not Go's). */
export function renderTemplate(tpl: string, data: Value, opts: ExecOptions = {}): string {
  return run(compile(tpl), data, opts);
}
