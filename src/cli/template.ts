// A small subset of Go's text/template, enough for the `--format` strings Docker users write:
// `{{.Field.Sub}}`, `{{json .Field}}`, `{{.Field | json}}`, `{{upper .X}}`, `{{lower .X}}`,
// `{{index .Map "key"}}`, literal text and the escapes \t and \n. A leading "table " keeps a
// header row (for list commands).
import { UserError } from "../util/errors.ts";

type Fn = (v?: unknown, ...rest: unknown[]) => unknown;
const FUNCS: Record<string, Fn> = {
  json: (v) => JSON.stringify(v ?? null),
  upper: (v) => String(v ?? "").toUpperCase(),
  lower: (v) => String(v ?? "").toLowerCase(),
  index: (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[String(k)] : undefined),
  len: (v) => (Array.isArray(v) || typeof v === "string" ? v.length : v && typeof v === "object" ? Object.keys(v).length : 0),
};

export function goString(v: unknown): string {
  if (v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (Array.isArray(v)) return `[${v.map(goString).join(" ")}]`;
  if (typeof v === "object") {
    const keys = Object.keys(v as object).sort();
    return `map[${keys.map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`).join(" ")}]`;
  }
  return String(v);
}

function field(data: unknown, path: string): unknown {
  if (path === ".") return data;
  let cur: unknown = data;
  for (const part of path.slice(1).split(".")) {
    if (cur === null || cur === undefined || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function term(data: unknown, t: string): unknown {
  if (t.startsWith(".")) return field(data, t);
  if (/^".*"$/.test(t)) return JSON.parse(t);
  if (/^-?\d+$/.test(t)) return Number(t);
  throw new UserError(`template: unknown term "${t}"`);
}

function evalAction(data: unknown, action: string): unknown {
  const stages = action.split("|").map((s) => s.trim()).filter(Boolean);
  let value: unknown;
  stages.forEach((stage, i) => {
    const words = stage.match(/"[^"]*"|\S+/g) ?? [];
    const [head, ...rest] = words;
    if (!head) throw new UserError(`template: empty action in "{{${action}}}"`);
    if (FUNCS[head]) {
      const args = rest.map((w) => term(data, w));
      if (i > 0) args.push(value);
      value = (FUNCS[head] as (...a: unknown[]) => unknown)(...args);
    } else if (words.length === 1) {
      value = term(data, head);
    } else {
      throw new UserError(`template: function "${head}" not defined`);
    }
  });
  return value;
}

export function renderTemplate(tpl: string, data: unknown): string {
  const src = tpl.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  let out = "";
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    if (open < 0) {
      out += src.slice(i);
      break;
    }
    out += src.slice(i, open);
    const close = src.indexOf("}}", open);
    if (close < 0) throw new UserError(`template: unclosed action in "${tpl}"`);
    const action = src.slice(open + 2, close).replace(/^-\s*/, "").replace(/\s*-$/, "").trim();
    const v = evalAction(data, action);
    out += typeof v === "string" ? v : goString(v);
    i = close + 2;
  }
  return out;
}
