// The rtnetlink socket against the real kernel, inside a scratch network namespace made for
// this test (nothing touches the host's interfaces); `ip` is the oracle for what was made.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { Netlink, NetlinkError } from "../../src/linux/netlink.ts";
import { createNetns, inNetns } from "../../src/linux/netns.ts";
import { close } from "../../src/linux/libc.ts";
import { requires } from "../helpers/requires.ts";

const it = requires("root", "ip");
let outer = -1; // the scratch namespace standing for "the host"
let inner = -1; // a namespace standing for a container
let nl: Netlink;
let cnl: Netlink;

/** `ip ARGS` run inside namespace fd `ns`. */
function ipIn(ns: number, ...args: string[]): string {
  const r = Bun.spawnSync(["nsenter", `--net=/proc/${process.pid}/fd/${ns}`, "ip", ...args]);
  return r.stdout.toString();
}

beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  ({ nsFd: outer, value: nl } = createNetns(() => Netlink.open()));
  ({ nsFd: inner, value: cnl } = createNetns(() => Netlink.open()));
});
afterAll(() => {
  nl?.close();
  cnl?.close();
  for (const fd of [outer, inner]) if (fd >= 0) close(fd);
});

describe("rtnetlink", () => {
  it("bridge, veth with its peer made in another namespace, addresses, default route, traffic", () => {
    nl.createBridge("tbr0", { up: true });
    const br = nl.linkByName("tbr0")!;
    expect(br.kind).toBe("bridge");
    nl.addAddress(br.index, "10.77.0.1", 24, { broadcast: "10.77.0.255" });
    nl.createVeth("tveth0", { name: "eth0", netnsFd: inner, mac: "02:42:0a:4d:00:02" }, { master: br.index, up: true });
    expect(nl.linkByName("eth0")).toBeUndefined(); // the peer never appears here
    const host = nl.linkByName("tveth0")!;
    expect(host.master).toBe(br.index);
    const eth = cnl.linkByName("eth0")!;
    cnl.batch(() => {
      cnl.setUp(1); // lo
      cnl.setUp(eth.index);
      cnl.addAddress(eth.index, "10.77.0.2", 24, { broadcast: "10.77.0.255" });
      cnl.addRoute({ gateway: "10.77.0.1", oif: eth.index });
    });
    expect(ipIn(inner, "-4", "-o", "addr", "show", "eth0")).toContain("inet 10.77.0.2/24 brd 10.77.0.255");
    expect(ipIn(inner, "route")).toContain("default via 10.77.0.1 dev eth0");
    expect(ipIn(inner, "link", "show", "eth0")).toContain("link/ether 02:42:0a:4d:00:02");
    expect(cnl.routes().some((r) => r.dstLen === 0 && r.gateway === "10.77.0.1" && r.table === 254)).toBe(true);
    expect(cnl.addresses()).toContainEqual({ index: eth.index, address: "10.77.0.2", prefixLen: 24, label: "eth0" });
    const ping = Bun.spawnSync(["nsenter", `--net=/proc/${process.pid}/fd/${outer}`, "busybox", "ping", "-c1", "-W2", "10.77.0.2"]);
    expect(ping.exitCode).toBe(0);
  });

  it("rename, MAC, down, release from the bridge, move to a namespace by fd, delete", () => {
    nl.createVeth("ta0", { name: "tb0" });
    const a = nl.linkByName("ta0")!;
    nl.rename(a.index, "ta1");
    nl.setMac(a.index, "02:00:00:00:00:aa");
    nl.setMaster(a.index, nl.linkByName("tbr0")!.index);
    nl.setMaster(a.index, 0);
    nl.setUp(a.index, true);
    nl.setUp(a.index, false);
    const got = nl.linkByName("ta1")!;
    expect(got).toMatchObject({ index: a.index, mac: "02:00:00:00:00:aa", up: false, master: undefined });
    nl.moveToNetns(nl.linkByName("tb0")!.index, inner);
    expect(cnl.linkByName("tb0")?.kind).toBe("veth");
    expect(nl.deleteLink("ta1")).toBe(true);
    expect(cnl.linkByName("tb0")).toBeUndefined(); // the peer goes with it
    expect(nl.deleteLink("ta1")).toBe(false); // idempotent
  });

  it("a batch is one send; its first failure is thrown, the rest still applied", () => {
    const eth = cnl.linkByName("eth0")!;
    expect(() =>
      cnl.batch(() => {
        cnl.addAddress(eth.index, "10.77.0.2", 24); // there already: EEXIST
        cnl.addAddress(eth.index, "10.78.0.2", 24);
      }),
    ).toThrow(/cannot add address 10.77.0.2\/24 .*EEXIST/);
    expect(cnl.addresses().map((a) => a.address)).toContain("10.78.0.2");
  });

  it("errors name the request, the errno and the kernel's reason", () => {
    expect(() => nl.createBridge("tbr0")).toThrow(/cannot create bridge tbr0: File exists \(EEXIST\)/);
    let err: unknown;
    try {
      cnl.addRoute({ gateway: "10.99.0.1" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetlinkError);
    expect((err as NetlinkError).code).toBe("ENETUNREACH");
    expect(String(err)).toContain("via 10.99.0.1");
  });

  it("a namespace's interfaces vanish with its last fd (what makes a crash leave nothing)", () => {
    const { nsFd } = createNetns(() => 0);
    nl.createVeth("tgone0", { name: "eth0", netnsFd: nsFd });
    expect(nl.linkByName("tgone0")).toBeDefined();
    close(nsFd);
    const until = Date.now() + 5000;
    while (nl.linkByName("tgone0") && Date.now() < until) Bun.sleepSync(10);
    expect(nl.linkByName("tgone0")).toBeUndefined();
    const again = inNetns(outer, () => Netlink.open());
    expect(again.linkByName("tbr0")?.kind).toBe("bridge"); // a socket opened in a visit stays there
    again.close();
  });
});
