// rtnetlink: links, addresses and routes through socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE),
// never an `ip` process (a spawn costs milliseconds; a request here costs microseconds).
//
// Two layers:
//   - encoding and decoding (pure functions, unit-tested without root): nlmsghdr, the fixed
//     headers (ifinfomsg, ifaddrmsg, rtmsg) and nested attributes, as <linux/rtnetlink.h>
//     lays them out, little-endian, 4-byte aligned;
//   - `Netlink`, one socket bound to the network namespace it was opened in (see netns.ts for
//     opening one inside another namespace). Every change is sent with NLM_F_ACK and waits for
//     its ack; a negative ack becomes a NetlinkError naming what was asked, the errno and the
//     kernel's extended message when it gives one ("File exists (EEXIST)").
//
// Interfaces are named by index (what the kernel keys them by); `linkByName` finds one.
// IPv4 only, as the rest of minid's networking.
import {
  AF_NETLINK, SOCK_RAW, socket, bindSocket, sendTo, recvInto, setsockoptInt, close, strerror, errnoName,
} from "./libc.ts";
import { ipv4Bytes, ipv4FromBytes } from "../util/ipv4.ts";

const NETLINK_ROUTE = 0;
/** nfnetlink (nftables' own protocol; linux/nftables.ts speaks it over this class). */
export const NETLINK_NETFILTER = 12;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
const NLM_F_ACK_TLVS = 0x200; // in an ack: extended TLVs follow
const NLM_F_CAPPED = 0x100; // in an ack: the request was not echoed back
const NLMSGERR_ATTR_MSG = 1;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const IFF_UP = 0x1;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RTN_UNICAST = 1;

const NAMES: Record<number, string> = {
  [RTM_NEWLINK]: "RTM_NEWLINK", [RTM_DELLINK]: "RTM_DELLINK", [RTM_GETLINK]: "RTM_GETLINK",
  [RTM_NEWADDR]: "RTM_NEWADDR", [RTM_DELADDR]: "RTM_DELADDR", [RTM_GETADDR]: "RTM_GETADDR",
  [RTM_NEWROUTE]: "RTM_NEWROUTE", [RTM_DELROUTE]: "RTM_DELROUTE", [RTM_GETROUTE]: "RTM_GETROUTE",
};

// ---- encoding ----

const align = (n: number) => (n + 3) & ~3;

/** The parts one after the other in one new buffer. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** One attribute (struct nlattr + payload, padded to 4 bytes). */
export function attr(type: number, data: Uint8Array): Uint8Array {
  const len = 4 + data.byteLength;
  const out = new Uint8Array(align(len));
  const v = new DataView(out.buffer);
  v.setUint16(0, len, true);
  v.setUint16(2, type, true);
  out.set(data, 4);
  return out;
}

export const attrU32 = (type: number, n: number) => attr(type, u32(n));
/** A string attribute, NUL-terminated as the kernel expects for names. */
export const attrStr = (type: number, s: string) => attr(type, new TextEncoder().encode(s + "\0"));
/** A nested attribute holding `children` (already encoded). */
export const attrNested = (type: number, ...children: Uint8Array[]) => attr(type, concat(children));

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`not a MAC address: ${mac}`);
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(o: { family?: number; type?: number; index?: number; flags?: number; change?: number } = {}): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, o.family ?? AF_UNSPEC);
  v.setUint16(2, o.type ?? 0, true);
  v.setInt32(4, o.index ?? 0, true);
  v.setUint32(8, o.flags ?? 0, true);
  v.setUint32(12, o.change ?? 0, true);
  return b;
}

/** struct ifaddrmsg (8 bytes). */
export function ifaddrmsg(o: { family?: number; prefixLen: number; flags?: number; scope?: number; index: number }): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, o.family ?? AF_INET);
  v.setUint8(1, o.prefixLen);
  v.setUint8(2, o.flags ?? 0);
  v.setUint8(3, o.scope ?? RT_SCOPE_UNIVERSE);
  v.setUint32(4, o.index, true);
  return b;
}

/** struct rtmsg (12 bytes). */
export function rtmsg(o: { family?: number; dstLen?: number; table?: number; protocol?: number; scope?: number; type?: number } = {}): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = o.family ?? AF_INET;
  b[1] = o.dstLen ?? 0;
  b[4] = o.table ?? RT_TABLE_MAIN;
  b[5] = o.protocol ?? RTPROT_BOOT;
  b[6] = o.scope ?? RT_SCOPE_UNIVERSE;
  b[7] = o.type ?? RTN_UNICAST;
  return b;
}

