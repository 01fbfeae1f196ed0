// The layer store's directory layout, decoded here and nowhere else:
//
//   <layers>/<diffid-hex>/diff/   a layer's tree in overlay form (what drivers stack)
//   <layers>/<diffid-hex>/layer.json
//
// Containers record the `diff` directories they stack (state.storage.lowerdirs); commit, gc
// and the drivers read DiffIDs and the common parent back from those paths.
import { basename, dirname, join } from "node:path";

export const LAYER_TREE = "diff";
export const LAYER_RECORD = "layer.json";

/** `<layers>/<hex>`: a layer's own directory. */
export function layerHome(layersDir: string, diffId: string): string {
  return join(layersDir, diffId.replace(/^sha256:/, ""));
}

/** `<layers>/<hex>/diff`: the tree a driver stacks. */
export function layerTreeDir(layersDir: string, diffId: string): string {
  return join(layerHome(layersDir, diffId), LAYER_TREE);
}

/** The DiffID a stacked layer directory stands for, or undefined for a path not in the store form. */
export function diffIdOfLayerTree(path: string): string | undefined {
  if (basename(path) !== LAYER_TREE) return undefined;
  const hex = basename(dirname(path));
  return /^[a-f0-9]{64}$/.test(hex) ? `sha256:${hex}` : undefined;
}

/** The hex name of the layer directory holding a stacked layer path (what gc keeps alive). */
export function layerNameOf(path: string): string {
  return basename(dirname(path));
}

/**
 * Layer tree paths as short names relative to their common store directory, when they all
 * are in the store form under one parent (a mount option string holds one page: relative
 * names keep 100+ layers in it); undefined otherwise.
 */
export function relativeToStore(paths: string[]): { cwd: string; names: string[] } | undefined {
  if (!paths.length) return undefined;
  const parents = new Set(paths.map((d) => dirname(dirname(d))));
  if (parents.size !== 1 || !paths.every((d) => basename(d) === LAYER_TREE)) return undefined;
  return { cwd: [...parents][0]!, names: paths.map((d) => `${basename(dirname(d))}/${LAYER_TREE}`) };
}
