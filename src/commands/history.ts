import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { ago, ellipsis, humanSize, jsonLines, table } from "../cli/format.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import { hexOf } from "../image/store.ts";

export default defineCommand({
  meta: { name: "history", description: "Show the history of an image (minid history [OPTIONS] IMAGE)" },
  args: {
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    quiet: { type: "boolean", alias: "q", description: "Only show image IDs" },
    human: { type: "boolean", alias: "H", description: "Print sizes and dates in human readable format (default true)" },
    format: { type: "string", description: "Format output: table (default) or json" },
  },
  async run({ args }) {
    const a = argsOf(args);
    if (a.positionals.length !== 1) throw new UserError(`"minid history" requires exactly 1 argument.\nSee 'minid history --help'.`);
    const { imageHistory } = await import("../image/history.ts");
    const rows = imageHistory(getEngine(), a.positionals[0]!);
    const trunc = !a["no-trunc"];
    const human = a.human !== false;
    const now = Date.now();
    const id = (x: string) => (x === "<missing>" ? x : trunc ? hexOf(x).slice(0, 12) : x);
    if (a.quiet) {
      out(rows.map((r) => id(r.id) + "\n").join(""));
      return 0;
    }
    const created = (r: (typeof rows)[0]) => (human ? ago(r.created, now) : (r.created ?? ""));
    const size = (n: number) => (human ? humanSize(n) : String(n));
    const by = (s: string) => (trunc ? ellipsis(s, 45) : s);
    const fmt = str(a.format);
    if (fmt === "json" || fmt === "{{json .}}") {
      out(
        jsonLines(
          rows.map((r) => ({
            Comment: r.comment,
            CreatedAt: r.created ?? "",
            CreatedBy: by(r.createdBy),
            CreatedSince: ago(r.created, now),
            ID: id(r.id),
            Size: size(r.size),
          })),
        ),
      );
      return 0;
    }
    if (fmt && fmt !== "table") throw new UserError(`unsupported format "${fmt}" (use table or json)`);
    out(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows.map((r) => [id(r.id), created(r), by(r.createdBy), size(r.size), r.comment])));
    return 0;
  },
});
