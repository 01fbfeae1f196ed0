// Plain http to a non-loopback registry needs --insecure-registry.
import { describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { enabled, T, minid, useRegistry, type Fixture } from "../helpers/registry-suite.ts";
import { freePort } from "./registry-fixtures.ts";

let reg: Fixture["reg"];
const { newRoot } = useRegistry((f) => ({ reg } = f));

describe("insecure registries", () => {
  const ip = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
  const itIp = (name: string, fn: () => Promise<void>) => (enabled && ip ? test : test.skip)(name, fn, T);
  itIp("a non-loopback registry needs --insecure-registry (or MINID_INSECURE_REGISTRIES) for plain http", async () => {
    const port = await freePort();
    const server = Bun.serve({
      hostname: ip,
      port,
      fetch: (req) => {
        const u = new URL(req.url);
        return fetch(reg.url + u.pathname + u.search, { method: req.method, headers: req.headers, redirect: "manual" });
      },
    });
    try {
      const root = newRoot("insecure");
      const ref = `${ip}:${port}/test/busybox:1`;
      const r = await minid(root, ["pull", ref]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`--insecure-registry ${ip}:${port}`);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      const ok = await minid(root, ["--insecure-registry", `${ip}:${port}`, "pull", "-q", ref]);
      expect(ok.stderr).toBe("");
      expect(ok.code).toBe(0);
      const env = await minid(newRoot("insecure-env"), ["pull", "-q", ref], { env: { MINID_INSECURE_REGISTRIES: `${ip}` } });
      expect(env.code).toBe(0);
    } finally {
      server.stop(true);
    }
  });
});
