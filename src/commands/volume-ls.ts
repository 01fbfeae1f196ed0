import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { formatItems } from "../cli/format.ts";
import { asStruct } from "../cli/template.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "volume ls", description: "List volumes (minid volume ls [OPTIONS])" },
  args: {
    quiet: { type: "boolean", alias: "q", description: "Only display volume names" },
    format: { type: "string", description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template" },
    filter: { type: "string", alias: "f", description: "Provide filter values (e.g. 'dangling=true', 'name=x', 'label=k=v')", multiple: true } as any,
  },
  async run({ args }) {
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid volume ls" accepts no arguments.\nSee 'minid volume ls --help'.`);
    const engine = getEngine();
    const { listVolumes, volumes } = await import("../volume/ops.ts");
    const rows = listVolumes(engine, list(a.filter));
    if (a.quiet) {
      out(rows.map((r) => `${r.volume.name}\n`).join(""));
      return 0;
    }
    const vs = volumes(engine);
    // Docker's formatter.volumeContext.
    const items = rows.map(({ volume: v, users }) => {
      const labels = v.labels ?? {};
      const ctx = {
        Name: v.name,
        Driver: "local",
        Scope: "local",
        Mountpoint: vs.dataDir(v.name),
        Labels: Object.entries(labels).map(([k, x]) => `${k}=${x}`).join(","),
        Links: String(users),
        Size: "N/A",
        Label: (k: string) => labels[k] ?? "",
      };
      return asStruct(ctx, "*formatter.volumeContext");
    });
    const given = str(a.format) ?? "";
    const fmt = given === "" || given === "table" ? "table {{.Driver}}\\t{{.Name}}" : given;
    out(await formatItems(fmt, items, { Name: "VOLUME NAME", Driver: "DRIVER", Scope: "SCOPE", Mountpoint: "MOUNTPOINT", Labels: "LABELS", Links: "LINKS", Size: "SIZE" }));
    return 0;
  },
});
