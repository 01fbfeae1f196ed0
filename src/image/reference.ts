// Image references the way Docker spells them: [registry/]repo[:tag][@digest], with Docker
// Hub short names ("busybox") meaning docker.io/library/busybox.
import { UserError, quote } from "../util/errors.ts";

export interface Reference {
  /** Registry host, e.g. "docker.io" or "localhost:5000". */
  registry: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_REGISTRY = "docker.io";

// The distribution reference grammar (github.com/distribution/reference), piece by piece:
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path-component [ "/" path-component ]*
//   domain     := host [ ":" port ]      host := domain-name | IPv4 | "[" IPv6 "]"
//   path-component := [a-z0-9]+ ( ( [_.] | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [\w][\w.-]{0,127}     digest := algorithm ":" hex{32,}
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const HOST = `(?:${DOMAIN_NAME}|${IPV6})`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const TAG_RE = "[\\w][\\w.-]{0,127}";
const DIGEST_RE = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const NAME_RE = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
/** The whole reference, anchored: anything the grammar does not produce is refused. */
const REFERENCE = new RegExp(`^(${NAME_RE})(?::(${TAG_RE}))?(?:@(${DIGEST_RE}))?$`);
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const ID = /^[a-f0-9]{64}$/;
const NAME_MAX = 255;

/** Docker's split of a name into registry and path: the first part is a registry only if it looks like a host. */
function splitDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf("/");
  const first = name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)) {
    return { domain: DEFAULT_REGISTRY, remainder: name };
  }
  return { domain: first, remainder: name.slice(i + 1) };
}

export function parseReference(input: string): Reference {
  const bad = (why?: string): never => {
    throw new UserError(`invalid reference format ${quote(input)}${why ? `: ${why}` : ""}`);
  };
  if (!input) bad("empty name");
  // As Docker: a bare 64-hex string is an image id, never a repository name.
  if (ID.test(input)) bad("cannot specify 64-byte hexadecimal strings as a repository name");
  let { domain, remainder } = splitDomain(input);
  const sep = remainder.search(/[:@]/);
  const remoteName = sep < 0 ? remainder : remainder.slice(0, sep);
  if (remoteName.toLowerCase() !== remoteName) bad(`repository name (${remoteName}) must be lowercase`);
  const m = REFERENCE.exec(`${domain}/${remainder}`);
  if (!m) {
    if (/@/.test(input) && !new RegExp(`@${DIGEST_RE}$`).test(input)) bad("digest must be sha256:<64 hex>");
    if (/:[^/]*$/.test(input) && !new RegExp(`:${TAG_RE}(@.*)?$`).test(input.replace(/@.*$/, ""))) {
      bad("tag may hold letters, digits, '_', '.', '-' (at most 128)");
    }
    bad();
  }
  const [, name, tag, digest] = m!;
  if (name!.length > NAME_MAX) bad(`repository name must not be more than ${NAME_MAX} characters`);
  if (digest !== undefined && !SHA256.test(digest)) bad("unsupported digest: only sha256:<64 lowercase hex> is supported");
  if (domain === "index.docker.io") domain = DEFAULT_REGISTRY;
  let repository = name!.slice(name!.indexOf("/") + 1);
  if (domain === DEFAULT_REGISTRY && !repository.includes("/")) repository = `library/${repository}`;
  return { registry: domain, repository, tag: tag ?? (digest ? undefined : "latest"), digest };
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

/**
 * A name an archive tags an image with (docker-archive RepoTags, OCI ref names): NAME:TAG. As
 * Docker's load does, a digest or a missing tag is refused rather than read as NAME:latest,
 * which would silently tag the image under a name the archive never gave it.
 */
export function parseTagReference(input: string, where: string): Reference {
  const ref = parseReference(input);
  if (ref.digest) {
    throw new UserError(`invalid tag ${quote(input)} in ${where}: an image is tagged NAME:TAG, a digest cannot be a tag`);
  }
  const explicit = REFERENCE.exec(`${splitDomain(input).domain}/${splitDomain(input).remainder}`)?.[2];
  if (explicit === undefined) throw new UserError(`invalid tag ${quote(input)} in ${where}: it names no tag (expected NAME:TAG)`);
  return ref;
}
