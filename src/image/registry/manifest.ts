// Manifests and indexes as the distribution spec serves them (OCI and Docker schema 2),
// validation of what a registry sent, and picking one platform out of an index.
import { MEDIA } from "../store.ts";
import { UserError } from "../../util/errors.ts";

export const MANIFEST_TYPES = [MEDIA.ociManifest, MEDIA.dockerManifest] as const;
export const INDEX_TYPES = [MEDIA.ociIndex, MEDIA.dockerList] as const;
/** The Accept header of a manifest GET: every type minid understands. */
export const ACCEPT_MANIFESTS = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(", ");

export const DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";

/** Layer media types minid can apply (compression is detected from the bytes anyway). */
export const LAYER_TYPES = new Set<string>([
  MEDIA.ociLayer,
  MEDIA.ociLayerGzip,
  MEDIA.ociLayerZstd,
  MEDIA.dockerLayerGzip,
  DOCKER_LAYER_TAR,
  "application/vnd.docker.image.rootfs.diff.tar.zstd",
]);
const CONFIG_TYPES = new Set<string>([MEDIA.ociConfig, MEDIA.dockerConfig]);

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export type Parsed =
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest }
  | { kind: "index"; mediaType: string; index: ImageIndex };

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function checkDescriptor(d: unknown, what: string): Descriptor {
  const x = d as Descriptor;
  if (!x || typeof x !== "object") throw new UserError(`invalid manifest: ${what} is not a descriptor`);
  if (typeof x.digest !== "string" || !DIGEST.test(x.digest)) {
    throw new UserError(`invalid manifest: ${what} has unsupported digest "${String(x.digest)}" (minid handles sha256)`);
  }
  if (!Number.isSafeInteger(x.size) || x.size < 0) throw new UserError(`invalid manifest: ${what} has an invalid size`);
  if (typeof x.mediaType !== "string") throw new UserError(`invalid manifest: ${what} has no media type`);
  return x;
}

/**
 * Parse a manifest body. `contentType` is the response's Content-Type; the body's own
 * mediaType wins when present (the spec makes it authoritative for OCI).
 */
export function parseManifest(body: Uint8Array, contentType: string | null): Parsed {
  let doc: any;
  try {
    doc = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new UserError("invalid manifest: the registry sent something that is not JSON");
  }
  if (!doc || typeof doc !== "object") throw new UserError("invalid manifest: not a JSON object");
  const ct = (contentType ?? "").split(";")[0]!.trim();
  let mediaType: string = typeof doc.mediaType === "string" ? doc.mediaType : ct;
  if (!mediaType || mediaType === "application/json" || mediaType === "text/plain") {
    // OCI allows mediaType to be absent: tell index from manifest by shape.
    mediaType = Array.isArray(doc.manifests) ? MEDIA.ociIndex : MEDIA.ociManifest;
  }
  if (doc.schemaVersion === 1 || mediaType.includes("distribution.manifest.v1")) {
    throw new UserError("unsupported manifest: Docker schema 1 images are deprecated and not supported");
  }
  if (doc.schemaVersion !== 2) throw new UserError(`unsupported manifest schemaVersion ${doc.schemaVersion}`);
  if ((INDEX_TYPES as readonly string[]).includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new UserError("invalid manifest index: no manifests list");
    doc.manifests.forEach((m: unknown, i: number) => checkDescriptor(m, `manifests[${i}]`));
    return { kind: "index", mediaType, index: doc as ImageIndex };
  }
  if ((MANIFEST_TYPES as readonly string[]).includes(mediaType)) {
    checkDescriptor(doc.config, "config");
    if (!Array.isArray(doc.layers)) throw new UserError("invalid manifest: no layers list");
    doc.layers.forEach((l: unknown, i: number) => checkDescriptor(l, `layers[${i}]`));
    if (!CONFIG_TYPES.has(doc.config.mediaType)) {
      throw new UserError(`not a container image: config media type "${doc.config.mediaType}"`);
    }
    for (const l of doc.layers as Descriptor[]) {
      if (!LAYER_TYPES.has(l.mediaType)) {
        throw new UserError(`unsupported layer media type "${l.mediaType}" (layer ${l.digest})`);
      }
    }
    return { kind: "manifest", mediaType, manifest: doc as ImageManifest };
  }
  throw new UserError(`unsupported manifest media type "${mediaType}"`);
}

const ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** The platform this host runs (linux/amd64 on the project's machines). */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  return architecture === "arm64" ? { os: "linux", architecture, variant: "v8" } : { os: "linux", architecture };
}

export function formatPlatform(p: Partial<Platform> | undefined): string {
  if (!p) return "unknown";
  return [p.os ?? "unknown", p.architecture ?? "unknown", p.variant].filter(Boolean).join("/");
}

/** "linux/arm64/v8" → Platform. */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, extra] = s.split("/");
  if (!os || !architecture || extra !== undefined) throw new UserError(`invalid platform "${s}": use OS/ARCH[/VARIANT]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

function normVariant(arch: string, v: string | undefined): string | undefined {
  if (arch === "arm64") return v && v !== "v8" ? v : undefined;
  if (arch === "amd64") return v && v !== "v1" ? v : undefined;
  return v || undefined;
}

/**
 * The descriptor for `want` in an index, like containerd's default matcher: os and architecture
 * must match; a variant must match when both sides name one (amd64 "v1" and arm64 "v8" are the
 * defaults); among matches, an entry without a variant or with the wanted one comes first.
 * Attestation manifests (platform unknown/unknown) never match.
 */
export function selectPlatform(index: ImageIndex, want: Platform = hostPlatform()): Descriptor | undefined {
  const wantVariant = normVariant(want.architecture, want.variant);
  const candidates = index.manifests.filter((m) => {
    if (!(MANIFEST_TYPES as readonly string[]).includes(m.mediaType) && !(INDEX_TYPES as readonly string[]).includes(m.mediaType)) return false;
    const p = m.platform;
    if (!p) return false;
    if (p.os !== want.os || p.architecture !== want.architecture) return false;
    if (m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest") return false;
    const v = normVariant(p.architecture, p.variant);
    if (wantVariant && v && v !== wantVariant) return false;
    // amd64 v2/v3 images need CPU features we cannot promise without asking for them.
    if (!wantVariant && v && want.architecture === "amd64") return false;
    return true;
  });
  candidates.sort((a, b) => score(b) - score(a));
  return candidates[0];

  function score(m: Descriptor): number {
    const v = normVariant(m.platform!.architecture, m.platform!.variant);
    return v === wantVariant ? 2 : v === undefined ? 1 : 0;
  }
}

/** The platforms an index offers, for the "no matching manifest" message. */
export function platformsOf(index: ImageIndex): string[] {
  return index.manifests
    .filter((m) => m.platform && m.platform.os !== "unknown")
    .map((m) => formatPlatform(m.platform));
}
