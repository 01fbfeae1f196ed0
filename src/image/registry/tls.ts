// TLS to registries as Docker sets it up: the system's CAs plus those of a per-registry
// directory (Docker's `/etc/docker/certs.d/HOST[:PORT]/`, and minid's own `<root>/certs.d/`),
// where `*.crt` files are CA certificates and a `NAME.cert` with its `NAME.key` is the client
// certificate presented to registries that require one. `--tls-verify=false` (podman's flag)
// turns verification off. `MINID_CERTS_D` replaces /etc/docker/certs.d (tests point it at a
// directory of their own).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../util/errors.ts";

export const DOCKER_CERTS_D = "/etc/docker/certs.d";

export interface TlsSettings {
  /** false: https without checking the registry's certificate (--tls-verify=false). */
  verify: boolean;
  /** certs.d bases, searched in order; the CAs of all of them count. */
  certsDirs: string[];
}

export function tlsSettings(root: string, verify = true, env = process.env): TlsSettings {
  return { verify, certsDirs: [env.MINID_CERTS_D || DOCKER_CERTS_D, join(root, "certs.d")] };
}

/** Without a minid root (a client made outside a command): the system directory only, verified. */
export function systemTlsSettings(env = process.env): TlsSettings {
  return { verify: true, certsDirs: [env.MINID_CERTS_D || DOCKER_CERTS_D] };
}

/** The directories a registry's certificates may be in ("host:port" as references spell it). */
export function certDirsFor(registry: string, s: TlsSettings): string[] {
  return s.certsDirs.map((d) => join(d, registry));
}

export interface TlsFiles {
  ca: string[];
  cert?: string;
  key?: string;
}

/** Read a registry's certs.d entries. A client certificate without its key is an error, as in Docker. */
export function tlsFilesFor(registry: string, s: TlsSettings): TlsFiles {
  const out: TlsFiles = { ca: [] };
  for (const dir of certDirsFor(registry, s)) {
    if (!existsSync(dir)) continue;
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e: any) {
      throw new UserError(`cannot read ${dir}: ${e?.code ?? e?.message}`);
    }
    for (const n of names) {
      const p = join(dir, n);
      if (n.endsWith(".crt")) out.ca.push(readFileSync(p, "utf8"));
      else if (n.endsWith(".cert") && !out.cert) {
        const key = join(dir, `${n.slice(0, -5)}.key`);
        if (!existsSync(key)) {
          throw new UserError(`missing key ${key} for client certificate ${p} (CA certificates must use the extension .crt)`);
        }
        out.cert = readFileSync(p, "utf8");
        out.key = readFileSync(key, "utf8");
      } else if (n.endsWith(".key") && !existsSync(join(dir, `${n.slice(0, -4)}.cert`))) {
        throw new UserError(`missing client certificate ${join(dir, `${n.slice(0, -4)}.cert`)} for key ${p}`);
      }
    }
  }
  return out;
}

let systemRoots: string[] | undefined;

/** The `tls` option of Bun's fetch for a registry: system CAs + certs.d CAs, client cert, verify. */
export async function fetchTlsOptions(registry: string, s: TlsSettings): Promise<Record<string, unknown>> {
  const files = tlsFilesFor(registry, s);
  const opts: Record<string, unknown> = { rejectUnauthorized: s.verify };
  if (files.ca.length) {
    // A `ca` list replaces the defaults: keep the system's roots next to the registry's own.
    systemRoots ??= [...((await import("node:tls")).rootCertificates ?? [])];
    opts.ca = [...systemRoots, ...files.ca];
  }
  if (files.cert) {
    opts.cert = files.cert;
    opts.key = files.key;
  }
  return opts;
}

const CERT_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_REVOKED",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

/** A failure to trust the registry's certificate (as opposed to no TLS spoken at all). */
export function isCertificateError(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? "";
  return CERT_CODES.has(code) || /certificate|x509|altname/i.test(code);
}

/** The one line a certificate failure becomes: what went wrong and where the CA goes. */
export function certificateMessage(registry: string, origin: string, e: unknown, s: TlsSettings): string {
  const code = (e as { code?: string })?.code ?? "";
  const why = (e as Error)?.message?.replace(/^[A-Z_]+: /, "") || code;
  // minid's own directory first: the one a user can write without touching Docker's
  const places = certDirsFor(registry, s).reverse().map((d) => join(d, "ca.crt")).join(" or ");
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || /altname|hostname/i.test(code + why)) {
    return `x509: the certificate of registry ${registry} (${origin}) is not valid for that name (${why}); use the name the certificate was issued for, or pass --tls-verify=false`;
  }
  if (/EXPIRED|NOT_YET_VALID/.test(code)) {
    return `x509: the certificate of registry ${registry} (${origin}) has expired or is not yet valid (${why}); renew it, or pass --tls-verify=false`;
  }
  return (
    `x509: certificate signed by unknown authority: registry ${registry} (${origin}) (${why}); ` +
    `put its CA certificate in ${places}, or pass --tls-verify=false`
  );
}

/** A handshake that failed with a server that does speak TLS: most likely a client certificate it wants. */
export function clientCertMessage(registry: string, origin: string, s: TlsSettings, have: boolean): string {
  const dirs = certDirsFor(registry, s).reverse().join(" or ");
  return have
    ? `TLS handshake with registry ${registry} (${origin}) failed: it refused the client certificate from ${dirs}`
    : `TLS handshake with registry ${registry} (${origin}) failed: it probably requires a client certificate; ` +
        `put client.cert and client.key in ${dirs}`;
}
