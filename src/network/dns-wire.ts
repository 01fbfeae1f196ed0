// The DNS wire format (RFC 1035), as much as the embedded resolver needs: read a query's
// header and question, write an answer (A, PTR), an empty answer (AAAA and other types of a
// name we own), NXDOMAIN, SERVFAIL, FORMERR. Everything read comes from a container and is
// checked: bounds, label lengths, compression loops. Pure: no sockets.

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface Question {
  /** Lower-case, without the trailing dot ("" for the root). */
  name: string;
  type: number;
  class: number;
}

export interface Query {
  id: number;
  /** The raw flags word (opcode, RD...). */
  flags: number;
  opcode: number;
  rd: boolean;
  qr: boolean;
  question: Question;
  /** Offset just past the question (where an EDNS OPT record may follow). */
  end: number;
}

export class DnsFormatError extends Error {}

/** A (possibly compressed) name at `off`; returns the name and the offset after it in place. */
export function readName(buf: Uint8Array, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let pos = off;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError("name runs past the message");
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError("truncated pointer");
      if (++jumps > 32) throw new DnsFormatError("compression loop");
      if (next < 0) next = pos + 2;
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= pos) throw new DnsFormatError("forward compression pointer");
      pos = target;
      continue;
    }
    if (len & 0xc0) throw new DnsFormatError("bad label type");
    pos++;
    if (len === 0) break;
    if (pos + len > buf.length) throw new DnsFormatError("label runs past the message");
    total += len + 1;
    if (total > 255) throw new DnsFormatError("name longer than 255 bytes");
    let label = "";
    for (let i = 0; i < len; i++) {
      const c = buf[pos + i]!;
      // Labels are bytes: kept one char per byte, ASCII letters folded to lower case.
      label += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : String.fromCharCode(c);
    }
    labels.push(label);
    pos += len;
  }
  return { name: labels.join("."), next: next < 0 ? pos : next };
}

/** Header and first question of a message; a DnsFormatError when it is not a query we can read. */
export function parseQuery(buf: Uint8Array): Query {
  if (buf.length < 12) throw new DnsFormatError("shorter than a header");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const id = dv.getUint16(0);
  const flags = dv.getUint16(2);
  const qdcount = dv.getUint16(4);
  if (qdcount !== 1) throw new DnsFormatError(`${qdcount} questions`);
  const { name, next } = readName(buf, 12);
  if (next + 4 > buf.length) throw new DnsFormatError("truncated question");
  return {
    id,
    flags,
    opcode: (flags >> 11) & 0xf,
    rd: Boolean(flags & 0x0100),
    qr: Boolean(flags & 0x8000),
    question: { name, type: dv.getUint16(next), class: dv.getUint16(next + 2) },
    end: next + 4,
  };
}

/** A name in wire form (no compression); labels longer than 63 bytes are refused. */
export function encodeName(name: string): Uint8Array {
  const parts = name === "" ? [] : name.replace(/\.$/, "").split(".");
  const out: number[] = [];
  for (const p of parts) {
    const b = Buffer.from(p, "latin1");
    if (b.length === 0 || b.length > 63) throw new DnsFormatError(`bad label in ${name}`);
    out.push(b.length, ...b);
  }
  out.push(0);
  if (out.length > 255) throw new DnsFormatError("name too long");
  return Uint8Array.from(out);
}

export interface Answer {
  type: number;
  ttl: number;
  /** A: "a.b.c.d"; PTR: a name. */
  data: string;
}

function rdata(a: Answer): Uint8Array {
  if (a.type === TYPE.A) return Uint8Array.from(a.data.split(".").map(Number));
  if (a.type === TYPE.PTR || a.type === TYPE.CNAME) return encodeName(a.data);
  throw new Error(`cannot encode type ${a.type}`);
}

/**
 * The response to `q`: its id and question, QR set, RD copied, RA set (we recurse through
 * the host's resolvers), AA for names we own, the answers in order (the owner name as a
 * pointer to the question).
 */
