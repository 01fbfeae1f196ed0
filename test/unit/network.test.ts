// The root-free parts of networking: /etc/resolv.conf and /etc/hosts as Docker writes them,
// --add-host parsing, IPAM (against a scratch store: lowest free address, --ip checks, release,
// reclaiming an address whose holder is gone), names that must fit IFNAMSIZ, firewall rules.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { resolvConfFor, hostsFor, parseExtraHost } from "../../src/network/etc.ts";
import { NetworkStore, defaultBridgeName } from "../../src/network/store.ts";
import { allocate, release } from "../../src/network/ipam.ts";
import { hostIfName } from "../../src/network/attach.ts";
import { networkRules } from "../../src/network/firewall.ts";
import { UserError } from "../../src/util/errors.ts";

const tmp = mkdtempSync(join(tmpdir(), "minid-unit-net-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("resolv.conf", () => {
  const file = (t: string) => {
    const p = join(tmp, `resolv-${Math.random()}`);
    writeFileSync(p, t);
    return p;
  };
  test("a bridge container loses loopback nameservers; with none left, Google's stand in", () => {
    expect(resolvConfFor("bridge", file("search lan\nnameserver 127.0.0.53\noptions edns0\n"))).toBe("search lan\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    expect(resolvConfFor("bridge", file("nameserver 127.0.0.1\nnameserver 10.0.0.2\n"))).toBe("nameserver 10.0.0.2\n");
    expect(resolvConfFor("bridge", file("nameserver ::1\n"))).toBe("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    expect(resolvConfFor("bridge", file(""))).toBe("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  });
  test("the host's file as it is for --network host", () => {
    expect(resolvConfFor("host", file("nameserver 127.0.0.53\n"))).toBe("nameserver 127.0.0.53\n");
  });
});

describe("/etc/hosts", () => {
  test("localhost lines, --add-host entries, then the container's own addresses with its name", () => {
    const h = hostsFor("web.example.com", [{ name: "db", ip: "10.0.0.5" }], ["172.17.0.2"]);
    expect(h.startsWith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")).toBe(true);
    expect(h.endsWith("10.0.0.5\tdb\n172.17.0.2\tweb.example.com web\n")).toBe(true);
    expect(hostsFor("abc", [], []).endsWith("127.0.1.1\tabc\n")).toBe(true);
  });
  test("--add-host NAME:IP, NAME=IP, host-gateway, IPv6; garbage refused", () => {
    expect(parseExtraHost("db:10.0.0.5")).toEqual({ name: "db", ip: "10.0.0.5" });
    expect(parseExtraHost("db=10.0.0.5")).toEqual({ name: "db", ip: "10.0.0.5" });
    expect(parseExtraHost("gw:host-gateway")).toEqual({ name: "gw", ip: "host-gateway" });
    expect(parseExtraHost("v6:[::1]")).toEqual({ name: "v6", ip: "::1" });
    for (const bad of ["db", "db:", ":1.2.3.4", "db:nonsense", "db:1.2.3.400"]) expect(parseExtraHost(bad)).toBeUndefined();
  });
});

describe("IPAM", () => {
  const root = join(tmp, "root");
  const store = new NetworkStore(root);
  const net = store.locked(() =>
    store.create({ name: "n", driver: "bridge", internal: false, labels: {}, options: {}, subnet: "10.9.0.0/29", gateway: "10.9.0.1", bridge: "x" }),
  );
  const c = (n: number) => String(n).padStart(64, "a");
  test("lowest free address above the gateway, one per container, given back on release", () => {
    expect(allocate(store, net, c(1))).toEqual({ address: "10.9.0.2", prefixLen: 29, gateway: "10.9.0.1" });
    expect(allocate(store, net, c(2)).address).toBe("10.9.0.3");
    expect(allocate(store, net, c(1)).address).toBe("10.9.0.2"); // its own again, not a second one
    release(store, c(1));
    expect(store.allocations(net.id)).toEqual({ "10.9.0.3": c(2) });
    expect(allocate(store, net, c(3)).address).toBe("10.9.0.2");
  });
  test("--ip: inside the subnet, not the gateway/network/broadcast, not taken", () => {
    expect(allocate(store, net, c(4), "10.9.0.6").address).toBe("10.9.0.6");
    const err = (ip: string) => {
      try {
        allocate(store, net, c(5), ip);
      } catch (e) {
        expect(e).toBeInstanceOf(UserError);
        expect((e as UserError).exitCode).toBe(125);
        return (e as Error).message;
      }
      return "";
    };
    expect(err("10.9.1.6")).toContain("not in the subnet 10.9.0.0/29");
    expect(err("10.9.0.1")).toContain("gateway");
    expect(err("10.9.0.7")).toContain("broadcast");
    // taken by a container that no longer exists: free (a live holder: network.test.ts)
    expect(err("10.9.0.6")).toBe("");
    expect(store.allocations(net.id)["10.9.0.6"]).toBe(c(5));
  });
  test("a full pool reclaims addresses whose containers no longer run (no record here: gone)", () => {
    for (let i = 10; i < 12; i++) allocate(store, net, c(i));
    expect(Object.keys(store.allocations(net.id))).toHaveLength(5);
    // every holder is a container without a record: the pool is full, so they are reclaimed
    expect(allocate(store, net, c(20)).address).toBe("10.9.0.2");
    expect(store.allocations(net.id)).toEqual({ "10.9.0.2": c(20) });
  });
});

describe("names and rules", () => {
  test("interface names fit IFNAMSIZ (15 bytes)", () => {
    expect(hostIfName("f".repeat(64), 35)).toHaveLength(15);
    expect(defaultBridgeName("/var/lib/minid", "/var/lib/minid")).toBe("minid0");
    expect(defaultBridgeName("/tmp/x", "/var/lib/minid")).toMatch(/^minid[0-9a-f]{8}$/);
    expect(defaultBridgeName("/tmp/x", "/var/lib/minid")).not.toBe(defaultBridgeName("/tmp/y", "/var/lib/minid"));
  });
  test("one masquerade rule per network; internal ones drop what crosses the bridge instead", () => {
    const r = networkRules("br0", "10.1.0.0/16", false);
    expect(r.filter((x) => x.hook === "postrouting")).toEqual([
      { hook: "postrouting", nft: 'ip saddr 10.1.0.0/16 oifname != "br0" masquerade', iptables: ["-s", "10.1.0.0/16", "!", "-o", "br0", "-j", "MASQUERADE"] },
    ]);
    const i = networkRules("br0", "10.1.0.0/16", true);
    expect(i.some((x) => x.hook === "postrouting")).toBe(false);
    expect(i.map((x) => x.nft)).toEqual(['iifname "br0" oifname != "br0" drop', 'oifname "br0" iifname != "br0" drop']);
  });
});
