// An OCI distribution v2 client for one repository: authentication (Bearer tokens per the
// registry's WWW-Authenticate challenge, Basic from `minid login`), bounded retries with
// exponential backoff on 5xx and dropped connections, redirects that never carry credentials
// to another host, resumable blob reads, and uploads.
import { UserError } from "../../util/errors.ts";
import { sha256 } from "../store.ts";
import type { Credentials } from "./credentials.ts";
import { pickChallenge, type Challenge } from "./challenge.ts";
import { ACCEPT_MANIFESTS } from "./manifest.ts";
import { blobUrl, endpointFor, manifestUrl, plainHttp, uploadUrl, type Endpoint } from "./endpoint.ts";
import { certificateMessage, clientCertMessage, fetchTlsOptions, isCertificateError, systemTlsSettings, tlsFilesFor, type TlsSettings } from "./tls.ts";
import { RegistryTimeoutError, formatDuration, registryTimeouts, type RegistryTimeouts } from "./timeouts.ts";

export interface ClientOptions {
  registry: string;
  repository: string;
  insecure?: string[];
  credentials?: Credentials;
  /** "pull" or "pull,push": the actions a token is asked for. */
  actions?: string;
  /** Attempts per request on 5xx or a dropped connection (default 4). */
  maxTries?: number;
  /** First backoff delay; doubles each retry (default 250 ms, env MINID_REGISTRY_BACKOFF_MS). */
  backoffMs?: number;
  /** Called before each retry, for logging. */
  onRetry?: (what: string, attempt: number, why: string) => void;
  /** Connect (until response headers) and idle (between body reads) limits; default: registryTimeouts(). */
  timeouts?: RegistryTimeouts;
  /** Certificates (certs.d) and --tls-verify; default: /etc/docker/certs.d (or MINID_CERTS_D), verified. */
  tls?: TlsSettings;
}

/** A registry answered with an error status: `status` and the spec's error `code` if any. */
export class RegistryError extends UserError {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(["MINID_IDLE_TIMEOUT", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "ConnectionClosed", "UND_ERR_SOCKET", "ERR_STREAM_PREMATURE_CLOSE", "EAI_AGAIN"]);
const MAX_MANIFEST = 4 << 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function isTransient(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  if (code && TRANSIENT_CODES.has(code)) return true;
  return /socket connection was closed|connection reset|premature close|other side closed/i.test(String((e as Error)?.message ?? ""));
}

export class RegistryClient {
  endpoint: Endpoint;
  readonly tls: TlsSettings;
  private tlsOptions?: Promise<Record<string, unknown>>;
  private scheme?: Promise<void>;
  /** https got a handshake failure from a server that does speak TLS (a client certificate wanted). */
  private handshakeRefused = false;
  readonly repository: string;
  private readonly creds?: Credentials;
  private readonly scope: string;
  private readonly maxTries: number;
  private readonly backoff: number;
  private readonly onRetry?: ClientOptions["onRetry"];
  private auth?: string;
  readonly timeouts: RegistryTimeouts;
  private tokenCache = new Map<string, string>();

  constructor(opts: ClientOptions) {
    this.tls = opts.tls ?? systemTlsSettings();
    this.endpoint = endpointFor(opts.registry, opts.insecure ?? [], this.tls.verify);
    this.repository = opts.repository;
    this.creds = opts.credentials;
    this.scope = opts.repository ? `repository:${opts.repository}:${opts.actions ?? "pull"}` : "";
    this.maxTries = Math.max(1, opts.maxTries ?? 4);
    this.backoff = opts.backoffMs ?? (Number(process.env.MINID_REGISTRY_BACKOFF_MS) || 250);
    this.onRetry = opts.onRetry;
    this.timeouts = opts.timeouts ?? registryTimeouts();
  }

