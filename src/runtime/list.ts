// `list [--format table|json] [-q]`: runc's columns (ID PID STATUS BUNDLE CREATED OWNER).
import type { Globals, Logger } from "./flags.ts";
import { parseFlags, str, writeOut } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { Store } from "./store.ts";

export default function list(g: Globals, _log: Logger, argv: string[]): number {
  const { flags } = parseFlags(argv, { bool: ["quiet"], value: ["format"], alias: { q: "quiet", f: "format" } }, "list");
  const format = str(flags, "format") ?? "table";
  if (format !== "table" && format !== "json") throw new RuntimeError(`invalid format option`);
  const store = new Store(g.root);
  const rows = store.ids().flatMap((id) => {
    const r = store.read(id);
    if (!r) return [];
    const status = store.status(r);
    return [{ ociVersion: "1.0.2", id, pid: status === "stopped" ? 0 : r.pid, status, bundle: r.bundle, rootfs: r.rootfs, created: r.created, owner: r.owner, annotations: r.annotations }];
  });
  if (flags.get("quiet")) {
    for (const r of rows) writeOut(`${r.id}\n`);
    return 0;
  }
  if (format === "json") {
    writeOut(JSON.stringify(rows) + "\n");
    return 0;
  }
  const table = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...rows.map((r) => [r.id, String(r.pid), r.status, r.bundle, r.created, r.owner])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) writeOut(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]! + 4))).join("").trimEnd() + "\n");
  return 0;
}
