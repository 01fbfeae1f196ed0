// `image prune` and `system prune`: what nothing uses, removed with the same operations rmi, rm
// and volume rm use (so every removal is as crash-safe as those), reported as Docker does.
import type { Engine } from "../engine.ts";
import type { ImageRecord } from "../image/store.ts";
import { hexOf } from "../image/store.ts";
import { intermediateIds } from "../image/intermediate.ts";

export interface PruneReport {
  containers: string[];
  volumes: string[];
  images: string[];
  reclaimed: number;
}

/**
 * Unused images: without `all`, the dangling ones (no tag, no container, not the parent of an
 * image that stays); with `all`, every image no container uses (parents go once their last
 * child has gone). Lines are Docker's `untagged: …` / `deleted: sha256:…`.
 */
export function pruneImages(engine: Engine, all: boolean): { lines: string[]; reclaimed: number } {
  const store = engine.images;
  const used = new Set(engine.containers.list().map((c) => c.imageId));
  const lines: string[] = [];
  let reclaimed = 0;
  const layerUsers = (images: ImageRecord[]) => new Set(images.flatMap((i) => i.layers.map((l) => l.diffId)));
  for (let round = 0; round < 1000; round++) {
    const images = store.listImages();
    const tags = store.tags();
    const tagged = new Set(Object.values(tags));
    // intermediateIds asks only about images outside its `tagged` set: one at a time, any image.
    const isParent = (img: ImageRecord) => intermediateIds(store, images, new Set(images.filter((i) => i.id !== img.id).map((i) => i.id))).has(img.id);
    const victim = images.find((i) => !used.has(i.id) && (all || !tagged.has(i.id)) && !isParent(i));
    if (!victim) break;
    const before = layerUsers(images);
    const sizes = new Map(victim.layers.map((l) => [l.diffId, store.getLayer(l.diffId)?.size ?? l.size]));
    for (const [t, id] of Object.entries(tags)) {
      if (id !== victim.id) continue;
      store.removeTag(t);
      lines.push(`untagged: ${t}`);
    }
    store.deleteImage(victim.id);
    lines.push(`deleted: sha256:${hexOf(victim.id)}`);
    const after = layerUsers(store.listImages());
    for (const d of before) if (!after.has(d) && sizes.has(d)) reclaimed += sizes.get(d)!;
  }
  return { lines, reclaimed };
}

/** `system prune`: stopped containers, then (with `volumes`) unused anonymous volumes, then images. */
export async function pruneSystem(engine: Engine, o: { all: boolean; volumes: boolean }, onError: (e: unknown) => void): Promise<PruneReport> {
  const { pruneContainers } = await import("../container/remove.ts");
  const { treeSize } = await import("../volume/store.ts");
  const { driverByName } = await import("../storage/select.ts");
  const layerSize = (c: import("../container/state.ts").ContainerState) => {
    try {
      return c.broken ? 0 : treeSize(driverByName(c.storage.driver).upperDir(engine.containers.containerDir(c.id)));
    } catch {
      return 0;
    }
  };
  const sizes = new Map(engine.containers.list().map((c) => [c.id, layerSize(c)]));
  const containers = pruneContainers(engine, Infinity, onError);
  let reclaimed = containers.reduce((n, id) => n + (sizes.get(id) ?? 0), 0);
  let volumes: string[] = [];
  if (o.volumes) {
    const { pruneVolumes } = await import("../volume/ops.ts");
    const r = pruneVolumes(engine, false, []);
    volumes = r.deleted;
    reclaimed += r.reclaimed;
  }
  const img = pruneImages(engine, o.all);
  reclaimed += img.reclaimed;
  return { containers, volumes, images: img.lines, reclaimed };
}
