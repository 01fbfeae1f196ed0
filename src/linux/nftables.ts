// nf_tables set elements over nfnetlink (socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER)),
// never an `nft` process: a spawn of nft costs 6–35 ms here (it loads its libraries and the
// whole ruleset first), one transaction on the socket well under a millisecond. Tables,
// chains, sets and rules are still made by nft (once, when a network is set up); what
// changes per container is only elements of existing sets and maps, and that is this module.
//
// Wire format (<linux/netfilter/nfnetlink.h>, <linux/netfilter/nf_tables.h>): every message
// is nlmsghdr + nfgenmsg (family, version 0, resource id big-endian) + attributes; changes
// travel in a batch framed by NFNL_MSG_BATCH_BEGIN/END that the kernel applies as one
// transaction (all or nothing) and acks message by message. A key or value of a
// concatenated type puts each field in its own 4-byte-aligned slot (concat()), as nft does.
// Element comments are libnftnl's user data TLV (type 0, length with the NUL, the string).
import { Netlink, NetlinkError, NETLINK_NETFILTER, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, attr, attrStr, concat as concatBytes, parseAttrList } from "./netlink.ts";

const NFNL_SUBSYS_NFTABLES = 10;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_GETSETELEM = 13;
const NFT_MSG_DELSETELEM = 14;
const msgType = (m: number) => (NFNL_SUBSYS_NFTABLES << 8) | m;

const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_SET_ELEM_USERDATA = 6;
const NFTA_SET_ELEM_KEY_END = 10;
const NFTA_DATA_VALUE = 1;
const NFTNL_UDATA_SET_ELEM_COMMENT = 0;
const NLA_F_NESTED = 0x8000;

/** Address families of nf_tables (NFPROTO_*): `table ip` is 2. */
export const NFPROTO_IPV4 = 2;

const ENOENT = 2;

export interface SetElement {
  key: Uint8Array;
  /** The range's last key, in a set with `flags interval` of a concatenation. */
  keyEnd?: Uint8Array;
  /** A map's value (absent for a plain set). */
  data?: Uint8Array;
  comment?: string;
}

export interface ElementChange {
  op: "add" | "delete";
  table: string;
  set: string;
  elements: SetElement[];
  /** add: an element whose key is there already is an error (EEXIST); false: the same one is a no-op. */
  exclusive?: boolean;
}

// ---- encoding (pure) ----

const enc = new TextEncoder();
const dec = new TextDecoder();

function nfgenmsg(family: number, resId = 0): Uint8Array {
  return new Uint8Array([family, 0, (resId >> 8) & 0xff, resId & 0xff]);
}

const str = attrStr;
const nest = (type: number, ...children: Uint8Array[]) => attr(type | NLA_F_NESTED, join(children));
const join = concatBytes;

/** The fields of a concatenation, each in a 4-byte slot (zero-padded), as nf_tables keys them. */
export function concat(...fields: Uint8Array[]): Uint8Array {
  return join(fields.map((f) => {
    const slot = new Uint8Array((f.byteLength + 3) & ~3);
    slot.set(f);
    return slot;
  }));
}

/** A 16-bit field in network order (a port). */
export const be16 = (n: number) => new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
/** An 8-bit field (a protocol number). */
export const u8 = (n: number) => new Uint8Array([n & 0xff]);
/** An interface name as nf_tables' ifname type holds it: IFNAMSIZ bytes, zero-padded. */
export function ifname(name: string): Uint8Array {
  const b = new Uint8Array(16);
  const s = enc.encode(name);
  if (s.byteLength > 15) throw new Error(`nftables: interface name too long: ${name}`);
  b.set(s);
  return b;
}

function commentData(comment: string): Uint8Array {
  const s = enc.encode(comment + "\0");
  if (s.byteLength > 255) throw new Error(`nftables: comment too long: ${comment}`);
  return join([new Uint8Array([NFTNL_UDATA_SET_ELEM_COMMENT, s.byteLength]), s]);
}

function commentOf(udata: Uint8Array): string | undefined {
  for (let off = 0; off + 2 <= udata.byteLength; off += 2 + udata[off + 1]!) {
    if (udata[off] === NFTNL_UDATA_SET_ELEM_COMMENT) {
      const v = udata.subarray(off + 2, off + 2 + udata[off + 1]!);
      return dec.decode(v[v.byteLength - 1] === 0 ? v.subarray(0, -1) : v);
    }
  }
  return undefined;
}

