// util/ip.ts answers what node:net answers (the module it stands in for), on hand-picked
// edge cases and on random mutations of valid addresses.
import { describe, expect, test } from "bun:test";
import { isIPv4 as netIPv4, isIPv6 as netIPv6 } from "node:net";
import { isIPv4, isIPv6 } from "../../src/util/ip.ts";

const CASES = [
  "", "1", ":", "::", "::1", "1::", ":1::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7::8", "1::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:",
  ":1:2:3:4:5:6:7", "12345::", "g::", "abcd:EF01:2345:6789:abcd:ef01:2345:6789",
  "::ffff:1.2.3.4", "::1.2.3.4", "1::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
  "1.2.3.4::", "::1.2.3", "::1.2.3.4.", "::01.2.3.4", "fe80::1%eth0", "fe80::1%", "::1%lo", "fe80::%a-b.c:d",
  "fe80::1%eth 0", "1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3.04",
  "1.2.3", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "1..3.4", "-1.2.3.4", "1.2.3.4%eth0",
];

function mutations(seed: number, n: number): string[] {
  let x = seed;
  const rand = (k: number) => ((x = (x * 1103515245 + 12345) & 0x7fffffff) % k);
  const alphabet = "0123456789abcdefABCDEFg:.%";
  const bases = ["2001:db8::1", "::ffff:192.0.2.1", "fe80::1:2:3:4", "192.0.2.10", "1:2:3:4:5:6:7:8", "::"];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = bases[rand(bases.length)]!;
    for (let j = rand(3) + 1; j > 0; j--) {
      const at = rand(s.length + 1);
      const op = rand(3);
      const ch = alphabet[rand(alphabet.length)]!;
      s = op === 0 ? s.slice(0, at) + ch + s.slice(at) : op === 1 ? s.slice(0, at) + s.slice(at + 1) : s.slice(0, at) + ch + s.slice(at + 1);
    }
    out.push(s);
  }
  return out;
}

describe("util/ip", () => {
  test("edge cases agree with node:net", () => {
    for (const c of CASES) expect([c, isIPv4(c), isIPv6(c)]).toEqual([c, netIPv4(c), netIPv6(c)]);
  });
  test("random mutations agree with node:net", () => {
    const all = mutations(7, 20000);
    for (const c of all) expect([c, isIPv4(c), isIPv6(c)]).toEqual([c, netIPv4(c), netIPv6(c)]);
    // Both answers occur often, so agreement is not agreement on "no".
    expect(all.filter(netIPv6).length).toBeGreaterThan(2000);
    expect(all.filter((c) => !netIPv6(c) && !netIPv4(c)).length).toBeGreaterThan(2000);
  });
});
