// Output in the shapes the Docker CLI prints: tabwriter tables with 3-space padding, human
// durations and sizes from docker/go-units' rules.

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd() + "\n";
  return line(headers) + rows.map(line).join("");
}

export { humanDuration, ago } from "../util/duration.ts";

/** go-units HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits. */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** Docker truncates a quoted command to 20 columns with an ellipsis. */
export function ellipsis(s: string, max: number): string {
  return [...s].length > max ? [...s].slice(0, max - 1).join("") + "…" : s;
}

export function jsonLines(items: unknown[]): string {
  return items.map((i) => JSON.stringify(i) + "\n").join("");
}
