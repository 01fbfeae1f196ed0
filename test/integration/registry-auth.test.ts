// Token auth and login against a registry behind a Bun.serve proxy.
import { describe, expect, test, beforeAll } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { it, enabled, minid, snapshot, useRegistry, type Fixture } from "../helpers/registry-suite.ts";
import { skopeo, startProxy, type Proxy } from "./registry-fixtures.ts";

let reg: Fixture["reg"], img1: Fixture["img1"];
const { proxies, newRoot } = useRegistry((f) => ({ reg, img1 } = f));

describe("token auth and login", () => {
  let auth: Proxy;
  let tokens: string[];
  let tokenRequests: { auth: string | null; scope: string[]; service: string | null }[];
  beforeAll(() => {
    if (!enabled) return;
    tokens = [];
    tokenRequests = [];
    const realmPort = { port: 0 };
    auth = startProxy(reg.url, (req, url) => {
      if (url.pathname === "/token") {
        const a = req.headers.get("authorization");
        tokenRequests.push({ auth: a, scope: url.searchParams.getAll("scope"), service: url.searchParams.get("service") });
        if (a !== `Basic ${Buffer.from("alice:s3cret").toString("base64")}`) {
          return new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }), { status: 401 });
        }
        const t = `tok-${tokens.length}-${Math.random().toString(36).slice(2)}`;
        tokens.push(t);
        return Response.json({ token: t, expires_in: 300 });
      }
      const h = req.headers.get("authorization");
      if (!h || !tokens.includes(h.replace(/^Bearer /, ""))) {
        const repo = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname)?.[1];
        const scope = repo ? `,scope="repository:${repo}:${req.method === "GET" || req.method === "HEAD" ? "pull" : "pull,push"}"` : "";
        return new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }), {
          status: 401,
          headers: { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${realmPort.port}/token",service="test-registry"${scope}` },
        });
      }
      return undefined;
    });
    realmPort.port = auth.port;
    proxies.push(auth);
  });

  it("without login: one line saying authentication is required", async () => {
    const root = newRoot("noauth");
    const r = await minid(root, ["pull", `${auth.host}/test/busybox:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("unauthorized");
    expect(r.stderr).toContain(`minid login ${auth.host}`);
    expect(snapshot(root).filter((l) => !l.endsWith(" d 700"))).toEqual([]);
  });

  it("login with a wrong password fails and stores nothing", async () => {
    const root = newRoot("badlogin");
    const r = await minid(root, ["login", "-u", "alice", "--password-stdin", auth.host], { input: "wrong\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`minid: ${auth.host}: unauthorized: incorrect username or password\n`);
    expect(existsSync(join(root, "auth.json"))).toBe(false);
  });

  it("login, then pull and push with tokens; logout forgets", async () => {
    const root = newRoot("login");
    const l = await minid(root, ["login", "-u", "alice", "--password-stdin", auth.host], { input: "s3cret\n" });
    expect(l.stdout).toBe("Login Succeeded\n");
    expect(l.code).toBe(0);
    const file = join(root, "auth.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8")).auths[auth.host].auth).toBe(Buffer.from("alice:s3cret").toString("base64"));

    const n = tokenRequests.length;
    const ref = `${auth.host}/test/busybox:1`;
    const p = await minid(root, ["pull", ref]);
    expect(p.stderr).toContain("Status: Downloaded newer image");
    expect(p.code).toBe(0);
    const used = tokenRequests.slice(n);
    expect(used.length).toBeGreaterThan(0);
    expect(used[0]!.scope).toContain("repository:test/busybox:pull");
    expect(used[0]!.service).toBe("test-registry");

    const target = `${auth.host}/authpushed/bb:1`;
    expect((await minid(root, ["tag", ref, target])).code).toBe(0);
    const push = await minid(root, ["push", target]);
    expect(push.stderr).toBe(push.stderr); // for the diff on failure
    expect(push.code).toBe(0);
    expect(tokenRequests.slice(n).some((t) => t.scope.includes("repository:authpushed/bb:pull,push"))).toBe(true);
    expect(JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/authpushed/bb:1`]).out).config.digest).toBe(img1.config);

    const out = await minid(root, ["logout", auth.host]);
    expect(out.stdout).toBe(`Removing login credentials for ${auth.host}\n`);
    expect(JSON.parse(readFileSync(file, "utf8")).auths).toEqual({});
    const again = await minid(root, ["logout", auth.host]);
    expect(again.stdout).toBe(`Not logged in to ${auth.host}\n`);
    expect((await minid(newRoot("after"), ["pull", ref])).code).toBe(1);
  });

  it("a registry that asks for Basic auth gets the login credentials", async () => {
    const basic = startProxy(reg.url, (req) => {
      if (req.headers.get("authorization") !== `Basic ${Buffer.from("bob:pw").toString("base64")}`) {
        return new Response("{}", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="test"' } });
      }
      return undefined;
    });
    proxies.push(basic);
    const root = newRoot("basic");
    expect((await minid(root, ["pull", `${basic.host}/test/busybox:1`])).code).toBe(1);
    const l = await minid(root, ["login", "-u", "bob", "-p", "pw", basic.host]);
    expect(l.code).toBe(0);
    expect(l.stderr).toContain("insecure"); // -p on the command line is discouraged
    const r = await minid(root, ["pull", `${basic.host}/test/busybox:1`]);
    expect(r.code).toBe(0);
  });

  it("login needs credentials when stdin is not a terminal", async () => {
    const r = await minid(newRoot("nologin"), ["login", auth.host]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("non TTY");
  });
});
