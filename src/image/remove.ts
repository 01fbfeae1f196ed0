// `rmi`: untag, and delete the image (and layers nothing else needs) once no tag and no
// container refers to it, as Docker does.
import type { Engine } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { hexOf } from "./store.ts";
import { parseReference, tagKey } from "./reference.ts";

export function removeImage(engine: Engine, name: string, force: boolean): string[] {
  const store = engine.images;
  const img = store.resolve(name);
  if (!img) throw new UserError(`No such image: ${name}`);
  const users = engine.containers.list().filter((c) => c.imageId === img.id);
  const tags = store.tagsOf(img.id);
  let byTag: string | undefined;
  try {
    const k = tagKey(parseReference(name));
    if (tags.includes(k)) byTag = k;
  } catch {}
  const lines: string[] = [];
  // Removing one of several tags only untags.
  if (byTag && tags.length > 1 && !force) {
    store.removeTag(byTag);
    return [`Untagged: ${byTag}`];
  }
  if (users.length && !force) {
    const c = users[0]!;
    throw new UserError(
      `conflict: unable to remove image ${name} (must be forced) - image is being used by container ${c.id.slice(0, 12)}; remove the container first (minid rm ${c.name})`,
    );
  }
  for (const t of tags) {
    store.removeTag(t);
    lines.push(`Untagged: ${t}`);
  }
  if (users.length) return lines; // forced: untagged, but the layers stay for the containers
  store.deleteImage(img.id);
  lines.push(`Deleted: sha256:${hexOf(img.id)}`);
  return lines;
}
