// Resolving the image a container is created from, importing the built-in busybox the
// first time it is asked for so a host without network can still run containers.
import type { Engine } from "../engine.ts";
import type { ImageRecord } from "./store.ts";
import { parseReference, tagKey, formatReference } from "./reference.ts";
import { UserError } from "../util/errors.ts";
import { withLockAsync } from "../util/fs.ts";
import { join } from "node:path";

export const BUILTIN_IMAGE = "busybox:latest";

/** Import the built-in image if `name` names it and this root lacks it; else do nothing. */
export async function ensureBuiltinIfNamed(engine: Engine, name: string): Promise<void> {
  if (engine.images.resolve(name)) return;
  let ref;
  try {
    ref = parseReference(name);
  } catch {
    return;
  }
  if (tagKey(ref) === BUILTIN_IMAGE && !ref.digest) await ensureImage(engine, name);
}

/** `pull`: run/create's --pull (missing: the default; never: only what is here; always: from the registry). */
export async function ensureImage(engine: Engine, name: string, o: { pull?: string; quiet?: boolean } = {}): Promise<ImageRecord> {
  const found = o.pull === "always" ? undefined : engine.images.resolve(name);
  if (found) return found;
  const ref = parseReference(name);
  if (o.pull === "never") throw new UserError(`No such image: ${formatReference(ref)}`);
  if (tagKey(ref) === BUILTIN_IMAGE && !ref.digest) {
    engine.images.init();
    return withLockAsync(join(engine.images.dir, "builtin.lock"), async () => {
      const again = engine.images.resolve(name);
      if (again) return again;
      const { builtinImageFile, builtinImageMeta } = await import("./builtin.ts");
      const { importImage } = await import("./import.ts");
      const meta = builtinImageMeta();
      return importImage(engine, {
        source: builtinImageFile(),
        reference: BUILTIN_IMAGE,
        changes: ['CMD ["sh"]'],
        message: `minid built-in busybox (${meta.version})`,
        created: meta.created,
      });
    });
  }
  // Not here: pull it, like Docker (progress on stderr; a failure is one line, exit 125).
  const { pullForRun } = await import("./pull.ts");
  return pullForRun(engine, name, o.quiet, o.pull === "always");
}
