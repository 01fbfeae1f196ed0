// `minid history IMAGE`: the image's history entries newest first, each non-empty one paired
// with the layer it made (the i-th non-empty entry made the i-th layer).
import type { Engine } from "../engine.ts";
import type { HistoryEntry } from "./config.ts";
import { UserError } from "../util/errors.ts";

export interface HistoryRow {
  /** The image id on the newest row, "<missing>" below it (as docker shows pulled images). */
  id: string;
  created?: string;
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
}

export function imageHistory(engine: Engine, name: string): HistoryRow[] {
  const store = engine.images;
  const img = store.resolve(name);
  if (!img) throw new UserError(`No such image: ${name}`);
  const cfg = store.getConfig(img);
  const history: HistoryEntry[] = Array.isArray(cfg.history) ? cfg.history : [];
  const sizes = img.layers.map((l) => store.getLayer(l.diffId)?.size ?? l.size);
  const rows: HistoryRow[] = [];
  let li = 0;
  for (const h of history) {
    const empty = Boolean(h?.empty_layer);
    const size = empty ? 0 : (sizes[li++] ?? 0);
    rows.push({ id: "<missing>", created: h?.created, createdBy: h?.created_by ?? "", size, comment: h?.comment ?? "", emptyLayer: empty });
  }
  // Layers without a history entry (hand-made configs) still show, as docker does.
  for (; li < sizes.length; li++) {
    rows.push({ id: "<missing>", created: cfg.created, createdBy: "", size: sizes[li]!, comment: "", emptyLayer: false });
  }
  rows.reverse();
  if (rows.length) rows[0]!.id = img.id;
  else rows.push({ id: img.id, created: cfg.created, createdBy: "", size: 0, comment: "", emptyLayer: true });
  return rows;
}
