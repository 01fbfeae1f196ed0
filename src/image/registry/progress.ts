// Pull/push progress the way the Docker CLI shows it: on a terminal one line per layer,
// redrawn in place with a bar; otherwise one plain line per status change; nothing when quiet.
import { writeSync } from "node:fs";

export type ProgressMode = "tty" | "plain" | "quiet";

export function progressMode(quiet: boolean, fd = 2): ProgressMode {
  if (quiet) return "quiet";
  return (fd === 2 ? process.stderr.isTTY : process.stdout.isTTY) && process.env.TERM !== "dumb" ? "tty" : "plain";
}

export function writeAll(fd: number, text: string | Uint8Array): void {
  const buf = typeof text === "string" ? Buffer.from(text) : text;
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e: any) {
      if (e?.code !== "EAGAIN") throw e;
    }
  }
}

/** Docker's size units (go-units HumanSize): 1.234MB, 512kB, 12B (decimal, 4 digits). */
export function hsize(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** "[=====>      ]", 50 wide, as Docker draws it. */
export function bar(current: number, total: number, width = 50): string {
  if (total <= 0) return "";
  const filled = Math.max(0, Math.min(width, Math.floor((current / total) * width)));
  if (filled >= width) return `[${"=".repeat(width)}]`;
  return `[${"=".repeat(filled)}>${" ".repeat(width - filled - 1)}]`;
}

export class Progress {
  private ids: string[] = [];
  private lines = new Map<string, string>();
  private lastDraw = new Map<string, number>();

  constructor(
    readonly mode: ProgressMode,
    private fd = 2,
  ) {}

  /** A line that is not about a layer ("latest: Pulling from …", "Digest: …"). */
  message(text: string): void {
    if (this.mode === "quiet") return;
    writeAll(this.fd, text + "\n");
    if (this.mode === "tty") {
      // Lines printed so far are history: later layer updates only address their own lines.
      this.ids = [];
      this.lines.clear();
    }
  }

  /** A layer's status changed ("Pulling fs layer", "Download complete", "Pull complete"). */
  status(id: string, text: string): void {
    if (this.mode === "quiet") return;
    if (this.mode === "plain") {
      writeAll(this.fd, `${id}: ${text}\n`);
      return;
    }
    this.draw(id, `${id}: ${text}`);
  }

  /** Bytes moved for a layer; drawn as a bar on a terminal, at most ~10 times a second. */
  bytes(id: string, action: string, current: number, total: number): void {
    if (this.mode !== "tty") return;
    const now = performance.now();
    if (current < total && now - (this.lastDraw.get(id) ?? 0) < 100) return;
    this.lastDraw.set(id, now);
    const text = total > 0 ? `${action} ${bar(current, total)} ${hsize(current)}/${hsize(total)}` : `${action} ${hsize(current)}`;
    this.draw(id, `${id}: ${text}`);
  }

  private draw(id: string, line: string): void {
    const width = Math.max(20, (process.stderr.columns || 100) - 1);
    const text = line.length > width ? line.slice(0, width) : line;
    let idx = this.ids.indexOf(id);
    if (idx < 0) {
      this.ids.push(id);
      this.lines.set(id, text);
      writeAll(this.fd, `${text}\n`);
      return;
    }
    if (this.lines.get(id) === text) return;
    this.lines.set(id, text);
    const up = this.ids.length - idx;
    // Up to the layer's line, clear it, write, and come back down.
    writeAll(this.fd, `\x1b[${up}A\r\x1b[2K${text}\r\x1b[${up}B`);
  }
}
