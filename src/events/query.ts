// `minid events`: Docker's --since/--until times, its filters, and its line format, over the
// store's journal (journal.ts).
import { UserError } from "../util/errors.ts";
import type { EventMessage } from "./journal.ts";

export type Event = EventMessage & { nano: bigint };

/** Docker's time arguments: RFC 3339 (with or without zone/fraction), Unix seconds[.frac], or a Go duration before now. */
export function parseEventTime(v: string, flag: string, now = Date.now()): bigint {
  if (/^\d+(\.\d{1,9})?$/.test(v)) {
    const [s, f = ""] = v.split(".");
    return BigInt(s!) * 1_000_000_000n + BigInt(f.padEnd(9, "0"));
  }
  const d = /^(?:(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns))+$/.test(v) ? goDurationMs(v) : undefined;
  if (d !== undefined) return BigInt(Math.round(now - d)) * 1_000_000n;
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) || !/T/.test(v) ? v : `${v}Z`);
  if (!Number.isNaN(ms) && /^\d{4}-\d\d-\d\d/.test(v)) {
    const frac = /\.(\d{1,9})/.exec(v)?.[1];
    const base = BigInt(Math.floor(ms / 1000)) * 1_000_000_000n;
    return base + (frac ? BigInt(frac.padEnd(9, "0")) : BigInt(ms % 1000) * 1_000_000n);
  }
  throw new UserError(`invalid value for ${flag}: failed to parse time "${v}"`);
}

function goDurationMs(v: string): number {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

const FILTER_KEYS = new Set(["container", "event", "image", "label", "type", "volume", "network", "daemon", "scope"]);

/** Docker's event filters: values of one key are alternatives, different keys must all match. */
export function eventFilter(filters: string[]): (e: Event) => boolean {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf("=");
    if (i <= 0) throw new UserError(`bad format of filter (expected name=value)`);
    const k = f.slice(0, i);
    if (!FILTER_KEYS.has(k)) throw new UserError(`invalid filter '${k}'`);
    by.set(k, [...(by.get(k) ?? []), f.slice(i + 1)]);
  }
  return (e) => {
    for (const [k, vals] of by) {
      const a = e.Actor.Attributes;
      const ok = vals.some((v) => {
        switch (k) {
          case "container":
            return e.Type === "container" && (e.Actor.ID === v || e.Actor.ID.startsWith(v) || a.name === v);
          case "event":
            return e.Action === v || e.Action.split(":")[0] === v;
          case "image":
            return a.image === v || (a.image ?? "").split(":")[0] === v || (e.Type === "image" && (e.Actor.ID === v || a.name === v));
          case "label": {
            const j = v.indexOf("=");
            return j < 0 ? v in a : a[v.slice(0, j)] === v.slice(j + 1);
          }
          case "type":
            return e.Type === v;
          case "volume":
            return e.Type === "volume" && e.Actor.ID === v;
          case "scope":
            return v === "local";
          default:
            return e.Type === k && e.Actor.ID === v;
        }
      });
      if (!ok) return false;
    }
    return true;
  };
}

/** Docker's default line: `TIME TYPE ACTION ID (k=v, ...)`, the time in RFC 3339 with 9 digits. */
export function eventLine(e: Event): string {
  const secs = e.nano / 1_000_000_000n;
  const frac = String(e.nano % 1_000_000_000n).padStart(9, "0");
  const d = new Date(Number(secs) * 1000);
  const off = -d.getTimezoneOffset();
  const p = (n: number) => String(n).padStart(2, "0");
  const zone = off === 0 ? "Z" : `${off < 0 ? "-" : "+"}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 19);
  const attrs = Object.entries(e.Actor.Attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
  return `${local}.${frac}${zone} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length ? ` (${attrs.join(", ")})` : ""}\n`;
}

/** The event as a template sees it (Go field names of events.Message). */
export function eventStruct(e: Event): Record<string, unknown> {
  return {
    Status: e.status ?? "", ID: e.id ?? "", From: e.from ?? "", Type: e.Type, Action: e.Action,
    Actor: { ID: e.Actor.ID, Attributes: e.Actor.Attributes }, Scope: e.scope, Time: e.time, TimeNano: Number(e.nano),
  };
}

/** encoding/json of the event, Docker's field names and order. */
export function eventJson(e: Event): string {
  const { nano, ...m } = e;
  return JSON.stringify({ ...m, timeNano: undefined }).replace(/}$/, `,"timeNano":${nano}}`).replace(/,"timeNano":null/, "");
}
