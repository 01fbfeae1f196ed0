import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { ago, ellipsis, formatItems, humanSize, rfc3339 } from "../cli/format.ts";
import { asStruct } from "../cli/template.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import { hexOf } from "../image/store.ts";

export default defineCommand({
  meta: { name: "history", description: "Show the history of an image (minid history [OPTIONS] IMAGE)" },
  args: {
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    quiet: { type: "boolean", alias: "q", description: "Only show image IDs" },
    human: { type: "boolean", alias: "H", description: "Print sizes and dates in human readable format (default true)" },
    format: { type: "string", description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template" },
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
    // Docker's historyContext: sizes and dates human-readable unless --human=false.
    const items = rows.map((r) =>
      asStruct(
        {
          Comment: r.comment,
          CreatedAt: rfc3339(r.created),
          CreatedBy: trunc ? ellipsis(r.createdBy.replace(/\t/g, " "), 45) : r.createdBy.replace(/\t/g, " "),
          CreatedSince: human ? ago(r.created, now) : rfc3339(r.created),
          ID: id(r.id),
          Size: human ? humanSize(r.size) : String(r.size),
        },
        "*image.historyContext",
      ),
    );
    const given = str(a.format) ?? "";
    const fmt = given === "" || given === "table" ? "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}" : given;
    out(await formatItems(fmt, items, HISTORY_HEADER));
    return 0;
  },
});

const HISTORY_HEADER: Record<string, string> = {
  ID: "IMAGE", CreatedSince: "CREATED", CreatedAt: "CREATED AT", CreatedBy: "CREATED BY", Size: "SIZE", Comment: "COMMENT",
};
