// `rmi`: Docker's rules (daemon/images/image_delete.go), message for message.
//
// By name (NAME[:TAG] or NAME@DIGEST): that one reference goes ("Untagged: …"); without -f
// that is refused when it is the image's last reference and a container uses the image. The
// image itself is deleted only when no reference is left, no running container uses it, no
// other image is built on it, and (without -f) no stopped container uses it.
// By id: with at most one tag, that tag goes with it; several references need -f. A running
// container's image can never be deleted (-f or not), a stopped container's only with -f (the
// container keeps its layers).
// After a deletion, the untagged parents nothing else uses go too (build steps, the image a
// commit came from), unless --no-prune.
import type { Engine } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { hexOf, sha256, type ImageRecord } from "./store.ts";
import { familiarName, parseReference, tagKey } from "./reference.ts";
import { isRunning } from "../container/lifecycle.ts";
import type { ContainerState } from "../container/state.ts";
import { parentMap } from "./intermediate.ts";

export interface RemoveOptions {
  force?: boolean;
  /** Keep untagged parents (Docker's --no-prune). */
  noPrune?: boolean;
}

/** A conflict as Docker words it; `hard` ones -f cannot override, `used` ones involve a container. */
class Conflict extends UserError {
  constructor(
    id: string,
    readonly hard: boolean,
    readonly used: boolean,
    why: string,
  ) {
    super(`conflict: unable to delete ${hexOf(id).slice(0, 12)} (${hard ? "cannot be forced" : "must be forced"}) - ${why}`);
  }
}

/** A reference of an image: a tag key ("busybox:latest") or a repo digest ("busybox@sha256:…"). */
interface Ref {
  text: string;
  repo: string;
  digest: boolean;
  /** Docker's order: the full name's lexical order. */
  sortKey: string;
}

function refOf(text: string, digest: boolean): Ref {
  const r = parseReference(text);
  const sep = digest ? "@" : ":";
  const tail = digest ? r.digest! : r.tag!;
  return { text, repo: familiarName(r), digest, sortKey: `${r.registry}/${r.repository}${sep}${tail}` };
}

export function removeImage(engine: Engine, name: string, forceOrOpts: boolean | RemoveOptions = {}): string[] {
  const opts = typeof forceOrOpts === "boolean" ? { force: forceOrOpts } : forceOrOpts;
  const force = Boolean(opts.force);
  const prune = !opts.noPrune;
  const store = engine.images;
  const img = store.resolve(name);
  if (!img) throw new UserError(`No such image: ${name}`);
  const ctx = new Removal(engine);
  const lines: string[] = [];
  let refs = ctx.refsOf(img);
  const byId = isIdPrefix(img.id, name);
  if (!byId) {
    const given = ctx.refNamed(img, name);
    if (!force && isSingleReference(refs) && given) {
      const c = ctx.users(img.id)[0];
      if (c) {
        throw new UserError(
          `conflict: unable to remove repository reference "${name}" (must force) - container ${c.id.slice(0, 12)} is using its referenced image ${hexOf(img.id).slice(0, 12)}`,
        );
      }
    }
    if (given) {
      ctx.untag(img, given, lines);
      refs = ctx.refsOf(img);
      // The last tag of a repository takes that repository's digests with it.
      if (!given.digest && !refs.some((r) => !r.digest && r.repo === given.repo)) {
        for (const r of refs.filter((r) => r.digest && r.repo === given.repo)) ctx.untag(img, r, lines);
        refs = ctx.refsOf(img);
      }
      if (refs.length) return lines;
    }
    ctx.deleteHelper(img.id, force, prune, true, lines);
    return lines;
  }
  if (isSingleReference(refs)) {
    // Checked before the untag: a refused rmi changes nothing.
    const c = ctx.conflict(img, { soft: !force, activeRefs: false });
    if (c) throw c;
    for (const r of refs) ctx.untag(img, r, lines);
  }
  ctx.deleteHelper(img.id, force, prune, false, lines);
  return lines;
}

/** Docker's isImageIDPrefix: the name is (a prefix of) the id, with or without "sha256:". */
function isIdPrefix(id: string, name: string): boolean {
  return id.startsWith(name) || hexOf(id).startsWith(name);
}

