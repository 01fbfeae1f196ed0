// Output in the shapes the Docker CLI prints: tabwriter tables (minwidth 10, padding 3), human
// durations and sizes from docker/go-units' rules.

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Column width of a string as go-runewidth counts it: East Asian wide runes 2, marks 0. */
export function textWidth(s: string): number {
  // Printable ASCII (nearly every cell) is one column a character: no per-rune test needed.
  if (PRINTABLE_ASCII.test(s)) return s.length;
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (/\p{Mn}|\p{Me}|\p{Cf}/u.test(ch) || c < 0x20) continue;
    const wide =
      (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) || (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x1f300 && c <= 0x1f64f) || (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd);
    w += wide ? 2 : 1;
  }
  return w;
}

/**
 * Go's text/tabwriter (Docker's fork) as the CLI configures it for tables: minwidth 10,
 * padding 3, padded with spaces. Cells are tab-terminated; the text after a line's last tab is
 * not part of a column. A column is a run of consecutive lines that have a cell in it, so
 * widths are computed per block exactly as the elastic-tabstops algorithm does.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const rawLines = text.split("\n");
  const lines = rawLines.map((l) => l.split("\t"));
  let out = "";
  const widths: number[] = [];
  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      line.forEach((cell, j) => {
        out += cell;
        if (j < widths.length && j < line.length - 1) out += " ".repeat(Math.max(0, widths[j]! - textWidth(cell)));
      });
      if (i + 1 < lines.length) out += "\n";
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = minwidth;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, textWidth(line[column]!) + padding);
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out;
}

/** A table of fixed columns as Docker prints its default formats. */
export function table(headers: string[], rows: string[][]): string {
  return tabwrite([headers, ...rows].map((r) => r.join("\t") + "\n").join(""));
}

export { humanDuration, ago } from "../util/duration.ts";

/** go-units HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits. */
export function humanSize(bytes: number, precision = 3): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(precision))}${units[i]}`;
}

/** Docker truncates a quoted command to 20 columns with an ellipsis. */
export function ellipsis(s: string, max: number): string {
  return [...s].length > max ? [...s].slice(0, max - 1).join("") + "…" : s;
}


/**
 * Docker's formatter.Context.Write: `format` is a Go template, "json" (one `{{json .}}` line per
 * item) or "table …" (the template's output laid out by tabwrite() under a header row, which is
 * the same template run on `header` with the header functions). The literal escapes \t and \n
 * are turned into tab and newline first, as Docker does.
 */
export async function formatItems(format: string, items: object[], header: Record<string, string>): Promise<string> {
  const { compile, run } = await import("./template.ts");
  const isTable = format.startsWith("table");
  let f = isTable ? format.slice("table".length) : format === "json" ? "{{json .}}" : format;
  f = f.replace(/^ +| +$/g, "").replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  const tpl = compile(f);
  let body = "";
  for (const it of items) body += run(tpl, it) + "\n";
  if (!isTable) return body;
  // Docker ignores an error in the header row and prints what the header wrote before it.
  const head = tpl.executePartial(header, { header: true });
  return tabwrite(head + "\n" + body);
}

// Intl formatters cost ~50 µs to make: one each, kept (ps formats a time for every container).
let localZone: string | undefined | null = null;
let zoneFormat: Intl.DateTimeFormat | undefined;
function zoneName(d: Date, off: number): string {
  if (localZone === null) localZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (off === 0 && ["UTC", "Etc/UTC", "Universal", undefined].includes(localZone)) return "UTC";
  zoneFormat ??= new Intl.DateTimeFormat("en-US", { timeZoneName: "short" });
  return zoneFormat.formatToParts(d).find((x) => x.type === "timeZoneName")?.value ?? "";
}

/** Go's time.Time.String() of a Unix-seconds time in the local zone: "2006-01-02 15:04:05 -0700 MST". */
export function goTimeString(iso: string | undefined): string {
  const ms = Date.parse(iso ?? "");
  if (Number.isNaN(ms)) return "";
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const off = -d.getTimezoneOffset();
  const p = (n: number) => String(n).padStart(2, "0");
  const sign = off < 0 ? "-" : "+";
  const zone = zoneName(d, off);
  const z = /^[A-Z]{2,5}$/.test(zone) ? zone : `${sign}${p(Math.floor(Math.abs(off) / 60))}${Math.abs(off) % 60 ? p(Math.abs(off) % 60) : ""}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)} ${z}`;
}

/** RFC 3339 with seconds, as Docker's history .CreatedAt (time.RFC3339, local zone). */
export function rfc3339(iso: string | undefined): string {
  const ms = Date.parse(iso ?? "");
  if (Number.isNaN(ms)) return "";
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const p = (n: number) => String(n).padStart(2, "0");
  const zone = off === 0 ? "Z" : `${off < 0 ? "-" : "+"}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

// The parts of Docker's inspect documents that are Go maps (not structs): a missing key there
// is "<no value>", anywhere else it is an error (Docker's typed-then-raw template fallback).
const INSPECT_MAPS = [
  "Config.Labels", "Config.ExposedPorts", "Config.Volumes", "HostConfig.Tmpfs", "HostConfig.LogConfig.Config",
  "GraphDriver.Data", "NetworkSettings.Networks", "NetworkSettings.Ports", "Metadata",
];

/**
 * Docker's inspect output: no format is the documents as indented JSON, "json" compact JSON,
 * anything else a template run on each document (one line each). A template that does not
 * parse fails before anything is printed (exit 64, as Docker's StatusError); one that fails on
 * a document reports it and goes on with the next.
 */
export async function inspectOutput(docs: object[], format: string | undefined): Promise<{ text: string; errors: string[] }> {
  if (!format) return { text: (docs.length ? JSON.stringify(docs, null, 4) : "[]") + "\n", errors: [] };
  if (format === "json") return { text: JSON.stringify(docs) + "\n", errors: [] };
  const { Template, TemplateError, asMap, keepOrder } = await import("./template.ts");
  const { UserError } = await import("../util/errors.ts");
  let tpl;
  try {
    tpl = new Template(format);
  } catch (e) {
    if (e instanceof TemplateError) throw new UserError(`template parsing error: ${e.message}`, 64);
    throw e;
  }
  let text = "";
  const errors: string[] = [];
  for (const doc of docs) {
    for (const path of INSPECT_MAPS) {
      const v = path.split(".").reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), doc);
      if (v && typeof v === "object" && !Array.isArray(v)) asMap(v);
    }
    keepOrder(doc);
    try {
      text += tpl.execute(doc, { missingKeyError: true }) + "\n";
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      errors.push(`template parsing error: ${e.message}`);
    }
  }
  return { text: text || "\n", errors };
}
