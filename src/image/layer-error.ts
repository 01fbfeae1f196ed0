// How applying a layer fails: always a LayerError with a one-line message that names the entry
// when there is one. Shared by the input side (layer-input.ts), the tar header parser
// (tar-header.ts) and the extractor (layer-extract.ts).

/** Every failure of applyLayer is one of these, with a one-line message. */
export class LayerError extends Error {
  override name = "LayerError";
}

export function reject(msg: string): LayerError {
  return new LayerError(`layer rejected: ${msg}`);
}

/** Any failure as a LayerError; `x` is the extractor, for the entry it was working on. */
export function asLayerError(e: unknown, x: { current: string | null } | undefined): LayerError {
  if (e instanceof LayerError) return e;
  const at = x?.current != null ? ` at entry ${show(x.current)}` : "";
  const msg = (e as Error)?.message ?? String(e);
  return new LayerError(`applying layer failed${at}: ${msg.split("\n")[0]}`);
}

/** For messages: one line, UTF-8 where possible, bounded. */
export function show(latin1: string): string {
  const s = Buffer.from(latin1, "latin1").toString("utf8");
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}...` : s);
}
