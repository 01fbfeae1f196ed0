import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { ago, formatItems, goTimeString, humanSize } from "../cli/format.ts";
import { asStruct } from "../cli/template.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import { hexOf } from "../image/store.ts";
import { log } from "../util/log.ts";

export default defineCommand({
  meta: { name: "images", description: "List images (minid images [OPTIONS] [REPOSITORY[:TAG]])" },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all images" },
    quiet: { type: "boolean", alias: "q", description: "Only show image IDs" },
    digests: { type: "boolean", description: "Show digests" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    format: { type: "string", description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template" },
    filter: { type: "string", alias: "f", description: "Filter output based on conditions provided (label=KEY[=VALUE])", multiple: true } as any,
  },
  async run({ args }) {
    const a = argsOf(args);
    const store = getEngine().images;
    const now = Date.now();
    const trunc = !a["no-trunc"];
    const filter = a.positionals[0];
    // -f label=KEY[=VALUE] (all must match, as Docker's); checked before anything is read.
    const labelFilters = list(a.filter).map((f) => {
      const m = /^([a-z]+)=(.*)$/.exec(f);
      if (!m) throw new UserError(`bad format of filter (expected name=value): ${f}`);
      if (m[1] !== "label") throw new UserError(`invalid filter '${m[1]}'`);
      return m[2]!;
    });
    const tags = store.tags();
    // An unreadable record takes only itself out of the list, said once on stderr.
    const bad = store.unreadableImages();
    if (bad.length) {
      log.warn(
        `${bad.length} image record${bad.length === 1 ? " is" : "s are"} unreadable and not listed: ${bad.map((b) => `${b.id} (${b.reason})`).join(", ")}; remove with minid rmi -f ${bad.map((b) => b.id).join(" ")}`,
      );
    }
    type Row = { repo: string; tag: string; id: string; created: string; size: number; digest: string };
    const rows: Row[] = [];
    const images = store.listImages();
    const { intermediateIds } = await import("../image/intermediate.ts");
    const hidden = a.all ? new Set<string>() : intermediateIds(store, images, new Set([...Object.values(tags), ...images.filter((i) => i.repoDigests?.length).map((i) => i.id)]));
    const tagsOf = new Map<string, string[]>();
    for (const [t, id] of Object.entries(tags)) tagsOf.set(id, [...(tagsOf.get(id) ?? []), t]);
    for (const img of images) {
      if (hidden.has(img.id)) continue;
      if (labelFilters.length) {
        const labels = store.getConfig(img).config?.Labels ?? {};
        const ok = labelFilters.every((v) => {
          const i = v.indexOf("=");
          return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1);
        });
        if (!ok) continue;
      }
      const names = tagsOf.get(img.id) ?? [];
      const digestFor = (repo: string) =>
        img.repoDigests?.find((d) => d.startsWith(`${repo}@`))?.split("@")[1] ?? "<none>";
      const size = store.imageSize(img);
      const repos = new Set<string>();
      for (const n of names) {
        const i = n.lastIndexOf(":");
        repos.add(n.slice(0, i));
        rows.push({ repo: n.slice(0, i), tag: n.slice(i + 1), id: img.id, created: img.created, size, digest: digestFor(n.slice(0, i)) });
      }
      // As Docker's CLI: a repository the image has only a digest in is a row with tag <none>;
      // <none> <none> is left for images with no reference at all.
      for (const d of img.repoDigests ?? []) {
        const at = d.lastIndexOf("@");
        if (at <= 0 || repos.has(d.slice(0, at))) continue;
        repos.add(d.slice(0, at));
        rows.push({ repo: d.slice(0, at), tag: "<none>", id: img.id, created: img.created, size, digest: d.slice(at + 1) });
      }
      if (!repos.size) rows.push({ repo: "<none>", tag: "<none>", id: img.id, created: img.created, size, digest: "<none>" });
    }
    let shown = rows.sort((x, y) => Date.parse(y.created) - Date.parse(x.created) || x.repo.localeCompare(y.repo));
    if (filter) {
      // REPO[:TAG]; a colon before the last "/" is a registry's port (localhost:5000/app)
      const colon = filter.lastIndexOf(":");
      const [repo, tag] = colon > filter.lastIndexOf("/") ? [filter.slice(0, colon), filter.slice(colon + 1)] : [filter, undefined];
      shown = shown.filter((r) => r.repo === repo && (!tag || r.tag === tag));
    }
    const idText = (id: string) => (trunc ? hexOf(id).slice(0, 12) : id);
    if (a.quiet) {
      out([...new Set(shown.map((r) => idText(r.id)))].map((x) => x + "\n").join(""));
      return 0;
    }
    // Docker's formatter.imageContext (its type name as templates report it); "" and "table" are the default table (with a DIGEST
    // column for --digests), -q prints IDs whatever the template.
    const items = shown.map((r) =>
      asStruct(
        {
          Containers: "N/A",
          // A getter: the local time zone (ICU, ~20 ms to load) only when a template shows it.
          get CreatedAt() {
            return goTimeString(r.created);
          },
          CreatedSince: ago(r.created, now),
          Digest: r.digest,
          ID: idText(r.id),
          Repository: r.repo,
          SharedSize: "N/A",
          Size: humanSize(r.size),
          Tag: r.tag,
          UniqueSize: "N/A",
          VirtualSize: humanSize(r.size),
        },
        "*formatter.imageContext",
      ),
    );
    const given = str(a.format) ?? "";
    const fmt =
      given === "" || given === "table"
        ? a.digests
          ? "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}"
          : "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}"
        : given;
    out(await formatItems(fmt, items, IMAGE_HEADER));
    return 0;
  },
});

const IMAGE_HEADER: Record<string, string> = {
  ID: "IMAGE ID", Repository: "REPOSITORY", Tag: "TAG", Digest: "DIGEST", CreatedSince: "CREATED", CreatedAt: "CREATED AT",
  Size: "SIZE", Containers: "CONTAINERS", VirtualSize: "VIRTUAL SIZE", SharedSize: "SHARED SIZE", UniqueSize: "UNIQUE SIZE",
};
