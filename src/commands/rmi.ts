import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/main.ts";
import { log } from "../cli/log.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { removeImage } from "../image/remove.ts";
import type { ImageStore } from "../image/store.ts";
import { parseReference, tagKey } from "../image/reference.ts";

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
        const lines = bad ? engine.images.removeUnreadable(bad) : removeImage(engine, n, force);
        out(lines.map((l) => l + "\n").join(""));
      } catch (e) {
        failed++;
        log.error(e instanceof Error ? e.message : String(e));
      }
    }
    return failed ? 1 : 0;
  },
});
