// The store's event journal, what `minid events` reads: one JSON line per event in
// <root>/events.log, in Docker's event shape. With no daemon to hold events in memory, the
// processes that change things write them: lifecycle.ts for a container's states (the watcher
// included), removal, rename, commit, the image and volume commands. A line is appended with
// one O_APPEND write, so concurrent writers never interleave inside a line; the file is
// rotated (one older generation kept) past a few MiB. Writing an event never fails the
// operation it reports (a full disk loses the event, not the container).
import { closeSync, existsSync, openSync, readSync, renameSync, statSync, writeSync, constants } from "node:fs";
import { join } from "node:path";

export interface EventInput {
  Type: "container" | "image" | "volume" | "network" | "daemon";
  Action: string;
  /** The actor's id (container id, image id or name, volume name). */
  id: string;
  attributes?: Record<string, string>;
}

/** Docker's events.Message. */
export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local";
  time: number;
  timeNano: number;
}

const FILE = "events.log";
const MAX_BYTES = 4 << 20;

export function journalPath(root: string): string {
  return join(root, FILE);
}

/** The current time in nanoseconds since the epoch (ms precision plus a per-process counter for order). */
let lastNano = 0n;
function nowNano(): bigint {
  let n = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (n <= lastNano) n = lastNano + 1n;
  lastNano = n;
  return n;
}

export function recordEvent(root: string, ev: EventInput): void {
  try {
    const nano = nowNano();
    const attrs = Object.fromEntries(Object.entries(ev.attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const msg: EventMessage = {
      ...(ev.Type === "container" || ev.Type === "image" ? { status: ev.Action, id: ev.id, ...(attrs.image && ev.Type === "container" ? { from: attrs.image } : {}) } : {}),
      Type: ev.Type,
      Action: ev.Action,
      Actor: { ID: ev.id, Attributes: attrs },
      scope: "local",
      time: Number(nano / 1_000_000_000n),
      timeNano: Number(nano),
    };
    const line = Buffer.from(`${JSON.stringify({ ...msg, timeNano: undefined })}`.replace(/}$/, `,"timeNano":${nano}}`) + "\n");
    const path = journalPath(root);
    rotate(path);
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | 0o2000000 /* O_CLOEXEC */, 0o600);
    try {
      writeSync(fd, line);
    } finally {
      closeSync(fd);
    }
  } catch {
    // an event lost is better than an operation failed
  }
}

function rotate(path: string): void {
  try {
    if (statSync(path).size < MAX_BYTES) return;
    renameSync(path, `${path}.1`);
  } catch {}
}

/** Parse one journal line (undefined for a torn or foreign one). */
function parseLine(l: string): (EventMessage & { nano: bigint }) | undefined {
  try {
    const m = /"timeNano":(\d+)/.exec(l);
    const v = JSON.parse(l) as EventMessage;
    if (!v || typeof v.Action !== "string" || !m) return undefined;
    return { ...v, nano: BigInt(m[1]!) };
  } catch {
    return undefined;
  }
}

/** Every complete event in the journal (the older generation first). */
export function readEvents(root: string): (EventMessage & { nano: bigint })[] {
  const out: (EventMessage & { nano: bigint })[] = [];
  for (const p of [`${journalPath(root)}.1`, journalPath(root)]) {
    if (!existsSync(p)) continue;
    const text = readAll(p, 0).text;
    for (const l of text.split("\n")) {
      const e = l ? parseLine(l) : undefined;
      if (e) out.push(e);
    }
  }
  return out;
}

function readAll(path: string, from: number): { text: string; end: number } {
  const fd = openSync(path, "r");
  try {
    const chunks: Buffer[] = [];
    let pos = from;
    const buf = Buffer.allocUnsafe(1 << 16);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      pos += n;
    }
    return { text: Buffer.concat(chunks).toString("utf8"), end: pos };
  } finally {
    closeSync(fd);
  }
}

/**
 * Follow the journal from its current end: fn gets each new event as it is appended, until
 * `stop()` says so (polled every 100 ms). A rotation is noticed by the file shrinking.
 */
export async function followEvents(root: string, fn: (e: EventMessage & { nano: bigint }) => void, stop: () => boolean): Promise<void> {
  const path = journalPath(root);
  let offset = existsSync(path) ? statSync(path).size : 0;
  let partial = "";
  while (!stop()) {
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {}
    if (size < offset) {
      offset = 0; // rotated
      partial = "";
    }
    if (size > offset) {
      const { text, end } = readAll(path, offset);
      offset = end;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) {
        const e = l ? parseLine(l) : undefined;
        if (e) fn(e);
      }
    }
    await Bun.sleep(100);
  }
}
