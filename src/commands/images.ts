import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/main.ts";
import { ago, humanSize, jsonLines, table } from "../cli/format.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import { hexOf } from "../image/store.ts";

export default defineCommand({
  meta: { name: "images", description: "List images (minid images [OPTIONS] [REPOSITORY[:TAG]])" },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all images" },
    quiet: { type: "boolean", alias: "q", description: "Only show image IDs" },
    digests: { type: "boolean", description: "Show digests" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    format: { type: "string", description: "Format output: table (default) or json" },
  },
  async run({ args }) {
    const a = argsOf(args);
    const store = getEngine().images;
    const now = Date.now();
    const trunc = !a["no-trunc"];
    const filter = a.positionals[0];
    const tags = store.tags();
    type Row = { repo: string; tag: string; id: string; created: string; size: number; digest: string };
    const rows: Row[] = [];
    const images = store.listImages();
    const { intermediateIds } = await import("../image/intermediate.ts");
    const hidden = a.all ? new Set<string>() : intermediateIds(store, images, new Set(Object.values(tags)));
    for (const img of images) {
      if (hidden.has(img.id)) continue;
      const names = Object.entries(tags).filter(([, v]) => v === img.id).map(([k]) => k);
      const digestFor = (repo: string) =>
        img.repoDigests?.find((d) => d.startsWith(`${repo}@`))?.split("@")[1] ?? "<none>";
      const size = store.imageSize(img);
      if (!names.length) rows.push({ repo: "<none>", tag: "<none>", id: img.id, created: img.created, size, digest: "<none>" });
      for (const n of names) {
        const i = n.lastIndexOf(":");
        rows.push({ repo: n.slice(0, i), tag: n.slice(i + 1), id: img.id, created: img.created, size, digest: digestFor(n.slice(0, i)) });
      }
    }
    let shown = rows.sort((x, y) => Date.parse(y.created) - Date.parse(x.created) || x.repo.localeCompare(y.repo));
    if (filter) {
      const [repo, tag] = filter.includes(":") ? filter.split(":") : [filter, undefined];
      shown = shown.filter((r) => r.repo === repo && (!tag || r.tag === tag));
    }
    const idText = (id: string) => (trunc ? hexOf(id).slice(0, 12) : id);
    if (a.quiet) {
      out([...new Set(shown.map((r) => idText(r.id)))].map((x) => x + "\n").join(""));
      return 0;
    }
    const fmt = str(a.format);
    if (fmt === "json" || fmt === "{{json .}}") {
      out(
        jsonLines(
          shown.map((r) => ({
            Containers: "N/A",
            CreatedAt: r.created,
            CreatedSince: ago(r.created, now),
            Digest: r.digest,
            ID: idText(r.id),
            Repository: r.repo,
            SharedSize: "N/A",
            Size: humanSize(r.size),
            Tag: r.tag,
            UniqueSize: "N/A",
            VirtualSize: humanSize(r.size),
          })),
        ),
      );
      return 0;
    }
    if (fmt && fmt !== "table") throw new UserError(`unsupported format "${fmt}" (use table or json)`);
    const headers = a.digests
      ? ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
      : ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];
    out(
      table(
        headers,
        shown.map((r) =>
          a.digests
            ? [r.repo, r.tag, r.digest, idText(r.id), ago(r.created, now), humanSize(r.size)]
            : [r.repo, r.tag, idText(r.id), ago(r.created, now), humanSize(r.size)],
        ),
      ),
    );
    return 0;
  },
});
