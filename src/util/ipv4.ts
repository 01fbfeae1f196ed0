// IPv4 addresses and CIDR blocks as numbers: parsing with Docker's error wording, formatting,
// containment and overlap. Shared by the netlink encoder (bytes on the wire) and IPAM.

/** a.b.c.d as an unsigned 32-bit number, or undefined when it is not exactly that. */
export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255 || (m[i]!.length > 1 && m[i]!.startsWith("0"))) return undefined;
    n = n * 256 + b;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function ipv4Bytes(s: string): Uint8Array {
  const n = parseIPv4(s);
  if (n === undefined) throw new Error(`not an IPv4 address: ${s}`);
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

export function ipv4FromBytes(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

export interface Cidr {
  /** The network address (host bits zero). */
  base: number;
  prefix: number;
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * "a.b.c.d/n" (host bits must be zero unless `loose`), or undefined. Docker refuses a subnet
 * with host bits set ("invalid subnet … : it should be …"); the caller words that.
 */
export function parseCidr(s: string, loose = false): Cidr | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const base = (ip & mask(prefix)) >>> 0;
  if (!loose && base !== ip) return undefined;
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** The broadcast address of a block. */
export function broadcastOf(c: Cidr): number {
  return (c.base | ~mask(c.prefix)) >>> 0;
}

/** Docker's MAC for an address: 02:42 followed by the four address bytes. */
export function macForIPv4(ip: number): string {
  const b = [0x02, 0x42, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}