/** A whole message: struct nlmsghdr (16 bytes) followed by the parts (header + attributes). */
export function nlmsg(type: number, flags: number, seq: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concat(parts);
  const out = new Uint8Array(16 + body.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.byteLength, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, 0, true);
  out.set(body, 16);
  return out;
}

// ---- decoding ----

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  /** Everything after the 16-byte header. */
  payload: Uint8Array;
}

export function parseMessages(buf: Uint8Array): NlMessage[] {
  const out: NlMessage[] = [];
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 16 <= buf.byteLength) {
    const len = v.getUint32(off, true);
    if (len < 16 || off + len > buf.byteLength) break;
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      payload: buf.subarray(off + 16, off + len),
    });
    off += align(len);
  }
  return out;
}

/** The attributes in `buf` from `offset` on, by type (the NLA_F_NESTED/BYTEORDER bits masked off). */
export function parseAttrs(buf: Uint8Array, offset = 0): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = offset;
  while (off + 4 <= buf.byteLength) {
    const len = v.getUint16(off, true);
    const type = v.getUint16(off + 2, true) & 0x3fff;
    if (len < 4 || off + len > buf.byteLength) break;
    out.set(type, buf.subarray(off + 4, off + len));
    off += align(len);
  }
  return out;
}

/** The attributes in `buf` from `offset` on, in order, repeats kept (a list of one type). */
export function parseAttrList(buf: Uint8Array, offset = 0): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = offset;
  while (off + 4 <= buf.byteLength) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > buf.byteLength) break;
    out.push([v.getUint16(off + 2, true) & 0x3fff, buf.subarray(off + 4, off + len)]);
    off += align(len);
  }
  return out;
}

const readU32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
const readStr = (b: Uint8Array) => new TextDecoder().decode(b[b.length - 1] === 0 ? b.subarray(0, -1) : b);

/** The errno (positive; 0 for an ack) and the kernel's extended message of an NLMSG_ERROR. */
export function parseError(m: NlMessage): { errno: number; message?: string } {
  const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  const errno = -v.getInt32(0, true) || 0;
  let message: string | undefined;
  if (m.flags & NLM_F_ACK_TLVS) {
    // After the error: the request's header (and its payload unless capped), then TLVs.
    const origLen = m.flags & NLM_F_CAPPED ? 16 : v.getUint32(4, true);
    const attrs = parseAttrs(m.payload, 4 + align(origLen));
    const msg = attrs.get(NLMSGERR_ATTR_MSG);
    if (msg) message = readStr(msg);
  }
  return { errno, message };
}

export interface LinkInfo {
  index: number;
  name: string;
  flags: number;
  up: boolean;
  mtu?: number;
  mac?: string;
  /** Index of the bridge this link is enslaved to. */
  master?: number;
  /** "bridge", "veth", … (IFLA_INFO_KIND) when the link has one. */
  kind?: string;
}

export function parseLink(m: NlMessage): LinkInfo {
  const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  const a = parseAttrs(m.payload, 16);
  const flags = v.getUint32(8, true);
  const info = a.get(IFLA_LINKINFO);
  const kind = info ? parseAttrs(info).get(IFLA_INFO_KIND) : undefined;
  const mac = a.get(IFLA_ADDRESS);
  return {
    index: v.getInt32(4, true),
    name: readStr(a.get(IFLA_IFNAME) ?? new Uint8Array()),
    flags,
    up: (flags & IFF_UP) !== 0,
    mtu: a.has(IFLA_MTU) ? readU32(a.get(IFLA_MTU)!) : undefined,
    mac: mac?.byteLength === 6 ? formatMac(mac) : undefined,
    master: a.has(IFLA_MASTER) ? readU32(a.get(IFLA_MASTER)!) : undefined,
    kind: kind ? readStr(kind) : undefined,
  };
}

export interface AddrInfo {
  index: number;
  address: string;
  prefixLen: number;
  label?: string;
}

export function parseAddr(m: NlMessage): AddrInfo | undefined {
  const p = m.payload;
  if (p[0] !== AF_INET) return undefined;
  const a = parseAttrs(p, 8);
  const addr = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  if (!addr) return undefined;
  return {
    index: new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(4, true),
    address: ipv4FromBytes(addr),
    prefixLen: p[1]!,
    label: a.has(IFA_LABEL) ? readStr(a.get(IFA_LABEL)!) : undefined,
  };
}

export interface RouteInfo {
  /** "0.0.0.0" with dstLen 0 for the default route. */
  dst: string;
  dstLen: number;
  gateway?: string;
  oif?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
}

