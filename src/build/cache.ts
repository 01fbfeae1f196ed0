// The build cache: a step's key (its parent image, the instruction as expanded, the build
// args it sees and, for COPY/ADD, the checksum of what it copies) maps to the image that
// step produced. The images are ordinary store records (untagged, as Docker's intermediate
// images), so `rmi` and gc keep or drop them like any other; a key whose image or layers are
// gone is a miss.
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import { mkdirp, writeFileAtomic } from "../util/fs.ts";
import { existsSync, readFileSync } from "node:fs";

export interface StepKey {
  parent: string;
  instruction: string;
  /** Build args visible to the step (RUN) that are not in the image's env. */
  args?: string[];
  /** COPY/ADD: checksum of the sources. */
  content?: string;
}

export function cacheKey(k: StepKey): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update(JSON.stringify([k.parent, k.instruction, k.args ?? [], k.content ?? ""]));
  return h.digest("hex");
}

export class BuildCache {
  private dir: string;
  constructor(private engine: Engine) {
    this.dir = join(engine.root, "build", "cache");
  }

  /** The image of a cached step, when it and all its layers are still in the store. */
  lookup(key: string): string | undefined {
    const file = join(this.dir, key);
    if (!existsSync(file)) return undefined;
    const id = readFileSync(file, "utf8").trim();
    let img;
    try {
      img = this.engine.images.getImage(id);
    } catch {
      return undefined;
    }
    if (!img) return undefined;
    if (!img.layers.every((l) => this.engine.images.hasLayer(l.diffId))) return undefined;
    return id;
  }

  store(key: string, imageId: string): void {
    mkdirp(this.dir, 0o700);
    writeFileAtomic(join(this.dir, key), `${imageId}\n`, 0o600);
  }
}