  /**
   * fetch() under the two time limits: the request is aborted if its headers do not arrive
   * within the connect limit, and its body if it stays silent for the idle limit. Either way
   * the caller gets a RegistryTimeoutError naming the limit and how to raise it.
   */
  async fetchTimed(url: string | URL, init: RequestInit): Promise<Response> {
    const ac = new AbortController();
    const { connectMs, idleMs } = this.timeouts;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, connectMs);
    let res: Response;
    try {
      const https = String(url).startsWith("https:");
      if (https) this.tlsOptions ??= fetchTlsOptions(this.endpoint.registry, { ...this.tls, verify: this.endpoint.verify });
      const tls = https ? await this.tlsOptions : undefined;
      res = await fetch(url, { ...init, signal: ac.signal, ...(tls ? { tls } : {}) } as RequestInit);
    } catch (e) {
      if (timedOut) {
        throw new RegistryTimeoutError(
          `registry ${this.endpoint.registry} (${new URL(url).origin}) did not answer within ${formatDuration(connectMs)}` +
            ` (raise --registry-connect-timeout or MINID_REGISTRY_CONNECT_TIMEOUT if it is just slow)`,
          "connect",
        );
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return withIdleLimit(res, ac, idleMs, () =>
      new RegistryTimeoutError(
        `registry ${this.endpoint.registry} (${new URL(url).origin}) stopped sending for ${formatDuration(idleMs)}` +
          ` (raise --registry-idle-timeout or MINID_REGISTRY_IDLE_TIMEOUT if it is just slow)`,
        "idle",
      ),
    );
  }

  /** "127.0.0.1:5000/test/busybox", as messages name the repository. */
  get name(): string {
    return `${this.endpoint.registry}/${this.repository}`;
  }

  // ---- transport ----

  /**
   * One logical request: retried on 5xx/429/408 and dropped connections (exponential backoff,
   * `maxTries` in all), re-sent once with credentials after a 401, redirects followed by hand.
   * Responses with any other status are returned for the caller to judge.
   */
  async request(
    method: string,
    url: string,
    opts: { headers?: Record<string, string>; body?: () => Bun.BodyInit | undefined; what?: string; tries?: number; anonymous?: boolean } = {},
  ): Promise<Response> {
    const what = opts.what ?? `${method} ${url}`;
    const tries = opts.tries ?? this.maxTries;
    let attempt = 0;
    let authRetried = false;
    let redirects = 0;
    await (this.scheme ??= this.chooseScheme());
    // URLs are made from the https base; after the fall back they go to plain http.
    const httpsBase = this.endpoint.base.replace(/^http:/, "https:");
    if (!this.endpoint.secure && url.startsWith(httpsBase + "/")) url = this.endpoint.base + url.slice(httpsBase.length);
    let target = url;
    const origin = new URL(url).origin;
    for (;;) {
      const headers: Record<string, string> = { ...opts.headers };
      const sameOrigin = new URL(target).origin === origin;
      if (this.auth && sameOrigin && !opts.anonymous) headers.Authorization = this.auth;
      let res: Response;
      try {
        res = await this.fetchTimed(target, { method, headers, body: opts.body?.(), redirect: "manual", decompress: false } as RequestInit);
      } catch (e) {
        if (isTransient(e) && ++attempt < tries) {
          this.onRetry?.(what, attempt, errText(e));
          await sleep(this.backoff * 2 ** (attempt - 1));
          continue;
        }
        throw this.networkError(e, target);
      }
      if (res.status === 401 && !authRetried && !opts.anonymous && sameOrigin) {
        const challenge = pickChallenge(res.headers.get("www-authenticate"));
        await res.body?.cancel().catch(() => {});
        if (challenge && (await this.authenticate(challenge))) {
          authRetried = true;
          continue;
        }
        return new Response(null, { status: 401, statusText: "Unauthorized" });
      }
      if (RETRY_STATUS.has(res.status) && ++attempt < tries) {
        await res.body?.cancel().catch(() => {});
        this.onRetry?.(what, attempt, `HTTP ${res.status}`);
        await sleep(retryAfter(res) ?? this.backoff * 2 ** (attempt - 1));
        continue;
      }
      if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.get("location") && (method === "GET" || method === "HEAD")) {
        if (++redirects > 10) throw new UserError(`${what}: too many redirects`);
        await res.body?.cancel().catch(() => {});
        target = new URL(res.headers.get("location")!, target).toString();
        continue;
      }
      return res;
    }
  }

