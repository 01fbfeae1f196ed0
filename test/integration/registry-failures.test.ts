// Registry failures (corrupt blobs, 5xx, drops, hostile servers) leave the store as it was.
import { describe, expect, test, beforeAll } from "bun:test";
import { createHash } from "node:crypto";
import { it, enabled, minid, snapshot, scratchLeft, useRegistry, type Res, type Fixture } from "../helpers/registry-suite.ts";
import { startProxy, freePort } from "./registry-fixtures.ts";

let reg: Fixture["reg"], L: Fixture["L"], img1: Fixture["img1"];
const { proxies, newRoot } = useRegistry((f) => ({ reg, L, img1 } = f));

describe("failures leave the store as it was", () => {
  let root: string;
  let before: string[];
  beforeAll(async () => {
    if (!enabled) return;
    root = newRoot("fail");
    const r = await minid(root, ["pull", "-q", `${reg.host}/test/dockerfmt:1`]); // something to keep intact
    expect(r.code).toBe(0);
    before = snapshot(root);
  }, 60_000);
  const unchanged = () => {
    expect(snapshot(root)).toEqual(before);
    expect(scratchLeft(root)).toEqual([]);
  };
  /** Progress lines may come first; the error itself is one line, the last. */
  const failsAfterProgress = (r: Res) => {
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines.filter((l) => l.startsWith("minid: "))).toEqual([lines.at(-1)!]);
    expect(lines.filter((l) => !l.startsWith("minid: ")).every((l) => /^([a-f0-9]{12}: |[\w.-]+: Pulling from )/.test(l))).toBe(true);
  };
  const oneLine = (r: Res) => {
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith("minid: ");
  };

  it("registry down: the address and a hint", async () => {
    const port = await freePort();
    const r = await minid(root, ["pull", `127.0.0.1:${port}/test/busybox:1`]);
    oneLine(r);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(r.stderr).toContain("connection refused");
    expect(r.stderr).toContain("is a registry running");
    unchanged();
  });

  it("unknown tag, unknown repository, bad reference", async () => {
    const t = await minid(root, ["pull", `${reg.host}/test/busybox:nope`]);
    oneLine(t);
    expect(t.stderr).toBe(`minid: manifest for ${reg.host}/test/busybox:nope not found: manifest unknown: manifest unknown\n`);
    const u = await minid(root, ["pull", `${reg.host}/no/such-image`]);
    oneLine(u);
    expect(u.stderr).toContain(`${reg.host}/no/such-image`);
    const b = await minid(root, ["pull", `${reg.host}/Bad/NAME`]);
    oneLine(b);
    expect(b.stderr).toContain("invalid reference format");
    const e = await minid(root, ["pull"]);
    expect(e.code).toBe(1);
    unchanged();
  });

  it("only another platform in the index", async () => {
    const r = await minid(root, ["pull", `${reg.host}/test/busybox:armonly`]);
    oneLine(r);
    expect(r.stderr).toContain("no matching manifest for linux/amd64");
    expect(r.stderr).toContain("linux/arm64");
    unchanged();
  });

  it("a corrupted blob: digest mismatch, nothing kept", async () => {
    const corrupt = startProxy(reg.url, undefined, async (req, url, res) => {
      if (req.method === "GET" && url.pathname.endsWith(`/blobs/${L.whiteout.digest}`)) {
        const b = new Uint8Array(await res.arrayBuffer());
        b[b.length - 12]! ^= 0xff; // inside the deflate stream's tail
        return new Response(b, { status: res.status, headers: res.headers });
      }
      return res;
    });
    proxies.push(corrupt);
    const r = await minid(root, ["pull", `${corrupt.host}/test/busybox:1`]);
    failsAfterProgress(r);
    expect(r.stderr).toContain(`digest mismatch for layer ${L.whiteout.digest}`);
    unchanged();
  });

  it("a corrupted image config: digest mismatch, nothing kept", async () => {
    const corrupt = startProxy(reg.url, undefined, async (req, url, res) => {
      if (req.method === "GET" && url.pathname.endsWith(`/blobs/${img1.config}`)) {
        const text = (await res.text()).replace('"architecture":"amd64"', '"architecture":"AMD64"');
        return new Response(text, { status: res.status, headers: res.headers });
      }
      return res;
    });
    proxies.push(corrupt);
    const r = await minid(root, ["pull", `${corrupt.host}/test/busybox:1`]);
    failsAfterProgress(r);
    expect(r.stderr).toContain(`digest mismatch for image config ${img1.config}`);
    unchanged();
  });

  it("a corrupted manifest is refused", async () => {
    const bad = startProxy(reg.url, undefined, async (req, url, res) => {
      if (req.method === "GET" && url.pathname.includes("/manifests/")) {
        const text = (await res.text()).replace('"schemaVersion":2', '"schemaVersion": 2');
        const h = new Headers(res.headers);
        h.delete("content-length");
        return new Response(text, { status: res.status, headers: h });
      }
      return res;
    });
    proxies.push(bad);
    const r = await minid(root, ["pull", `${bad.host}/test/busybox@${img1.digest}`]);
    oneLine(r);
    expect(r.stderr).toContain("manifest digest mismatch");
    unchanged();
  });

  it("by tag, a manifest whose bytes disagree with its Docker-Content-Digest header is refused", async () => {
    // The header is the registry's word on what the tag names; content that does not hash to
    // it was changed on the way.
    const bad = startProxy(reg.url, undefined, async (req, url, res) => {
      if (req.method === "GET" && url.pathname.endsWith("/manifests/1") && res.status === 200) {
        const text = (await res.text()).replace('"schemaVersion":2', '"schemaVersion": 2');
        const h = new Headers(res.headers);
        h.delete("content-length");
        return new Response(text, { status: res.status, headers: h });
      }
      return res;
    });
    proxies.push(bad);
    const r = await minid(root, ["pull", `${bad.host}/test/busybox:1`]);
    oneLine(r);
    expect(r.stderr).toContain("manifest digest mismatch");
    expect(r.stderr).toContain("header says");
    unchanged();
  });

  it("a substituted manifest with a matching Docker-Content-Digest header is refused by digest", async () => {
    // The proxy serves another (valid) manifest for the digest asked for and recomputes the
    // header, so only the client's own hash of the bytes against the reference can notice.
    const swapped: string[] = [];
    const evil = startProxy(reg.url, undefined, async (req, url, res) => {
      if (url.pathname.includes("/manifests/") && res.status === 200) {
        const doc = JSON.parse(await res.text());
        doc.annotations = { ...(doc.annotations ?? {}), "org.example.swapped": "yes" };
        const text = JSON.stringify(doc);
        const digest = `sha256:${createHash("sha256").update(text).digest("hex")}`;
        swapped.push(digest);
        const h = new Headers(res.headers);
        h.delete("content-length");
        h.set("docker-content-digest", digest);
        return new Response(req.method === "HEAD" ? null : text, { status: 200, headers: h });
      }
      return res;
    });
    proxies.push(evil);
    const r = await minid(root, ["pull", `${evil.host}/test/busybox@${img1.digest}`]);
    oneLine(r);
    expect(swapped.length).toBeGreaterThan(0);
    expect(r.stderr).toContain("manifest digest mismatch");
    expect(r.stderr).toContain(img1.digest);
    unchanged();
  });

  it("a 500 is retried, and a dropped blob download resumes with a Range request", async () => {
    let dropped = false;
    let failed = false;
    const flaky = startProxy(reg.url, async (req, url) => {
      if (!failed && url.pathname.includes("/manifests/")) {
        failed = true;
        return new Response("oops", { status: 500 });
      }
      if (!dropped && req.method === "GET" && url.pathname.endsWith(`/blobs/${L.busybox.digest}`)) {
        dropped = true;
        // Half the blob, then the response ends short of its Content-Length.
        const half = L.busybox.blob.subarray(0, L.busybox.blob.length >> 1);
        let sent = false;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (!sent) {
                sent = true;
                c.enqueue(half);
              } else {
                await Bun.sleep(300); // let the client read the first half
                c.close(); // short of Content-Length: the connection ends early
              }
            },
          }),
          { headers: { "content-length": String(L.busybox.blob.length), "content-type": "application/octet-stream" } },
        );
      }
      return undefined;
    });
    proxies.push(flaky);
    const fresh = newRoot("flaky");
    const r = await minid(fresh, ["pull", `${flaky.host}/test/busybox:1`]);
    expect(r.stderr).toContain("Status: Downloaded newer image");
    expect(r.code).toBe(0);
    // after the plain-http probe of /v2/ (https found no TLS on this loopback port)
    expect(flaky.requests[0]!.path).toBe("/v2/");
    expect(flaky.requests[1]!.path).toContain("/manifests/1");
    expect(flaky.requests[2]!.path).toContain("/manifests/1");
    const ranged = flaky.requests.filter((q) => q.range);
    expect(ranged.length).toBe(1);
    expect(ranged[0]!.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/=(\d+)-/.exec(ranged[0]!.range!)![1])).toBeGreaterThan(0);
    expect(scratchLeft(fresh)).toEqual([]);
    const run = await minid(fresh, ["run", "--rm", `${flaky.host}/test/busybox:1`, "cat", "/etc/hello"]);
    expect(run.stdout).toBe("hi\n");
  });

  it("persistent 5xx gives up after 4 tries with one line", async () => {
    const down = startProxy(reg.url, () => new Response("down", { status: 503 }));
    proxies.push(down);
    const r = await minid(root, ["pull", `${down.host}/test/busybox:1`]);
    oneLine(r);
    expect(r.stderr).toContain("503");
    // the /v2/ probe over plain http, then 4 tries
    expect(down.requests.map((q) => q.path)).toEqual(["/v2/", ...Array(4).fill("/v2/test/busybox/manifests/1")]);
    unchanged();
  });
});