function elementAttr(e: SetElement, withData: boolean): Uint8Array {
  return nest(
    NFTA_LIST_ELEM,
    nest(NFTA_SET_ELEM_KEY, attr(NFTA_DATA_VALUE, e.key)),
    ...(e.keyEnd ? [nest(NFTA_SET_ELEM_KEY_END, attr(NFTA_DATA_VALUE, e.keyEnd))] : []),
    ...(withData && e.data ? [nest(NFTA_SET_ELEM_DATA, attr(NFTA_DATA_VALUE, e.data))] : []),
    ...(withData && e.comment !== undefined ? [attr(NFTA_SET_ELEM_USERDATA, commentData(e.comment))] : []),
  );
}

/** The messages of one transaction (batch-begin, one message per change, batch-end). */
export function encodeBatch(family: number, changes: ElementChange[]): { type: number; flags: number; what?: string; parts: Uint8Array[] }[] {
  const body = changes.filter((c) => c.elements.length).map((c) => ({
    type: msgType(c.op === "add" ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM),
    // EXCL (the default): a key that is there already is an error, never silently kept.
    flags: NLM_F_ACK | (c.op === "add" ? NLM_F_CREATE | (c.exclusive === false ? 0 : NLM_F_EXCL) : 0),
    what: `nftables: cannot ${c.op === "add" ? "add to" : "delete from"} set ${c.table} ${c.set}`,
    parts: [
      nfgenmsg(family),
      str(NFTA_SET_ELEM_LIST_TABLE, c.table),
      str(NFTA_SET_ELEM_LIST_SET, c.set),
      nest(NFTA_SET_ELEM_LIST_ELEMENTS, ...c.elements.map((e) => elementAttr(e, c.op === "add"))),
    ],
  }));
  if (!body.length) return [];
  const frame = (type: number) => ({ type, flags: 0, parts: [nfgenmsg(0, NFNL_SUBSYS_NFTABLES)] });
  return [frame(NFNL_MSG_BATCH_BEGIN), ...body, frame(NFNL_MSG_BATCH_END)];
}

/** The elements in one NFT_MSG_NEWSETELEM message of a dump (its payload after nlmsghdr). */
export function decodeElements(payload: Uint8Array): SetElement[] {
  const out: SetElement[] = [];
  for (const [type, list] of parseAttrList(payload, 4)) {
    if (type !== NFTA_SET_ELEM_LIST_ELEMENTS) continue;
    for (const [t, el] of parseAttrList(list)) {
      if (t !== NFTA_LIST_ELEM) continue;
      const e: SetElement = { key: new Uint8Array() };
      for (const [a, v] of parseAttrList(el)) {
        const value = () => parseAttrList(v).find(([x]) => x === NFTA_DATA_VALUE)?.[1].slice() ?? new Uint8Array();
        if (a === NFTA_SET_ELEM_KEY) e.key = value();
        else if (a === NFTA_SET_ELEM_KEY_END) e.keyEnd = value();
        else if (a === NFTA_SET_ELEM_DATA) e.data = value();
        else if (a === NFTA_SET_ELEM_USERDATA) e.comment = commentOf(v);
      }
      out.push(e);
    }
  }
  return out;
}

// ---- the socket ----

export class Nftables {
  private constructor(
    private readonly nl: Netlink,
    readonly family: number,
  ) {}

  /** A socket in the calling thread's network namespace, for tables of `family`. */
  static open(family = NFPROTO_IPV4): Nftables {
    return new Nftables(Netlink.open(NETLINK_NETFILTER), family);
  }

  close(): void {
    this.nl.close();
  }

  /** Every element of a set or map; undefined when the table or the set does not exist. */
  elements(table: string, set: string): SetElement[] | undefined {
    try {
      const msgs = this.nl.request(msgType(NFT_MSG_GETSETELEM), NLM_F_DUMP, `nftables: cannot list set ${table} ${set}`, nfgenmsg(this.family), str(NFTA_SET_ELEM_LIST_TABLE, table), str(NFTA_SET_ELEM_LIST_SET, set));
      return msgs.filter((m) => m.type === msgType(NFT_MSG_NEWSETELEM)).flatMap((m) => decodeElements(m.payload));
    } catch (e) {
      if (e instanceof NetlinkError && e.errno === ENOENT) return undefined;
      throw e;
    }
  }

  /** The changes as one transaction: all of them happen or none (the first failure thrown). */
  apply(changes: ElementChange[]): void {
    this.nl.sendAll(encodeBatch(this.family, changes));
  }
}

export { NetlinkError };
