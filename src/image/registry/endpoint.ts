// Where a reference's registry lives on the network: Docker Hub's API host, the scheme and the
// /v2/ URLs. As Docker: https first for every registry, loopback included; plain http only as
// the fallback for a loopback registry, one named insecure (--insecure-registry, which also
// skips certificate checks, as Docker's daemon option does) or under --tls-verify=false.
import { DEFAULT_REGISTRY, type Reference } from "../reference.ts";

/** The host serving Docker Hub's registry API. */
export const DOCKER_HUB_API = "registry-1.docker.io";

/** Names under which users refer to Docker Hub, normalised to "docker.io". */
const HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "hub.docker.com"]);

/**
 * The canonical name of a registry as typed in `login`/`logout` or found in a reference:
 * lower-cased host[:port], Docker Hub spellings folded into "docker.io", scheme and path dropped
 * ("https://index.docker.io/v1/" → "docker.io").
 */
export function normalizeRegistry(name: string): string {
  let s = name.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  s = s.replace(/\/.*$/, "");
  s = s.toLowerCase();
  if (HUB_ALIASES.has(s)) return DEFAULT_REGISTRY;
  return s;
}

/** host part of "host:port", "[::1]:5000", "::1". */
export function hostOf(registry: string): string {
  if (registry.startsWith("[")) return registry.slice(1, registry.indexOf("]"));
  const colons = registry.split(":").length - 1;
  if (colons > 1) return registry; // bare IPv6 address
  return colons === 1 ? registry.slice(0, registry.indexOf(":")) : registry;
}

function isLoopback(registry: string): boolean {
  const h = hostOf(registry).toLowerCase();
  return h === "localhost" || h === "::1" || h === "127.0.0.1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h.endsWith(".localhost");
}

/** Registries the user allowed over plain http: flags first, then MINID_INSECURE_REGISTRIES. */
export function insecureList(flags: string[] = [], env = process.env.MINID_INSECURE_REGISTRIES): string[] {
  const fromEnv = (env ?? "").split(/[\s,]+/).filter(Boolean);
  return [...flags, ...fromEnv].map(normalizeRegistry);
}

/**
 * Plain http is allowed for loopback registries and for those listed as insecure (a listed
 * name without a port covers every port of that host).
 */
export function isInsecure(registry: string, insecure: string[]): boolean {
  const r = normalizeRegistry(registry);
  if (isLoopback(r)) return true;
  return insecure.some((i) => i === r || (!i.includes(":") && hostOf(r) === i) || (i.startsWith("[") && i === r));
}

export interface Endpoint {
  /** The registry as named in references ("docker.io", "localhost:5000"). */
  registry: string;
  /** "https://registry-1.docker.io"; "http://127.0.0.1:5000" once the client fell back. */
  base: string;
  /** https (base starts with it); false after the fall back to plain http. */
  secure: boolean;
  /** Plain http may be tried when https finds no TLS there. */
  httpFallback: boolean;
  /** Check the registry's certificate (not for --insecure-registry or --tls-verify=false). */
  verify: boolean;
}

export function endpointFor(registry: string, insecure: string[] = [], tlsVerify = true): Endpoint {
  const name = normalizeRegistry(registry);
  const host = name === DEFAULT_REGISTRY ? DOCKER_HUB_API : name;
  const listed = isInsecure(name, insecure) && !isLoopback(name);
  const urlHost = hostOf(host).includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return {
    registry: name,
    base: `https://${urlHost}`,
    secure: true,
    httpFallback: isInsecure(name, insecure) || !tlsVerify,
    verify: tlsVerify && !listed,
  };
}

/** The same endpoint over plain http. */
export function plainHttp(ep: Endpoint): Endpoint {
  return { ...ep, base: ep.base.replace(/^https:/, "http:"), secure: false };
}

export function manifestUrl(ep: Endpoint, repository: string, reference: string): string {
  return `${ep.base}/v2/${repository}/manifests/${reference}`;
}

export function blobUrl(ep: Endpoint, repository: string, digest: string): string {
  return `${ep.base}/v2/${repository}/blobs/${digest}`;
}

export function uploadUrl(ep: Endpoint, repository: string): string {
  return `${ep.base}/v2/${repository}/blobs/uploads/`;
}

/** The manifest reference to ask for: the digest when the user gave one, else the tag. */
export function manifestRef(ref: Reference): string {
  return ref.digest ?? ref.tag ?? "latest";
}
