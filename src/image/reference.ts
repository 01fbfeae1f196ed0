// Image references the way Docker spells them: [registry/]repo[:tag][@digest], with Docker
// Hub short names ("busybox") meaning docker.io/library/busybox.
import { UserError } from "../util/errors.ts";

export interface Reference {
  /** Registry host, e.g. "docker.io" or "localhost:5000". */
  registry: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_REGISTRY = "docker.io";

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseReference(input: string): Reference {
  const bad = (why: string): never => {
    throw new UserError(`invalid reference format "${input}": ${why}`);
  };
  if (!input) bad("empty name");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) bad("digest must be sha256:<64 hex>");
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad("tag may hold letters, digits, '_', '.', '-' (at most 128)");
  }
  const parts = rest.split("/");
  let registry = DEFAULT_REGISTRY;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    parts.shift();
  }
  if (registry === "index.docker.io") registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && parts.length === 1) parts.unshift("library");
  for (const p of parts) {
    if (!COMPONENT.test(p)) bad("repository name must be lowercase letters, digits and separators");
  }
  const repository = parts.join("/");
  if (repository.length > 255) bad("repository name too long");
  if (!tag && !digest) tag = "latest";
  return { registry, repository, tag, digest };
}

/** The short name Docker shows: "busybox", "localhost:5000/foo". */
export function familiarName(ref: Reference): string {
  if (ref.registry === DEFAULT_REGISTRY) {
    return ref.repository.startsWith("library/") ? ref.repository.slice(8) : ref.repository;
  }
  return `${ref.registry}/${ref.repository}`;
}

/** "busybox:latest" style key under which tags are stored. */
export function tagKey(ref: Reference): string {
  return `${familiarName(ref)}:${ref.tag ?? "latest"}`;
}

export function formatReference(ref: Reference): string {
  let s = familiarName(ref);
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}
