// Address syntax checks with node:net's answers (isIPv4/isIPv6), without loading node:net:
// that module pulls in node:stream, ~3 ms of every `run` that parses -p or --dns.
import { parseIPv4 } from "./ipv4.ts";

export function isIPv4(s: string): boolean {
  return parseIPv4(s) !== undefined;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** RFC 4291 text forms: eight groups, one "::", a dotted IPv4 tail, and a zone (%eth0). */
export function isIPv6(s: string): boolean {
  const pct = s.indexOf("%");
  if (pct >= 0) {
    if (!/^[0-9a-zA-Z\-.:]+$/.test(s.slice(pct + 1))) return false;
    s = s.slice(0, pct);
  }
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const all = [...head, ...tail];
  // A dotted quad stands for the last two groups, and only at the very end of the text.
  const dottedAt = /\.[0-9]+$/.test(s) ? all.length - 1 : -1;
  let width = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (i === dottedAt) {
      if (!isIPv4(g)) return false;
      width += 2;
    } else if (HEX_GROUP.test(g)) width += 1;
    else return false;
  }
  return halves.length === 2 ? width <= 7 : width === 8;
}