export function parseRoute(m: NlMessage): RouteInfo | undefined {
  const p = m.payload;
  if (p[0] !== AF_INET) return undefined;
  const a = parseAttrs(p, 12);
  return {
    dst: a.has(RTA_DST) ? ipv4FromBytes(a.get(RTA_DST)!) : "0.0.0.0",
    dstLen: p[1]!,
    gateway: a.has(RTA_GATEWAY) ? ipv4FromBytes(a.get(RTA_GATEWAY)!) : undefined,
    oif: a.has(RTA_OIF) ? readU32(a.get(RTA_OIF)!) : undefined,
    table: a.has(RTA_TABLE) ? readU32(a.get(RTA_TABLE)!) : p[4]!,
    protocol: p[5]!,
    scope: p[6]!,
    type: p[7]!,
  };
}

// ---- the socket ----

export class NetlinkError extends Error {
  constructor(
    readonly what: string,
    readonly errno: number,
    readonly extack?: string,
  ) {
    super(`${what}: ${strerror(errno)} (${errnoName(errno)}${extack ? `: ${extack}` : ""})`);
    this.name = "NetlinkError";
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

export interface VethPeer {
  name: string;
  /** Create the peer directly in this network namespace (an fd from netns.ts). */
  netnsFd?: number;
  mac?: string;
}

export interface LinkChange {
  up?: boolean;
  /** Bridge index to enslave to; 0 releases. */
  master?: number;
  netnsFd?: number;
  name?: string;
  mac?: string;
  mtu?: number;
}

const SOCKADDR_NL = (() => {
  const b = new Uint8Array(12);
  new DataView(b.buffer).setUint16(0, AF_NETLINK, true);
  return b;
})();

export class Netlink {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly buf = new Uint8Array(1 << 16);
  private closed = false;

  private constructor(readonly fd: number) {}

  /** A socket in the calling thread's network namespace (wrap in netns.inNetns for another). */
  static open(protocol = NETLINK_ROUTE): Netlink {
    const fd = socket(AF_NETLINK, SOCK_RAW, protocol);
    try {
      // Extended acks carry the kernel's reason in words; capped acks don't echo the request.
      for (const opt of [NETLINK_EXT_ACK, NETLINK_CAP_ACK]) {
        try {
          setsockoptInt(fd, SOL_NETLINK, opt, 1);
        } catch {}
      }
      bindSocket(fd, SOCKADDR_NL);
    } catch (e) {
      close(fd);
      throw e;
    }
    return new Netlink(fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }

  /**
   * Send one request and collect the replies that carry its sequence number, until its ack
   * (a change), its NLMSG_DONE (a dump) or its error, which throws NetlinkError(`what`).
   */
  request(type: number, flags: number, what: string, ...parts: Uint8Array[]): NlMessage[] {
    const seq = (this.seq = (this.seq + 1) >>> 0);
    sendTo(this.fd, nlmsg(type, NLM_F_REQUEST | flags, seq, ...parts), SOCKADDR_NL);
    const out: NlMessage[] = [];
    for (;;) {
      const n = recvInto(this.fd, this.buf);
      for (const m of parseMessages(this.buf.subarray(0, Math.min(n, this.buf.byteLength)))) {
        if (m.seq !== seq) continue; // a late reply to an earlier request
        if (m.type === NLMSG_ERROR) {
          const { errno, message } = parseError(m);
          if (errno) throw new NetlinkError(what || NAMES[type] || `netlink ${type}`, errno, message);
          return out;
        }
        if (m.type === NLMSG_DONE) return out;
        // The receive buffer is reused by the next recv: keep a copy.
        out.push({ ...m, payload: m.payload.slice() });
        if (!(m.flags & NLM_F_MULTI) && !(flags & NLM_F_ACK)) return out;
      }
    }
  }

  private queued?: { type: number; flags: number; what: string; parts: Uint8Array[] }[];

  private change(type: number, flags: number, what: string, ...parts: Uint8Array[]): void {
    if (this.queued) this.queued.push({ type, flags, what, parts });
    else this.request(type, NLM_F_ACK | flags, what, ...parts);
  }

  /**
   * The changes `fn` asks for (setLink, addAddress, addRoute, …; no lookups) go out in one
   * send and their acks are read together: one system call each way instead of one pair per
   * change. The kernel applies them in order and acks each; the first failure is thrown
   * (the changes after it were still tried).
   */
  batch(fn: () => void): void {
    if (this.queued) throw new Error("netlink: batches do not nest");
    this.queued = [];
    let reqs: NonNullable<typeof this.queued>;
    try {
      fn();
    } finally {
      reqs = this.queued;
      this.queued = undefined;
    }
    this.sendAll(reqs.map((r) => ({ ...r, flags: NLM_F_ACK | r.flags })));
  }

  /**
   * Messages sent as they are, in one send (nfnetlink's batch-begin and batch-end carry no
   * ack); waits for the reply of every one that asks for an ack and throws the first failure.
   */
  sendAll(reqs: { type: number; flags: number; what?: string; parts: Uint8Array[] }[]): void {
    if (!reqs.length) return;
    const seqs = reqs.map(() => (this.seq = (this.seq + 1) >>> 0));
    sendTo(this.fd, concat(reqs.map((r, i) => nlmsg(r.type, NLM_F_REQUEST | r.flags, seqs[i]!, ...r.parts))), SOCKADDR_NL);
    const pending = new Set(seqs.filter((_, i) => reqs[i]!.flags & NLM_F_ACK));
    let failure: NetlinkError | undefined;
    while (pending.size) {
      const n = recvInto(this.fd, this.buf);
      for (const m of parseMessages(this.buf.subarray(0, Math.min(n, this.buf.byteLength)))) {
        const i = seqs.indexOf(m.seq);
        if (m.type !== NLMSG_ERROR || i < 0) continue;
        const { errno, message } = parseError(m);
        const r = reqs[i]!;
        if (errno && !failure) failure = new NetlinkError(r.what || NAMES[r.type] || `netlink ${r.type}`, errno, message);
        // An error on a message that asked for no ack (a batch-begin refused, e.g. EPERM):
        // the kernel dropped the rest unread, so no other reply is coming.
        if (errno && !pending.has(m.seq)) pending.clear();
        pending.delete(m.seq);
      }
    }
    if (failure) throw failure;
  }

  // ---- links ----

  /** A new bridge (down unless `up`). */
  createBridge(name: string, o: { up?: boolean; mac?: string; mtu?: number } = {}): void {
    const up = o.up ? IFF_UP : 0;
    this.change(
      RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, `cannot create bridge ${name}`,
      ifinfomsg({ flags: up, change: up }),
      attrStr(IFLA_IFNAME, name),
      ...(o.mac ? [attr(IFLA_ADDRESS, macBytes(o.mac))] : []),
      ...(o.mtu ? [attrU32(IFLA_MTU, o.mtu)] : []),
      attrNested(IFLA_LINKINFO, attrStr(IFLA_INFO_KIND, "bridge")),
    );
  }

  /**
   * A veth pair: `name` here (enslaved to `master`, up if asked), `peer` in its own namespace
   * when `peer.netnsFd` is given, so the container's end never appears on the host. The peer
   * is created down: the kernel refuses IFF_UP on it here (ENOTCONN, measured on 6.18), so
   * whoever holds a socket in its namespace brings it up.
   */
  createVeth(name: string, peer: VethPeer, o: { master?: number; up?: boolean; mac?: string; mtu?: number } = {}): void {
    const up = o.up ? IFF_UP : 0;
    const peerMsg = [
      ifinfomsg(),
      attrStr(IFLA_IFNAME, peer.name),
      ...(peer.netnsFd !== undefined ? [attrU32(IFLA_NET_NS_FD, peer.netnsFd)] : []),
      ...(peer.mac ? [attr(IFLA_ADDRESS, macBytes(peer.mac))] : []),
      ...(o.mtu ? [attrU32(IFLA_MTU, o.mtu)] : []),
    ];
    this.change(
      RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, `cannot create veth pair ${name}/${peer.name}`,
      ifinfomsg({ flags: up, change: up }),
      attrStr(IFLA_IFNAME, name),
      ...(o.mac ? [attr(IFLA_ADDRESS, macBytes(o.mac))] : []),
      ...(o.mtu ? [attrU32(IFLA_MTU, o.mtu)] : []),
      ...(o.master ? [attrU32(IFLA_MASTER, o.master)] : []),
      attrNested(IFLA_LINKINFO, attrStr(IFLA_INFO_KIND, "veth"), attrNested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, concat(peerMsg)))),
    );
  }

  /** Change an existing link: up/down, master, namespace, name, MAC, MTU (one request). */
  setLink(index: number, c: LinkChange, what = `cannot change link ${index}`): void {
    const flag = c.up === undefined ? 0 : IFF_UP;
    this.change(
      RTM_NEWLINK, 0, what,
      ifinfomsg({ index, flags: c.up ? IFF_UP : 0, change: flag }),
      ...(c.name !== undefined ? [attrStr(IFLA_IFNAME, c.name)] : []),
      ...(c.mac !== undefined ? [attr(IFLA_ADDRESS, macBytes(c.mac))] : []),
      ...(c.mtu !== undefined ? [attrU32(IFLA_MTU, c.mtu)] : []),
      ...(c.master !== undefined ? [attrU32(IFLA_MASTER, c.master)] : []),
      ...(c.netnsFd !== undefined ? [attrU32(IFLA_NET_NS_FD, c.netnsFd)] : []),
    );
  }

  setUp(index: number, up = true): void {
    this.setLink(index, { up }, `cannot set link ${index} ${up ? "up" : "down"}`);
  }
  setMaster(index: number, master: number): void {
    this.setLink(index, { master }, `cannot attach link ${index} to ${master}`);
  }
  moveToNetns(index: number, netnsFd: number): void {
    this.setLink(index, { netnsFd }, `cannot move link ${index} to another namespace`);
  }
  rename(index: number, name: string): void {
    this.setLink(index, { name }, `cannot rename link ${index} to ${name}`);
  }
  setMac(index: number, mac: string): void {
    this.setLink(index, { mac }, `cannot set the MAC address of link ${index}`);
  }

  /** Delete a link by index or name; false when there was none (ENODEV), so cleanup is idempotent. */
  deleteLink(link: number | string): boolean {
    try {
      this.change(
        RTM_DELLINK, 0, `cannot delete link ${link}`,
        ifinfomsg({ index: typeof link === "number" ? link : 0 }),
        ...(typeof link === "string" ? [attrStr(IFLA_IFNAME, link)] : []),
      );
      return true;
    } catch (e) {
      if (e instanceof NetlinkError && e.code === "ENODEV") return false;
      throw e;
    }
  }

  /** The link called `name`, or undefined. */
  linkByName(name: string): LinkInfo | undefined {
    try {
      const [m] = this.request(RTM_GETLINK, 0, `cannot look up link ${name}`, ifinfomsg(), attrStr(IFLA_IFNAME, name));
      return m ? parseLink(m) : undefined;
    } catch (e) {
      if (e instanceof NetlinkError && e.code === "ENODEV") return undefined;
      throw e;
    }
  }

  links(): LinkInfo[] {
    return this.request(RTM_GETLINK, NLM_F_DUMP, "cannot list links", ifinfomsg()).filter((m) => m.type === RTM_NEWLINK).map(parseLink);
  }

  // ---- addresses and routes ----

  /** Add an IPv4 address (with its broadcast) to a link. */
  addAddress(index: number, address: string, prefixLen: number, o: { broadcast?: string; replace?: boolean } = {}): void {
    const ip = ipv4Bytes(address);
    this.change(
      RTM_NEWADDR, NLM_F_CREATE | (o.replace ? NLM_F_REPLACE : NLM_F_EXCL), `cannot add address ${address}/${prefixLen} to link ${index}`,
      ifaddrmsg({ prefixLen, index }),
      attr(IFA_LOCAL, ip),
      attr(IFA_ADDRESS, ip),
      ...(o.broadcast ? [attr(IFA_BROADCAST, ipv4Bytes(o.broadcast))] : []),
    );
  }

  addresses(): AddrInfo[] {
    return this.request(RTM_GETADDR, NLM_F_DUMP, "cannot list addresses", ifaddrmsg({ prefixLen: 0, index: 0 }))
      .filter((m) => m.type === RTM_NEWADDR)
      .map(parseAddr)
      .filter((a): a is AddrInfo => a !== undefined);
  }

  /** Add an IPv4 route: `dst`/`dstLen` (0.0.0.0/0 is the default route) via `gateway` or on `oif`. */
  addRoute(r: { dst?: string; dstLen?: number; gateway?: string; oif?: number; table?: number }): void {
    const dstLen = r.dstLen ?? 0;
    const dst = r.dst ?? "0.0.0.0";
    this.change(
      RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, `cannot add route ${dst}/${dstLen}${r.gateway ? ` via ${r.gateway}` : ""}`,
      rtmsg({ dstLen, table: r.table ?? RT_TABLE_MAIN, scope: r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK }),
      ...(dstLen ? [attr(RTA_DST, ipv4Bytes(dst))] : []),
      ...(r.gateway ? [attr(RTA_GATEWAY, ipv4Bytes(r.gateway))] : []),
      ...(r.oif ? [attrU32(RTA_OIF, r.oif)] : []),
    );
  }

  /** IPv4 routes of every table (filter on `table` for the main one). */
  routes(): RouteInfo[] {
    return this.request(RTM_GETROUTE, NLM_F_DUMP, "cannot list routes", rtmsg({ table: 0, protocol: 0, type: 0 }))
      .filter((m) => m.type === RTM_NEWROUTE)
      .map(parseRoute)
      .filter((r): r is RouteInfo => r !== undefined);
  }
}
