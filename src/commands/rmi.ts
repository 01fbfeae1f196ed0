import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { log } from "../util/log.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { removeImage } from "../image/remove.ts";
import type { ImageStore } from "../image/store.ts";
import { parseReference, tagKey } from "../image/reference.ts";

/**
 * removeImage, and on a full disk (untagging rewrites the tag file, which needs space) the
 * same removal in the order that frees space first: record and layers, then the tags.
 */
function removeOrFree(engine: ReturnType<typeof getEngine>, name: string, force: boolean, noPrune: boolean): string[] {
  try {
    return removeImage(engine, name, { force, noPrune });
  } catch (e: any) {
    if (e?.code !== "ENOSPC") throw e;
    const img = engine.images.resolve(name);
    const tags = img ? engine.images.tagsOf(img.id) : [];
    // Only a whole removal frees anything; untagging one of several tags, or an image a
    // container uses, needs the space it does not have.
    if (!img || engine.containers.list().some((c) => c.imageId === img.id) || (tags.length > 1 && !force && tags.some((t) => t === name || t === `${name}:latest`))) throw e;
    return engine.images.removeUnreadable(img.id);
  }
}

/** The unreadable image `name` refers to (by tag, id or unique id prefix), if any. */
function unreadableNamed(store: ImageStore, name: string): string | undefined {
  const bad = store.unreadableImages().map((b) => b.id);
  if (!bad.length) return undefined;
  let tagged: string | undefined;
  try {
    tagged = store.tags()[tagKey(parseReference(name))];
  } catch {}
  if (tagged && bad.includes(tagged)) return tagged;
  const hex = name.replace(/^sha256:/, "");
  if (!/^[a-f0-9]{4,64}$/.test(hex)) return undefined;
  const m = bad.filter((id) => id.slice(7).startsWith(hex));
  return m.length === 1 && !store.listImages().some((i) => i.id.slice(7).startsWith(hex)) ? m[0] : undefined;
}

export default defineCommand({
  meta: { name: "rmi", description: "Remove one or more images (minid rmi [OPTIONS] IMAGE [IMAGE...])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Force removal of the image" },
    "no-prune": { type: "boolean", description: "Do not delete untagged parents" },
  },
  run({ args }) {
    requireRoot();
    const names = (args as any).positionals as string[];
    if (!names.length) throw new UserError(`"minid rmi" requires at least 1 argument.\nSee 'minid rmi --help'.`);
    let failed = 0;
    const engine = getEngine();
    const force = Boolean(args.force);
    for (const n of names) {
      try {
        // -f also takes an image whose record is unreadable (no other command can use it).
        const bad = force ? unreadableNamed(engine.images, n) : undefined;
        const lines = bad ? engine.images.removeUnreadable(bad) : removeOrFree(engine, n, force, Boolean((args as any)["no-prune"]));
        out(lines.map((l) => l + "\n").join(""));
        const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
        const deleted = lines.find((l) => l.startsWith("Deleted: "))?.slice(9);
        for (const l of lines) {
          if (l.startsWith("Untagged: ")) recordEvent(engine.root, { Type: "image", Action: "untag", id: deleted ?? l.slice(10), attributes: { name: l.slice(10) } });
          else if (l.startsWith("Deleted: ")) recordEvent(engine.root, { Type: "image", Action: "delete", id: l.slice(9), attributes: { name: l.slice(9) } });
        }
      } catch (e) {
        failed++;
        log.error(e instanceof Error ? e.message : String(e));
      }
    }
    return failed ? 1 : 0;
  },
});
