// The rtnetlink encoder and decoder, byte for byte against <linux/rtnetlink.h>'s layout (no
// root, no socket). The live socket is tested against a scratch namespace in
// test/integration/netlink.test.ts.
import { describe, expect, test } from "bun:test";
import {
  attr, attrStr, attrU32, attrNested, nlmsg, ifinfomsg, ifaddrmsg, rtmsg, parseMessages, parseAttrs,
  parseError, parseLink, parseRoute, macBytes, formatMac, RTM_GETLINK, RTM_NEWLINK, RTM_NEWROUTE, NLMSG_ERROR,
  NLM_F_REQUEST, NLM_F_ACK, IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_INFO_KIND, IFLA_ADDRESS, IFF_UP, RTA_GATEWAY, RTA_OIF,
} from "../../src/linux/netlink.ts";
import { parseCidr, parseIPv4, formatCidr, cidrsOverlap, cidrContains, macForIPv4, broadcastOf } from "../../src/util/ipv4.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("netlink encoding", () => {
  test("attributes are length+type headed and padded to 4 bytes", () => {
    expect(hex(attrStr(IFLA_IFNAME, "lo"))).toBe("070003006c6f0000"); // len 7 (4+"lo\0"), padded to 8
    expect(hex(attrU32(IFLA_MASTER, 5))).toBe("08000a0005000000");
    expect(hex(attrNested(IFLA_LINKINFO, attrStr(IFLA_INFO_KIND, "veth")))).toBe("10001200" + "090001007665746800000000");
  });

  test("a whole RTM_GETLINK request by name", () => {
    const m = nlmsg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 7, ifinfomsg(), attrStr(IFLA_IFNAME, "lo"));
    expect(m.byteLength).toBe(16 + 16 + 8);
    expect(hex(m.subarray(0, 16))).toBe("28000000" + "1200" + "0500" + "07000000" + "00000000");
    expect(hex(m.subarray(16, 32))).toBe("00".repeat(16));
  });

  test("fixed headers: ifinfomsg flags/change, ifaddrmsg, rtmsg", () => {
    expect(hex(ifinfomsg({ index: 3, flags: IFF_UP, change: IFF_UP }))).toBe("00000000" + "03000000" + "01000000" + "01000000");
    expect(hex(ifaddrmsg({ prefixLen: 16, index: 2 }))).toBe("02100000" + "02000000");
    expect(hex(rtmsg({ dstLen: 0 }))).toBe("02000000" + "fe030001" + "00000000");
  });

  test("messages and attributes parse back, several per buffer", () => {
    const a = nlmsg(RTM_NEWLINK, 2, 9, ifinfomsg({ index: 4, flags: IFF_UP }), attrStr(IFLA_IFNAME, "minid0"), attr(IFLA_ADDRESS, macBytes("02:42:ac:11:00:01")),
      attrNested(IFLA_LINKINFO, attrStr(IFLA_INFO_KIND, "bridge")), attrU32(IFLA_MASTER, 0));
    const b = nlmsg(RTM_NEWROUTE, 2, 9, rtmsg({ dstLen: 0 }), attr(RTA_GATEWAY, new Uint8Array([172, 17, 0, 1])), attrU32(RTA_OIF, 2));
    const buf = new Uint8Array(a.byteLength + b.byteLength);
    buf.set(a);
    buf.set(b, a.byteLength);
    const [ma, mb] = parseMessages(buf);
    expect(parseLink(ma!)).toMatchObject({ index: 4, name: "minid0", up: true, mac: "02:42:ac:11:00:01", kind: "bridge", master: 0 });
    expect(parseRoute(mb!)).toMatchObject({ dst: "0.0.0.0", dstLen: 0, gateway: "172.17.0.1", oif: 2, table: 254 });
    expect(parseAttrs(attrStr(IFLA_IFNAME, "x")).get(IFLA_IFNAME)).toEqual(new Uint8Array([0x78, 0]));
  });

  test("an error ack gives the errno and the kernel's extended message", () => {
    const err = new Uint8Array(4 + 16);
    new DataView(err.buffer).setInt32(0, -17, true);
    const tlv = attrStr(1, "Nexthop has invalid gateway");
    const body = new Uint8Array(err.byteLength + tlv.byteLength);
    body.set(err);
    body.set(tlv, err.byteLength);
    const [m] = parseMessages(nlmsg(NLMSG_ERROR, 0x100 | 0x200, 1, body));
    expect(parseError(m!)).toEqual({ errno: 17, message: "Nexthop has invalid gateway" });
    const ack = new Uint8Array(20);
    expect(parseError(parseMessages(nlmsg(NLMSG_ERROR, 0x100, 1, ack))[0]!)).toEqual({ errno: 0, message: undefined });
  });

  test("MAC addresses", () => {
    expect(formatMac(macBytes("02:42:AC:11:00:02"))).toBe("02:42:ac:11:00:02");
    expect(() => macBytes("02:42:ac:11:00")).toThrow();
  });
});

describe("IPv4 helpers", () => {
  test("addresses and blocks", () => {
    expect(parseIPv4("172.17.0.1")).toBe(0xac110001);
    expect(parseIPv4("256.1.1.1")).toBeUndefined();
    expect(parseIPv4("01.1.1.1")).toBeUndefined();
    expect(parseCidr("172.17.0.0/16")).toEqual({ base: 0xac110000, prefix: 16 });
    expect(parseCidr("172.17.0.1/16")).toBeUndefined();
    expect(parseCidr("172.17.0.1/16", true)).toEqual({ base: 0xac110000, prefix: 16 });
    expect(parseCidr("172.17.0.0/33")).toBeUndefined();
    expect(formatCidr(parseCidr("10.0.0.0/8")!)).toBe("10.0.0.0/8");
    expect(cidrsOverlap(parseCidr("172.16.0.0/12")!, parseCidr("172.17.0.0/16")!)).toBe(true);
    expect(cidrsOverlap(parseCidr("172.18.0.0/16")!, parseCidr("172.17.0.0/16")!)).toBe(false);
    expect(cidrContains(parseCidr("0.0.0.0/0")!, 1)).toBe(true);
    expect(broadcastOf(parseCidr("172.17.0.0/16")!)).toBe(0xac11ffff);
    expect(macForIPv4(0xac110002)).toBe("02:42:ac:11:00:02");
  });
});