export function buildResponse(q: Query, rcode: number, answers: Answer[] = [], authoritative = answers.length > 0 || rcode === RCODE.NXDOMAIN): Uint8Array {
  const qname = encodeName(q.question.name);
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(12);
  const dv = new DataView(header.buffer);
  dv.setUint16(0, q.id);
  let flags = 0x8000 | (q.opcode << 11) | (q.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf);
  if (authoritative) flags |= 0x0400;
  dv.setUint16(2, flags);
  dv.setUint16(4, 1);
  dv.setUint16(6, answers.length);
  parts.push(header, qname);
  const qtail = new Uint8Array(4);
  new DataView(qtail.buffer).setUint16(0, q.question.type);
  new DataView(qtail.buffer).setUint16(2, q.question.class);
  parts.push(qtail);
  for (const a of answers) {
    const rd = rdata(a);
    const rr = new Uint8Array(12 + rd.length);
    const v = new DataView(rr.buffer);
    v.setUint16(0, 0xc00c); // the question's name
    v.setUint16(2, a.type);
    v.setUint16(4, CLASS_IN);
    v.setUint32(6, a.ttl);
    v.setUint16(10, rd.length);
    rr.set(rd, 12);
    parts.push(rr);
  }
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A FORMERR for a message too broken to take a question from (only its id is echoed). */
export function formErr(buf: Uint8Array): Uint8Array | undefined {
  if (buf.length < 2) return undefined;
  const out = new Uint8Array(12);
  out[0] = buf[0]!;
  out[1] = buf[1]!;
  new DataView(out.buffer).setUint16(2, 0x8000 | 0x0080 | RCODE.FORMERR);
  return out;
}

/** "2.0.17.172.in-addr.arpa" → "172.17.0.2" (undefined for anything else). */
export function reverseName(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (!m) return undefined;
  const octets = [m[4], m[3], m[2], m[1]].map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.join(".");
}

/** The id of a message (the forwarder rewrites it). */
export function messageId(buf: Uint8Array): number {
  return (buf[0]! << 8) | buf[1]!;
}

export function withId(buf: Uint8Array, id: number): Uint8Array {
  const out = Uint8Array.from(buf);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  return out;
}

/** A query for `name`/`type` (tests and health checks). */
export function buildQuery(id: number, name: string, type: number, rd = true): Uint8Array {
  const qn = encodeName(name);
  const out = new Uint8Array(12 + qn.length + 4);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, id);
  dv.setUint16(2, rd ? 0x0100 : 0);
  dv.setUint16(4, 1);
  out.set(qn, 12);
  dv.setUint16(12 + qn.length, type);
  dv.setUint16(12 + qn.length + 2, CLASS_IN);
  return out;
}

export interface ParsedResponse {
  id: number;
  rcode: number;
  aa: boolean;
  tc: boolean;
  question: Question;
  answers: { name: string; type: number; ttl: number; data: string }[];
}

/** Read a response (tests, and the forwarder's sanity check). */
export function parseResponse(buf: Uint8Array): ParsedResponse {
  if (buf.length < 12) throw new DnsFormatError("shorter than a header");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const flags = dv.getUint16(2);
  const qd = dv.getUint16(4);
  const an = dv.getUint16(6);
  let off = 12;
  let question: Question = { name: "", type: 0, class: 0 };
  for (let i = 0; i < qd; i++) {
    const { name, next } = readName(buf, off);
    question = { name, type: dv.getUint16(next), class: dv.getUint16(next + 2) };
    off = next + 4;
  }
  const answers: ParsedResponse["answers"] = [];
  for (let i = 0; i < an; i++) {
    const { name, next } = readName(buf, off);
    if (next + 10 > buf.length) throw new DnsFormatError("truncated record");
    const type = dv.getUint16(next);
    const ttl = dv.getUint32(next + 4);
    const len = dv.getUint16(next + 8);
    const start = next + 10;
    if (start + len > buf.length) throw new DnsFormatError("truncated rdata");
    let data = "";
    if (type === TYPE.A && len === 4) data = [...buf.subarray(start, start + 4)].join(".");
    else if (type === TYPE.PTR || type === TYPE.CNAME) data = readName(buf, start).name;
    else data = Buffer.from(buf.subarray(start, start + len)).toString("hex");
    answers.push({ name, type, ttl, data });
    off = start + len;
  }
  return { id: dv.getUint16(0), rcode: flags & 0xf, aa: Boolean(flags & 0x0400), tc: Boolean(flags & 0x0200), question, answers };
}