/** One tag, or digests all of the one repository (plus at most that repository's one tag). */
function isSingleReference(refs: Ref[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const tags = refs.filter((r) => !r.digest);
  if (tags.length > 1) return false;
  const digestRepos = new Set(refs.filter((r) => r.digest).map((r) => r.repo));
  const single = tags[0] ?? refs[0]!;
  return digestRepos.size === 1 && digestRepos.has(single.repo);
}

class Removal {
  private images?: ImageRecord[];
  private parents?: Map<string, string>;
  private containers?: ContainerState[];
  constructor(private engine: Engine) {}

  refsOf(img: ImageRecord): Ref[] {
    const store = this.engine.images;
    const rec = store.getImage(img.id) ?? img;
    const out: Ref[] = [];
    for (const t of store.tagsOf(img.id)) out.push(refOf(t, false));
    for (const d of rec.repoDigests ?? []) {
      try {
        out.push(refOf(d, true));
      } catch {
        /* not a reference: ignore */
      }
    }
    return out.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  }

  /** The reference `name` spells, if it is one of the image's. */
  refNamed(img: ImageRecord, name: string): Ref | undefined {
    let r;
    try {
      r = parseReference(name);
    } catch {
      return undefined;
    }
    const text = r.digest ? `${familiarName(r)}@${r.digest}` : tagKey(r);
    return this.refsOf(img).find((x) => x.text === text);
  }

  untag(img: ImageRecord, ref: Ref, lines: string[]): void {
    const store = this.engine.images;
    if (ref.digest) {
      const rec = store.getImage(img.id);
      if (rec) store.setRepoDigests(img.id, (rec.repoDigests ?? []).filter((d) => d !== ref.text));
    } else {
      store.removeTag(ref.text);
    }
    lines.push(`Untagged: ${ref.text}`);
  }

  users(id: string): ContainerState[] {
    this.containers ??= this.engine.containers.list();
    return this.containers.filter((c) => c.imageId === id);
  }

  private parentMap(): Map<string, string> {
    if (!this.parents) {
      this.images ??= this.engine.images.listImages();
      this.parents = parentMap(this.engine.images, this.images);
    }
    return this.parents;
  }

  private hasChildren(id: string): boolean {
    for (const p of this.parentMap().values()) if (p === id) return true;
    return false;
  }

  conflict(img: ImageRecord, mask: { soft: boolean; activeRefs: boolean }): Conflict | undefined {
    if (this.hasChildren(img.id)) return new Conflict(img.id, true, false, "image has dependent child images");
    const running = this.users(img.id).find(isRunning);
    if (running) return new Conflict(img.id, true, true, `image is being used by running container ${running.id.slice(0, 12)}`);
    if (mask.soft && mask.activeRefs && this.refsOf(img).length) return new Conflict(img.id, false, false, "image is referenced in multiple repositories");
    if (mask.soft) {
      const stopped = this.users(img.id).find((c) => !isRunning(c));
      if (stopped) return new Conflict(img.id, false, true, `image is being used by stopped container ${stopped.id.slice(0, 12)}`);
    }
    return undefined;
  }

  /**
   * Docker's imageDeleteHelper: delete the image unless something still needs it, then its
   * untagged parent the same way (never forced, quietly). `quiet`: a conflict is no error when
   * the image is still referenced or used (the untag already did what was asked).
   */
  deleteHelper(id: string, force: boolean, prune: boolean, quiet: boolean, lines: string[]): void {
    const store = this.engine.images;
    const img = store.getImage(id);
    if (!img) return;
    const c = this.conflict(img, { soft: !force, activeRefs: true });
    if (c) {
      const dangling = !this.refsOf(img).length && !this.hasChildren(id);
      if (quiet && (!dangling || c.used)) return;
      throw c;
    }
    const parent = prune ? this.parentMap().get(id) : undefined;
    for (const r of this.refsOf(img)) this.untag(img, r, lines);
    const removedLayers = new Set(store.deleteImage(id));
    lines.push(`Deleted: sha256:${hexOf(id)}`);
    // The layers that went, top first, named by ChainID as Docker prints them.
    const chain: string[] = [];
    for (const l of img.layers) chain.push(chain.length ? sha256(`${chain[chain.length - 1]} ${l.diffId}`) : l.diffId);
    for (let i = img.layers.length - 1; i >= 0; i--) {
      if (removedLayers.delete(img.layers[i]!.diffId)) lines.push(`Deleted: ${chain[i]}`);
    }
    this.images = this.images?.filter((i) => i.id !== id);
    this.parents?.delete(id);
    if (parent) this.deleteHelper(parent, false, true, true, lines);
  }
}
