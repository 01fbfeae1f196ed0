// Docker's `images` hides intermediate images (untagged images that are the parent of
// another image: what each build step leaves) unless -a is given. minid's records have no
// parent field, so "parent" is derived the way Docker's chain reads: another image's layers
// and history start with this image's, and go further.
import type { ImageStore, ImageRecord } from "./store.ts";

/** Each image's history as comparable keys (created + created_by), read once per image. */
function historyReader(store: ImageStore): (img: ImageRecord) => string[] {
  const hist = new Map<string, string[]>();
  return (img) => {
    let h = hist.get(img.id);
    if (!h) {
      try {
        h = (store.getConfig(img).history ?? []).map((e) => `${e.created}\u0000${e.created_by ?? ""}`);
      } catch {
        h = [];
      }
      hist.set(img.id, h);
    }
    return h;
  };
}

export function intermediateIds(store: ImageStore, images: ImageRecord[], tagged: Set<string>): Set<string> {
  const out = new Set<string>();
  const untagged = images.filter((i) => !tagged.has(i.id));
  if (!untagged.length) return out;
  const historyOf = historyReader(store);
  for (const x of untagged) {
    const hx = historyOf(x);
    if (!hx.length) continue;
    for (const y of images) {
      if (y.id === x.id || y.layers.length < x.layers.length) continue;
      if (!x.layers.every((l, i) => y.layers[i]!.diffId === l.diffId)) continue;
      const hy = historyOf(y);
      if (hy.length > hx.length && hx.every((e, i) => hy[i] === e)) {
        out.add(x.id);
        break;
      }
    }
  }
  return out;
}

/**
 * Each image's parent, derived as above: the image whose layers and history this one's start
 * with and extend, the closest such (a build step's result, the image a commit was made
 * from). Docker's rmi refuses to delete a parent ("image has dependent child images") and
 * prunes the untagged parents of what it deletes.
 */
export function parentMap(store: ImageStore, images: ImageRecord[]): Map<string, string> {
  const historyOf = historyReader(store);
  const out = new Map<string, string>();
  for (const y of images) {
    const hy = historyOf(y);
    let best: ImageRecord | undefined;
    let bestLen = -1;
    for (const x of images) {
      if (x.id === y.id || x.layers.length > y.layers.length) continue;
      const hx = historyOf(x);
      if (!hx.length || hx.length >= hy.length || hx.length <= bestLen) continue;
      if (!x.layers.every((l, i) => y.layers[i]!.diffId === l.diffId)) continue;
      if (!hx.every((e, i) => hy[i] === e)) continue;
      best = x;
      bestLen = hx.length;
    }
    if (best) out.set(y.id, best.id);
  }
  return out;
}
