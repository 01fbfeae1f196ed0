import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { formatItems, goTimeString } from "../cli/format.ts";
import { asStruct } from "../cli/template.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import type { NetworkRecord } from "../network/store.ts";

const HEADER: Record<string, string> = { ID: "NETWORK ID", Name: "NAME", Driver: "DRIVER", Scope: "SCOPE", IPv6: "IPV6", Internal: "INTERNAL", Labels: "LABELS", CreatedAt: "CREATED AT" };

/** Docker's formatter.networkContext. */
function row(n: NetworkRecord, trunc: boolean): Record<string, unknown> {
  return asStruct(
    {
      ID: trunc ? n.id.slice(0, 12) : n.id,
      Name: n.name,
      Driver: n.driver,
      Scope: "local",
      IPv6: "false",
      Internal: String(n.internal),
      Labels: Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).sort().join(","),
      Label: (k: string) => n.labels[k] ?? "",
      CreatedAt: goTimeString(n.created),
    },
    "*formatter.networkContext",
  );
}

export default defineCommand({
  meta: { name: "network ls", description: "List networks (minid network ls [OPTIONS])" },
  args: {
    quiet: { type: "boolean", alias: "q", description: "Only display network IDs" },
    "no-trunc": { type: "boolean", description: "Do not truncate the output" },
    format: { type: "string", description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template" },
    filter: { type: "string", alias: "f", description: "Provide filter values (name=, id=, driver=, label=, type=custom|builtin)", multiple: true } as any,
  },
  async run({ args }) {
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid network ls" accepts no arguments.\nSee 'minid network ls --help'.`);
    const { ensureDefaults } = await import("../network/networks.ts");
    let nets = process.getuid?.() === 0 ? ensureDefaults(getEngine()).list() : [];
    const filters = new Map<string, string[]>();
    for (const f of list(a.filter)) {
      const i = f.indexOf("=");
      if (i < 1) throw new UserError(`bad format of filter (expected name=value): ${f}`);
      const k = f.slice(0, i);
      if (!["name", "id", "driver", "label", "type", "scope"].includes(k)) throw new UserError(`invalid filter '${k}'`);
      filters.set(k, [...(filters.get(k) ?? []), f.slice(i + 1)]);
    }
    const match: Record<string, (n: NetworkRecord, v: string) => boolean> = {
      name: (n, v) => n.name.includes(v),
      id: (n, v) => n.id.startsWith(v),
      driver: (n, v) => n.driver === v,
      scope: (_n, v) => v === "local",
      type: (n, v) => {
        if (v !== "custom" && v !== "builtin") throw new UserError(`invalid filter: 'type'='${v}'`);
        return v === "builtin" ? Boolean(n.predefined) : !n.predefined;
      },
      label: (n, v) => {
        const j = v.indexOf("=");
        return j < 0 ? v in n.labels : n.labels[v.slice(0, j)] === v.slice(j + 1);
      },
    };
    for (const [k, vs] of filters) {
      // labels must all match; other keys' values are alternatives (Docker's rule)
      nets = nets.filter((n) => (k === "label" ? vs.every((v) => match[k]!(n, v)) : vs.some((v) => match[k]!(n, v))));
    }
    nets.sort((x, y) => x.name.localeCompare(y.name));
    const given = str(a.format) ?? "";
    const fmt = a.quiet ? "{{.ID}}" : given === "" || given === "table" ? "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}" : given;
    out(await formatItems(fmt, nets.map((n) => row(n, !a["no-trunc"])), HEADER));
    return 0;
  },
});
