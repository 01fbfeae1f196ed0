// Fixtures for registry tests and the pull benchmark: Debian's docker-registry on a free
// loopback port, OCI image layouts written by hand (then copied in with skopeo), and small
// Bun.serve proxies that add token auth or misbehave on purpose.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";

export const REPO_DIR = resolve(import.meta.dir, "..", "..");
export const BUSYBOX_TGZ = join(REPO_DIR, "images", "build", "busybox.tar.gz");

export const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");

export function haveTools(): boolean {
  return ["/usr/bin/docker-registry", "/usr/bin/skopeo"].every((p) => Bun.file(p).size > 0);
}

export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export interface Registry {
  port: number;
  host: string;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Serve https with this certificate (PEM files); `clientCa`: require client certificates it signed. */
  tls?: { cert: string; key: string; ca: string; clientCa?: string };
  /** Keep the registry's access log (one line per request, on its stdout): see `requests()`. */
  accessLog?: boolean;
}

/** docker-registry serving from a temp dir on 127.0.0.1:<free port>, no auth. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry & { requests(): { method: string; path: string; status: number }[] }> {
  const dir = mkdtempSync(join(tmpdir(), "minid-registry-"));
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const cfg = join(dir, "config.yml");
    const tls = opts.tls
      ? ["  tls:", `    certificate: ${opts.tls.cert}`, `    key: ${opts.tls.key}`, ...(opts.tls.clientCa ? ["    clientcas:", `      - ${opts.tls.clientCa}`] : [])]
      : [];
    writeFileSync(
      cfg,
      [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        `    disabled: ${opts.accessLog ? "false" : "true"}`,
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${join(dir, "data")}`,
        "  delete:",
        "    enabled: true",
        "http:",
        `  addr: 127.0.0.1:${port}`,
        ...tls,
        "",
      ].join("\n"),
    );
    const logFile = join(dir, "access.log");
    const proc = Bun.spawn(["/usr/bin/docker-registry", "serve", cfg], { stdout: opts.accessLog ? Bun.file(logFile) : "ignore", stderr: "pipe" });
    const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
    const readyTls = opts.tls
      ? { ca: readFileSync(opts.tls.ca, "utf8"), ...(opts.tls.clientCa ? { cert: readFileSync(opts.tls.cert, "utf8"), key: readFileSync(opts.tls.key, "utf8") } : {}) }
      : undefined;
    let up = false;
    for (let i = 0; i < 100 && proc.exitCode === null; i++) {
      try {
        const r = await fetch(`${url}/v2/`, { tls: readyTls } as RequestInit);
        if (r.status === 200) {
          up = true;
          break;
        }
      } catch {}
      await Bun.sleep(50);
    }
    if (up) {
      return {
        port,
        host: `127.0.0.1:${port}`,
        url,
        dir,
        requests() {
          let text = "";
          try {
            text = readFileSync(logFile, "utf8");
          } catch {}
          return [...text.matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/g)].map((m) => ({ method: m[1]!, path: m[2]!, status: Number(m[3]) }));
        },
        async stop() {
          proc.kill("SIGTERM");
          await Promise.race([proc.exited, Bun.sleep(3000)]);
          if (proc.exitCode === null) proc.kill("SIGKILL");
          await proc.exited;
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    proc.kill("SIGKILL");
    await proc.exited;
    if (tries >= 3) {
      const err = await new Response(proc.stderr).text();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry did not start: ${err}`);
    }
  }
}

// ---- layers and OCI layouts ----

export interface Layer {
  blob: Uint8Array;
  digest: string;
  diffId: string;
  mediaType: string;
}

/** A tar (uncompressed) of `files` written under a temp dir with the tar CLI. */
export function tarOf(files: Record<string, string | { link: string } | { dir: true }>): Uint8Array {
  const d = mkdtempSync(join(tmpdir(), "minid-layer-"));
  try {
    for (const [name, v] of Object.entries(files)) {
      const p = join(d, name);
      mkdirSync(join(p, ".."), { recursive: true });
      if (typeof v === "string") writeFileSync(p, v);
      else if ("link" in v) Bun.spawnSync(["ln", "-s", v.link, p]);
      else mkdirSync(p, { recursive: true });
    }
    const r = Bun.spawnSync(["tar", "--numeric-owner", "--owner=0", "--group=0", "--sort=name", "--mtime=2024-01-01", "-C", d, "-cf", "-", "."]);
    if (r.exitCode !== 0) throw new Error(`tar: ${r.stderr}`);
    return new Uint8Array(r.stdout);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

export function layerFrom(tar: Uint8Array, compression: "gzip" | "zstd" | "none" = "gzip", docker = false): Layer {
  const blob =
    compression === "gzip" ? new Uint8Array(gzipSync(tar, { level: 6 })) : compression === "zstd" ? Bun.zstdCompressSync(tar) : tar;
  const mediaType = docker
    ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
    : compression === "gzip"
      ? "application/vnd.oci.image.layer.v1.tar+gzip"
      : compression === "zstd"
        ? "application/vnd.oci.image.layer.v1.tar+zstd"
        : "application/vnd.oci.image.layer.v1.tar";
  return { blob, digest: sha(blob), diffId: sha(tar), mediaType };
}

/** The built-in busybox rootfs as a gzip layer (the tar.gz as shipped). */
export function busyboxLayer(): Layer {
  const blob = new Uint8Array(readFileSync(BUSYBOX_TGZ));
  return { blob, digest: sha(blob), diffId: sha(gunzipSync(blob)), mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" };
}

export interface ImageSpec {
  layers: Layer[];
  arch?: string;
  os?: string;
  cmd?: string[];
  env?: string[];
}

export class OciLayout {
  readonly dir: string;
  private index: { schemaVersion: 2; manifests: any[] } = { schemaVersion: 2, manifests: [] };
  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(join(tmpdir(), "minid-oci-"));
    mkdirSync(join(this.dir, "blobs", "sha256"), { recursive: true });
    writeFileSync(join(this.dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    this.flush();
  }
  blob(data: Uint8Array | string): { digest: string; size: number } {
    const b = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const digest = sha(b);
    writeFileSync(join(this.dir, "blobs", "sha256", digest.slice(7)), b);
    return { digest, size: b.length };
  }
  /** Write an image manifest (+config, layers); returns its descriptor. Not referenced yet. */
  image(spec: ImageSpec): { mediaType: string; digest: string; size: number; platform: { os: string; architecture: string } } {
    const os = spec.os ?? "linux";
    const architecture = spec.arch ?? "amd64";
    const config = {
      created: "2024-01-01T00:00:00Z",
      architecture,
      os,
      config: { Env: spec.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: spec.cmd ?? ["sh"] },
      rootfs: { type: "layers", diff_ids: spec.layers.map((l) => l.diffId) },
      history: spec.layers.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "test" })),
    };
    const c = this.blob(JSON.stringify(config));
    for (const l of spec.layers) this.blob(l.blob);
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...c },
      layers: spec.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
    };
    const m = this.blob(JSON.stringify(manifest));
    return { mediaType: manifest.mediaType, ...m, platform: { os, architecture } };
  }
  /** Reference an image (or index) under a tag in index.json. */
  tag(tag: string, desc: { mediaType: string; digest: string; size: number }): void {
    this.index.manifests = this.index.manifests.filter((m) => m.annotations?.["org.opencontainers.image.ref.name"] !== tag);
    this.index.manifests.push({
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      annotations: { "org.opencontainers.image.ref.name": tag },
    });
    this.flush();
  }
  /** A multi-platform index over image descriptors; returns its descriptor. */
  multi(images: { mediaType: string; digest: string; size: number; platform: object }[]) {
    const idx = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: images };
    return { mediaType: idx.mediaType, ...this.blob(JSON.stringify(idx)) };
  }
  private flush() {
    writeFileSync(join(this.dir, "index.json"), JSON.stringify(this.index));
  }
  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function skopeo(args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(["skopeo", "--insecure-policy", ...args], { stdout: "pipe", stderr: "pipe", timeout: 120_000 });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** Copy `oci:DIR:TAG` into the registry (`--all` keeps indexes). */
export function pushLayout(layout: OciLayout, tag: string, dest: string, extra: string[] = []): void {
  const r = skopeo(["copy", "--quiet", "--all", "--dest-tls-verify=false", ...extra, `oci:${layout.dir}:${tag}`, `docker://${dest}`]);
  if (r.code !== 0) throw new Error(`skopeo copy to ${dest} failed: ${r.err}`);
}

// ---- proxies ----

export interface Proxy {
  port: number;
  host: string;
  requests: { method: string; path: string; range: string | null; auth: string | null }[];
  stop(): void;
}

/**
 * A proxy in front of `upstream`. `hook` may answer a request itself (return a Response) or
 * let it through (return undefined); `transform` may rewrite an upstream response.
 */
export function startProxy(
  upstream: string,
  hook?: (req: Request, url: URL, n: number) => Response | undefined | Promise<Response | undefined>,
  transform?: (req: Request, url: URL, res: Response) => Response | Promise<Response>,
): Proxy {
  const requests: Proxy["requests"] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      requests.push({ method: req.method, path: url.pathname + url.search, range: req.headers.get("range"), auth: req.headers.get("authorization") });
      const own = await hook?.(req, url, requests.length);
      if (own) return own;
      const headers = new Headers(req.headers);
      headers.delete("host");
      headers.delete("authorization");
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      const res = await fetch(upstream + url.pathname + url.search, {
        method: req.method,
        headers,
        body,
        redirect: "manual",
        decompress: false,
      } as RequestInit);
      const out = new Headers(res.headers);
      const loc = out.get("location");
      if (loc) out.set("location", loc.replace(upstream, `http://127.0.0.1:${server.port}`));
      out.delete("content-encoding");
      const passed = new Response(req.method === "HEAD" ? null : res.body, { status: res.status, headers: out });
      return transform ? transform(req, url, passed) : passed;
    },
  });
  return {
    port: server.port!,
    host: `127.0.0.1:${server.port}`,
    requests,
    stop: () => server.stop(true),
  };
}
