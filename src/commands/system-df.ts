import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { ago, ellipsis, formatItems, humanSize, tabwrite } from "../cli/format.ts";
import { asStruct } from "../cli/template.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { hexOf } from "../image/store.ts";

/** go-units HumanSize with 4 significant digits (system df's SIZE), and with 3 (elsewhere). */
const size4 = (n: number) => humanSize(n, 4);
const size3 = (n: number) => humanSize(n);
const reclaim = (r: number, total: number) => (total > 0 ? `${size4(r)} (${Math.floor((r * 100) / total)}%)` : size4(r));

export default defineCommand({
  meta: { name: "system df", description: "Show minid disk usage (minid system df [OPTIONS])" },
  args: {
    verbose: { type: "boolean", alias: "v", description: "Show detailed information on space usage" },
    format: { type: "string", description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid system df" accepts no arguments.\nSee 'minid system df --help'.`);
    const { diskUsage } = await import("../system/df.ts");
    const du = await diskUsage(getEngine());
    const now = Date.now();
    if (a.verbose) {
      let t = "Images space usage:\n\n";
      t += tabwrite(
        ["REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS",
          ...du.images.flatMap((i) => (i.tags.length ? i.tags : ["<none>:<none>"]).map((tag) => {
            const k = tag.lastIndexOf(":");
            return [tag.slice(0, k), tag.slice(k + 1), hexOf(i.id).slice(0, 12), ago(i.created, now), size3(i.size), "0B", size4(i.size), String(i.containers)].join("\t");
          }))].join("\n") + "\n",
      );
      t += "\nContainers space usage:\n\n";
      t += tabwrite(
        ["CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES",
          ...du.containers.map(({ st, size, volumes }) => {
            const { statusText } = require("../container/status.ts") as typeof import("../container/status.ts");
            return [st.id.slice(0, 12), st.image, JSON.stringify(ellipsis([st.path, ...st.args.map((x) => (x.includes(" ") ? `'${x}'` : x))].join(" "), 20)), String(volumes), size3(size), ago(st.created, now), statusText(st, now), st.name].join("\t");
          })].join("\n") + "\n",
      );
      t += "\nLocal Volumes space usage:\n\n";
      t += tabwrite(["VOLUME NAME\tLINKS\tSIZE", ...du.volumes.map((v) => [v.name, String(v.links), size3(v.size)].join("\t"))].join("\n") + "\n");
      t += "\nBuild cache usage: 0B\n\nCACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n".replace(/\t/g, "   ");
      out(t);
      return 0;
    }
    const imgTotal = du.images.reduce((n, i) => n + i.size, 0);
    const imgReclaim = du.images.filter((i) => !i.containers).reduce((n, i) => n + i.size, 0);
    const ctrTotal = du.containers.reduce((n, c) => n + c.size, 0);
    const ctrReclaim = du.containers.filter((c) => !c.running).reduce((n, c) => n + c.size, 0);
    const volTotal = du.volumes.reduce((n, v) => n + v.size, 0);
    const volReclaim = du.volumes.filter((v) => !v.links).reduce((n, v) => n + v.size, 0);
    const rows = [
      { Type: "Images", TotalCount: String(du.images.length), Active: String(du.images.filter((i) => i.containers).length), Size: size4(imgTotal), Reclaimable: imgTotal ? `${size4(imgReclaim)} (${Math.floor((imgReclaim * 100) / imgTotal)}%)` : "0B (0%)" },
      { Type: "Containers", TotalCount: String(du.containers.length), Active: String(du.containers.filter((c) => c.running).length), Size: size4(ctrTotal), Reclaimable: reclaim(ctrReclaim, ctrTotal) },
      { Type: "Local Volumes", TotalCount: String(du.volumes.length), Active: String(du.volumes.filter((v) => v.links).length), Size: size4(volTotal), Reclaimable: reclaim(volReclaim, volTotal) },
      { Type: "Build Cache", TotalCount: "0", Active: "0", Size: "0B", Reclaimable: "0B" },
    ].map((r) => asStruct(r, "*formatter.diskUsageContext"));
    const given = str(a.format) ?? "";
    const fmt = given === "" || given === "table" ? "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}" : given;
    out(await formatItems(fmt, rows, { Type: "TYPE", TotalCount: "TOTAL", Active: "ACTIVE", Size: "SIZE", Reclaimable: "RECLAIMABLE" }));
    return 0;
  },
});
