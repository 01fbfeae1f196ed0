// Plain http to a non-loopback registry needs --insecure-registry.
import { describe, expect } from "bun:test";
import { requires } from "../helpers/requires.ts";
import { T, minid, useRegistry, type Fixture } from "../helpers/registry-suite.ts";
import { freePort } from "./registry-fixtures.ts";

let reg: Fixture["reg"];
const { newRoot } = useRegistry((f) => ({ reg } = f));

describe("insecure registries", () => {
  // The registry is reached by a server on a documentation address of a veth this test makes
  // (and removes): not loopback, so no plain-http allowance, and never off this host.
  requires("root", "ip", "docker-registry", "skopeo")("a non-loopback registry needs --insecure-registry (or MINID_INSECURE_REGISTRIES) for plain http", async () => {
    const ip = "198.51.100.78";
    const dev = `mndins${process.pid % 10000}`;
    expect(Bun.spawnSync(["sh", "-c", `ip link add ${dev} type veth peer name ${dev}p && ip addr add ${ip}/32 dev ${dev} && ip link set ${dev} up && ip link set ${dev}p up`]).exitCode).toBe(0);
    try {
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
    } finally {
      Bun.spawnSync(["ip", "link", "del", dev]);
    }
  }, T);
});
