// nf_tables set elements over nfnetlink: the bytes minid sends, checked against what nft
// itself puts in the kernel (`nft --debug=netlink list map` of `tcp . 8080 : 172.17.0.2 . 80`
// prints key 00000006 0000901f, data 020011ac 00005000 and the comment's user data). No root,
// no socket: test/integration/ports.test.ts drives the live socket.
import { describe, expect, test } from "bun:test";
import { be16, concat, decodeElements, encodeBatch, u8, NFPROTO_IPV4 } from "../../src/linux/nftables.ts";
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL } from "../../src/linux/netlink.ts";
import { ipv4Bytes } from "../../src/util/ipv4.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("nftables elements", () => {
  test("a concatenation puts each field in its own 4-byte slot, network order, as nft does", () => {
    expect(hex(concat(u8(6), be16(8080)))).toBe("06000000" + "1f900000");
    expect(hex(concat(ipv4Bytes("172.17.0.2"), be16(80)))).toBe("ac110002" + "00500000");
    expect(hex(concat(ipv4Bytes("127.0.0.1"), u8(17), be16(53)))).toBe("7f000001" + "11000000" + "00350000");
  });

  test("a transaction is framed by batch-begin and batch-end for the nftables subsystem; adds are exclusive and acked", () => {
    const el = { key: concat(u8(6), be16(8080)), data: concat(ipv4Bytes("172.17.0.2"), be16(80)), comment: "minid:ports:abc" };
    const msgs = encodeBatch(NFPROTO_IPV4, [
      { op: "add", table: "minid", set: "pub_any", elements: [el] },
      { op: "delete", table: "minid", set: "pub_addr", elements: [] }, // empty: no message
      { op: "delete", table: "minid", set: "pub_addr", elements: [{ key: concat(ipv4Bytes("127.0.0.1"), u8(6), be16(1)) }] },
    ]);
    expect(msgs.map((m) => m.type.toString(16))).toEqual(["10", "a0c", "a0e", "11"]);
    expect(hex(msgs[0]!.parts[0]!)).toBe("0000000a"); // AF_UNSPEC, v0, res_id NFNL_SUBSYS_NFTABLES (big-endian)
    expect(msgs[0]!.flags & NLM_F_ACK).toBe(0);
    expect(msgs[1]!.flags).toBe(NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    expect(msgs[2]!.flags).toBe(NLM_F_ACK);
    expect(hex(msgs[1]!.parts[0]!)).toBe("02000000"); // NFPROTO_IPV4
    expect(encodeBatch(NFPROTO_IPV4, [{ op: "add", table: "t", set: "s", elements: [] }])).toEqual([]);
  });

  test("what is sent decodes back (the kernel's dump has the same shape): key, value and comment", () => {
    const el = { key: concat(u8(17), be16(53)), data: concat(ipv4Bytes("10.0.0.9"), be16(5353)), comment: "minid:ports:x" };
    const [, add] = encodeBatch(NFPROTO_IPV4, [{ op: "add", table: "minid", set: "pub_any", elements: [el, { ...el, key: concat(u8(6), be16(1)), comment: undefined }] }]);
    const payload = Buffer.concat(add!.parts.map((p) => Buffer.from(p)));
    const back = decodeElements(new Uint8Array(payload));
    expect(back.map((e) => [hex(e.key), hex(e.data!), e.comment])).toEqual([
      ["11000000" + "00350000", "0a000009" + "14e90000", "minid:ports:x"],
      ["06000000" + "00010000", "0a000009" + "14e90000", undefined],
    ]);
    // the comment is libnftnl's user data: type 0, length with the NUL, the string
    expect(hex(payload).includes("000e" + Buffer.from("minid:ports:x\0").toString("hex"))).toBe(true);
    // a range (an interval set of a concatenation) carries its last key too
    const range = { key: concat(ipv4Bytes("172.17.0.0"), ipv4Bytes("172.17.0.0")), keyEnd: concat(ipv4Bytes("172.17.255.255"), ipv4Bytes("172.17.255.255")) };
    const [, r] = encodeBatch(NFPROTO_IPV4, [{ op: "add", table: "minid", set: "pub_hairpin", exclusive: false, elements: [range] }]);
    expect(r!.flags).toBe(NLM_F_ACK | NLM_F_CREATE);
    expect(decodeElements(new Uint8Array(Buffer.concat(r!.parts.map((p) => Buffer.from(p)))))).toEqual([range]);
    // a delete carries the key alone
    const [, del] = encodeBatch(NFPROTO_IPV4, [{ op: "delete", table: "minid", set: "pub_any", elements: [el] }]);
    expect(decodeElements(new Uint8Array(Buffer.concat(del!.parts.map((p) => Buffer.from(p)))))).toEqual([{ key: el.key }]);
  });
});