  /**
   * Docker's order: https first; where plain http is allowed (loopback, --insecure-registry,
   * --tls-verify=false) and https finds no TLS at that address, plain http, if what answers
   * there is a registry speaking plain http. A certificate that is not trusted, a timeout, or a
   * server that speaks TLS but refused the handshake (it wants a client certificate) are never
   * a reason to go to plain http: the request then fails with that error.
   */
  private async chooseScheme(): Promise<void> {
    if (!this.endpoint.httpFallback || !this.endpoint.secure) return;
    const probe = (base: string) => this.fetchTimed(`${base}/v2/`, { method: "GET", redirect: "manual", decompress: false } as RequestInit);
    try {
      const res = await probe(this.endpoint.base);
      await res.body?.cancel().catch(() => {});
      return;
    } catch (e) {
      if (e instanceof UserError) throw e; // certs.d unreadable, a key without its certificate
      if (e instanceof RegistryTimeoutError || isCertificateError(e)) return;
    }
    const http = plainHttp(this.endpoint);
    let res: Response;
    try {
      res = await probe(http.base);
    } catch {
      return; // nothing there either: the request reports the https failure
    }
    const text = res.status === 400 ? await res.text().catch(() => "") : "";
    if (res.status !== 400) await res.body?.cancel().catch(() => {});
    if (/HTTP request to an HTTPS server/i.test(text)) {
      this.handshakeRefused = true;
      return;
    }
    this.endpoint = http;
  }

  private networkError(e: unknown, url: string): UserError {
    if (e instanceof UserError) return e;
    const code = (e as { code?: string })?.code ?? "";
    const reg = this.endpoint.registry;
    const origin = new URL(url).origin;
    const where = `${reg} (${origin})`;
    if (code === "ECONNREFUSED" || code === "ConnectionRefused") {
      return new UserError(
        `cannot connect to registry ${where}: connection refused; is a registry running at that address?` +
          (this.endpoint.secure && !this.endpoint.httpFallback ? ` (minid uses https for ${reg}; pass --insecure-registry ${reg} if it serves plain http)` : ""),
      );
    }
    if (origin.startsWith("https:") && isCertificateError(e)) return new UserError(certificateMessage(reg, origin, e, this.tls));
    if (origin.startsWith("https:") && this.handshakeRefused) {
      let have = false;
      try {
        have = Boolean(tlsFilesFor(reg, this.tls).cert);
      } catch {}
      return new UserError(clientCertMessage(reg, origin, this.tls, have));
    }
    if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "DNSError") {
      return new UserError(`cannot resolve registry host ${new URL(url).hostname}: check the registry name and your DNS/network`);
    }
    if (code === "EPROTO" || /TLS|SSL|CERT|certificate/i.test(code + " " + errText(e))) {
      return new UserError(
        `TLS handshake with registry ${where} failed (${errText(e)}); if it serves plain http, pass --insecure-registry ${reg}; ` +
          `if it requires a client certificate, put client.cert and client.key in ${this.tls.certsDirs.map((d) => `${d}/${reg}`).join(" or ")}`,
      );
    }
    return new UserError(`registry ${where}: ${errText(e)}`);
  }

  /** Obtain credentials for a challenge. False when there is nothing (more) to try. */
  private async authenticate(c: Challenge): Promise<boolean> {
    if (c.scheme === "basic") {
      if (!this.creds) return false;
      const basic = basicAuth(this.creds);
      if (this.auth === basic) return false;
      this.auth = basic;
      return true;
    }
    if (c.scheme !== "bearer") return false;
    const realm = c.params.realm;
    if (!realm) throw new UserError(`registry ${this.endpoint.registry} sent a Bearer challenge without a realm`);
    const scopes = [...new Set([this.scope, ...(c.params.scope ? c.params.scope.split(" ") : [])])].filter(Boolean);
    const key = `${realm} ${c.params.service ?? ""} ${scopes.join(" ")}`;
    const cached = this.tokenCache.get(key);
    const token = cached && `Bearer ${cached}` !== this.auth ? cached : await this.fetchToken(realm, c.params.service, scopes);
    this.tokenCache.set(key, token);
    this.auth = `Bearer ${token}`;
    return true;
  }

  private async fetchToken(realm: string, service: string | undefined, scopes: string[]): Promise<string> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new UserError(`registry ${this.endpoint.registry} sent an invalid token realm "${realm}"`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new UserError(`token realm "${realm}" is not an http(s) URL`);
    if (url.protocol === "http:" && this.endpoint.secure) {
      throw new UserError(`registry ${this.endpoint.registry} asks for credentials over plain http (${realm}); refusing`);
    }
    if (service) url.searchParams.set("service", service);
    for (const s of scopes) if (s) url.searchParams.append("scope", s);
    if (this.creds) url.searchParams.set("account", this.creds.username);
    const headers: Record<string, string> = {};
    if (this.creds) headers.Authorization = basicAuth(this.creds);
    let res: Response | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await this.fetchTimed(url, { headers, redirect: "follow" });
      } catch (e) {
        if (isTransient(e) && attempt < this.maxTries) {
          await sleep(this.backoff * 2 ** (attempt - 1));
          continue;
        }
        throw this.networkError(e, url.toString());
      }
      if (RETRY_STATUS.has(res.status) && attempt < this.maxTries) {
        await res.body?.cancel().catch(() => {});
        await sleep(this.backoff * 2 ** (attempt - 1));
        continue;
      }
      break;
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {});
      throw new RegistryError(
        this.creds
          ? `${this.endpoint.registry}: unauthorized: incorrect username or password`
          : `${this.endpoint.registry}: unauthorized: authentication required (run 'minid login ${this.endpoint.registry}')`,
        401,
        "UNAUTHORIZED",
      );
    }
    if (!res.ok) throw await this.errorFrom(res, `token request to ${url.origin}${url.pathname}`);
    let doc: { token?: string; access_token?: string };
    try {
      doc = (await res.json()) as typeof doc;
    } catch {
      throw new UserError(`token server ${url.origin} did not answer with JSON`);
    }
    const token = doc.token || doc.access_token;
    if (!token) throw new UserError(`token server ${url.origin} sent no token`);
    return token;
  }

  /** Turn an error response into one line: the spec's "CODE: message" when the body has one. */
  async errorFrom(res: Response, what: string): Promise<RegistryError> {
    let code: string | undefined;
    let detail = "";
    try {
      const text = await res.text();
      const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      const e = doc.errors?.[0];
      if (e) {
        code = e.code;
        detail = [e.code?.toLowerCase().replace(/_/g, " "), e.message].filter(Boolean).join(": ");
      }
    } catch {
      /* not JSON */
    }
    if (res.status === 401 && !detail) detail = `unauthorized: authentication required (run 'minid login ${this.endpoint.registry}')`;
    if (!detail) detail = `HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}`;
    return new RegistryError(`${what}: ${detail}`, res.status, code);
  }

  // ---- API ----

  /**
   * Reach the registry (GET /v2/, any answer will do, 401 included): pick https or the plain
   * http fallback and fail here, before any output, on an untrusted certificate or no registry.
   */
  async check(): Promise<void> {
    const res = await this.request("GET", `${this.endpoint.base}/v2/`, { what: `${this.endpoint.registry}`, anonymous: true });
    await res.body?.cancel().catch(() => {});
  }

  /** GET /v2/: with credentials set, this is what `login` checks. */
  async ping(): Promise<void> {
    const res = await this.request("GET", `${this.endpoint.base}/v2/`, { what: `${this.endpoint.registry}` });
    if (res.status === 401) throw new RegistryError(`${this.endpoint.registry}: unauthorized: incorrect username or password`, 401);
    if (!res.ok) throw await this.errorFrom(res, `registry ${this.endpoint.registry}`);
    await res.body?.cancel().catch(() => {});
  }

  /**
   * Fetch a manifest or index by tag or digest and verify it: the sha256 of the bytes must be
   * the digest asked for, and the Docker-Content-Digest header (if sent) must agree.
   */
  async getManifest(reference: string): Promise<{ body: Uint8Array; contentType: string | null; digest: string }> {
    const url = manifestUrl(this.endpoint, this.repository, reference);
    const res = await this.request("GET", url, { headers: { Accept: ACCEPT_MANIFESTS }, what: `manifest ${this.name}:${reference}` });
    if (!res.ok) {
      const err = await this.errorFrom(res, "");
      const detail = err.message.replace(/^: /, "");
      if (res.status === 404 && err.code === "NAME_UNKNOWN") throw new RegistryError(`repository ${this.name} not found: ${detail}`, 404, err.code);
      if (res.status === 404) {
        const sep = reference.startsWith("sha256:") ? "@" : ":";
        throw new RegistryError(`manifest for ${this.name}${sep}${reference} not found: ${detail}`, 404, err.code);
      }
      if (res.status === 401 || res.status === 403) {
        throw new RegistryError(
          `pull access denied for ${this.name}, repository does not exist or may require 'minid login': ${detail}`,
          res.status,
          err.code,
        );
      }
      throw new RegistryError(`manifest ${this.name}:${reference}: ${detail}`, res.status, err.code);
    }
    const len = Number(res.headers.get("content-length") ?? 0);
    if (len > MAX_MANIFEST) throw new UserError(`manifest ${this.name}:${reference} is too large (${len} bytes)`);
    const body = await readLimited(res, MAX_MANIFEST, `manifest ${this.name}:${reference}`);
    const digest = sha256(body);
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw new UserError(`manifest digest mismatch for ${this.name}@${reference}: the registry sent content with digest ${digest}`);
    }
    const header = res.headers.get("docker-content-digest");
    if (header && header.startsWith("sha256:") && header !== digest) {
      throw new UserError(`manifest digest mismatch for ${this.name}:${reference}: header says ${header}, content is ${digest}`);
    }
    return { body, contentType: res.headers.get("content-type"), digest };
  }

  /** Fetch a small blob (a config) whole and verify its digest and size. */
  async getSmallBlob(digest: string, size: number, what: string): Promise<Uint8Array> {
    if (size > 64 << 20) throw new UserError(`${what} ${digest} is too large (${size} bytes)`);
    const stream = this.openBlob(digest, size);
    const parts: Uint8Array[] = [];
    let n = 0;
    for (;;) {
      const c = await stream.read();
      if (!c) break;
      n += c.length;
      if (n > size) throw new UserError(`${what} ${digest}: the registry sent more than the ${size} bytes the manifest announced`);
      parts.push(c);
    }
    const body = Buffer.concat(parts);
    const got = sha256(body);
    if (got !== digest || body.length !== size) {
      throw new UserError(`digest mismatch for ${what} ${digest}: received ${body.length} bytes with digest ${got}`);
    }
    return body;
  }

  /** A resumable reader over a blob (see BlobReader). */
  openBlob(digest: string, size?: number): BlobReader {
    return new BlobReader(this, blobUrl(this.endpoint, this.repository, digest), digest, size, this.maxTries, this.backoff, this.onRetry);
  }

  /** HEAD a blob: true when the registry has it in this repository. */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request("HEAD", blobUrl(this.endpoint, this.repository, digest), { what: `blob ${digest}` });
    await res.body?.cancel().catch(() => {});
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw await this.errorFrom(res, `checking blob ${digest} in ${this.name}`);
  }

  /**
   * Ask the registry to mount a blob from another repository (cross-repository mount): true
   * when it did (201). A registry that cannot answers 202 with an upload session instead,
   * which is cancelled here: the caller uploads the blob itself.
   */
  async mountBlob(digest: string, from: string): Promise<boolean> {
    const what = `mounting blob ${digest} from ${from} into ${this.name}`;
    const url = `${uploadUrl(this.endpoint, this.repository)}?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const res = await this.request("POST", url, { headers: { "Content-Length": "0" }, what });
    await drain(res);
    if (res.status === 201) return true;
    if (res.status === 202) {
      const loc = res.headers.get("location");
      if (loc) {
        const cancel = await this.request("DELETE", new URL(loc, url).toString(), { what, tries: 1 }).catch(() => undefined);
        if (cancel) await drain(cancel);
      }
      return false;
    }
    throw await this.errorFrom(res, what);
  }

  /**
   * Upload a blob monolithically (POST an upload session, then PUT ?digest= with the bytes). With
   * `mountFrom`, first asks the registry to mount it from that repository (201 = done).
   * `body` must return a fresh body each call: a failed PUT restarts the upload session.
   */
  async uploadBlob(digest: string, size: number, body: () => Bun.BodyInit, mountFrom?: string): Promise<"mounted" | "pushed"> {
    const what = `uploading blob ${digest} to ${this.name}`;
    for (let attempt = 1; ; attempt++) {
      let url = uploadUrl(this.endpoint, this.repository);
      if (mountFrom && attempt === 1) url += `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`;
      const start = await this.request("POST", url, { headers: { "Content-Length": "0" }, what });
      await drain(start);
      if (start.status === 201 && mountFrom && attempt === 1) return "mounted";
      if (start.status !== 202) throw await this.errorFrom(start, what);
      const loc = start.headers.get("location");
      if (!loc) throw new UserError(`${what}: the registry sent no upload location`);
      const put = new URL(loc, url);
      put.searchParams.set("digest", digest);
      let res: Response;
      try {
        res = await this.request("PUT", put.toString(), {
          headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
          body,
          what,
          tries: 1,
        });
      } catch (e) {
        const final = e instanceof RegistryTimeoutError ? e.phase === "connect" : e instanceof UserError && /connection refused/.test(e.message);
        if (attempt < this.maxTries && !final) {
          this.onRetry?.(what, attempt, errText(e));
          await sleep(this.backoff * 2 ** (attempt - 1));
          continue;
        }
        throw e;
      }
      if (res.status === 201 || res.status === 204) {
        await drain(res);
        return "pushed";
      }
      if (RETRY_STATUS.has(res.status) && attempt < this.maxTries) {
        await drain(res);
        this.onRetry?.(what, attempt, `HTTP ${res.status}`);
        await sleep(this.backoff * 2 ** (attempt - 1));
        continue;
      }
      throw await this.errorFrom(res, what);
    }
  }

  /** PUT a manifest under a tag (or digest); returns the digest of the bytes sent. */
  async putManifest(reference: string, body: Uint8Array, mediaType: string): Promise<string> {
    const url = manifestUrl(this.endpoint, this.repository, reference);
    const what = `pushing manifest ${this.name}:${reference}`;
    const res = await this.request("PUT", url, { headers: { "Content-Type": mediaType }, body: () => body, what });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await this.errorFrom(res, what);
    await drain(res);
    return sha256(body);
  }
}

/**
 * Reads one blob as a sequence of chunks. If the connection drops mid-way, it asks again with
 * `Range: bytes=<offset>-` and continues (or skips the part already read when the registry
 * ignores Range), up to the client's retry budget. It does not verify the digest: its caller
 * hashes what it consumes.
 */
export class BlobReader {
  offset = 0;
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  private skip = 0;
  private failures = 0;
  private finished = false;
  /** How many times the download was resumed with a Range request (for tests/logging). */
  resumed = 0;

  constructor(
    private client: RegistryClient,
    private url: string,
    readonly digest: string,
    readonly size: number | undefined,
    private maxTries: number,
    private backoff: number,
    private onRetry?: ClientOptions["onRetry"],
  ) {}

  private async open(): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.offset > 0) headers.Range = `bytes=${this.offset}-`;
    const res = await this.client.request("GET", this.url, { headers, what: `blob ${this.digest}` });
    if (res.status === 206 && this.offset > 0) {
      const m = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "");
      if (m && Number(m[1]) === this.offset) {
        this.skip = 0;
        this.resumed++;
      } else {
        await drain(res);
        throw new UserError(`blob ${this.digest}: the registry answered a resume request with an unexpected range`);
      }
    } else if (res.status === 200) {
      this.skip = this.offset; // registry ignored Range: re-read and drop what we have
    } else {
      const err = await this.client.errorFrom(res, `fetching blob ${this.digest} from ${this.client.name}`);
      throw err;
    }
    if (!res.body) throw new UserError(`blob ${this.digest}: empty response from the registry`);
    this.reader = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  }

  /** The next chunk, or null at the end of the blob. */
  async read(): Promise<Uint8Array | null> {
    if (this.finished) return null;
    for (;;) {
      try {
        if (!this.reader) await this.open();
        const { done, value } = await this.reader!.read();
        if (done) {
          if (this.size !== undefined && this.offset < this.size) {
            const e = new Error(`connection closed after ${this.offset} of ${this.size} bytes`) as Error & { code: string };
            e.code = "ECONNRESET";
            throw e;
          }
          this.finished = true;
          return null;
        }
        let chunk = value;
        if (this.skip > 0) {
          if (chunk.length <= this.skip) {
            this.skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(this.skip);
          this.skip = 0;
        }
        this.offset += chunk.length;
        return chunk;
      } catch (e) {
        this.reader?.cancel().catch(() => {});
        this.reader = undefined;
        if (!isTransient(e)) throw e;
        if (++this.failures >= this.maxTries) {
          throw new UserError(`fetching blob ${this.digest} from ${this.client.name}: ${errText(e)} (gave up after ${this.failures} attempts)`);
        }
        this.onRetry?.(`blob ${this.digest}`, this.failures, errText(e));
        await sleep(this.backoff * 2 ** (this.failures - 1));
      }
    }
  }

  cancel(): void {
    this.finished = true;
    this.reader?.cancel().catch(() => {});
    this.reader = undefined;
  }
}

/**
 * `res` with a body that fails with `timeout()` (and aborts the request) when no chunk arrives
 * for `idleMs`. Every reader of the body (text(), arrayBuffer(), getReader()) is covered.
 */
function withIdleLimit(res: Response, ac: AbortController, idleMs: number, timeout: () => Error): Response {
  if (!res.body || [101, 204, 205, 304].includes(res.status)) return res;
  const upstream = res.body.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        // Aborting makes the pending read fail with a generic AbortError: say which limit it was.
        let silent = false;
        const timer = setTimeout(() => {
          silent = true;
          ac.abort();
        }, idleMs);
        try {
          const { done, value } = await upstream.read();
          if (done) ctrl.close();
          else ctrl.enqueue(value);
        } catch (e) {
          throw silent ? timeout() : e;
        } finally {
          clearTimeout(timer);
        }
      },
      cancel(reason) {
        return upstream.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

export function basicAuth(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

function retryAfter(res: Response): number | undefined {
  const v = res.headers.get("retry-after");
  if (!v || !/^\d+$/.test(v)) return undefined;
  return Math.min(Number(v), 10) * 1000;
}

async function drain(res: Response): Promise<void> {
  try {
    await res.arrayBuffer();
  } catch {
    /* ignore */
  }
}

async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > limit) {
      reader.cancel().catch(() => {});
      throw new UserError(`${what} is larger than ${limit} bytes`);
    }
    parts.push(value);
  }
  return Buffer.concat(parts);
}

function errText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/\. For more information, pass `verbose: true`.*$/, "").replace(/^[A-Z_]+: /, "");
}
