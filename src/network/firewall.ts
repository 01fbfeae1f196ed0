// minid's packet filter rules, in one place of their own that is easy to inspect and remove:
//   nft:       `table ip minid` with base chains prerouting/output/postrouting (nat) and forward
//              (filter): `nft list table ip minid`, `nft delete table ip minid`;
//   iptables:  (fallback when `nft` is missing, as Docker uses it; Debian's is the nft
//              backend) chains MINID-PREROUTING/-OUTPUT/-POSTROUTING in `nat` and MINID-FORWARD in
//              `filter`, each jumped to once from the built-in chain of the same hook.
// Every rule carries a tag in its comment ("minid:TAG"): rules are added and removed by tag,
// never by position, so each owner (a network: "net:<bridge>"; a container's published ports:
// whatever tag the ports code picks) manages its own and a cleanup can find what a crash left.
// When the last tagged rule goes, the table (or the chains and jumps) go too, so a host
// ends up exactly as it started. Every change runs under one host-wide lock, as the rules are
// shared by every minid store on the host.
//
// Published ports (addDnat/removeDnat) are the one thing that changes per container start.
// With nft they are not rules but elements of two maps of the table, `pub_any` (protocol .
// port, for any local address) and `pub_addr` (address . protocol . port), that two fixed
// rules per hook look up (tag "base", made with the table): an element goes in and out
// through nfnetlink (linux/nftables.ts) in well under a millisecond, where a rule change
// costs one or two nft processes (6–35 ms each, measured). Each element carries its owner's
// tag as its comment, so removal finds exactly its own. iptables has no maps: there each
// port is a DNAT rule, as Docker has it.
//
// `MINID_FIREWALL=nft|iptables|none` forces a backend (tests of the fallback; "none" for hosts
// where another tool owns the firewall). This is the one module that spawns firewall tools:
// it is used when a network is created or removed (and by the ports code per container).
import { withLock } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { broadcastOf, formatIPv4, ipv4Bytes, parseCidr } from "../util/ipv4.ts";
import type { ElementChange, Nftables, SetElement } from "../linux/nftables.ts";
import type { Proto } from "./ports.ts";

export type Hook = "prerouting" | "output" | "postrouting" | "forward" | "raw";

export interface Rule {
  hook: Hook;
  /** The rule's body in nft syntax, e.g. `ip saddr 172.17.0.0/16 oifname != "minid0" masquerade`. */
  nft: string;
  /** The same rule as iptables arguments, e.g. ["-s", "172.17.0.0/16", "!", "-o", "minid0", "-j", "MASQUERADE"]. */
  iptables: string[];
}

export type Backend = "nft" | "iptables" | "none";

export const NFT_TABLE = "minid";
const LOCK = "/run/lock/minid-firewall.lock";
const COMMENT = (tag: string) => `minid:${tag}`;

const NFT_CHAINS: Record<Hook, string> = {
  prerouting: "type nat hook prerouting priority dstnat; policy accept;",
  output: "type nat hook output priority -100; policy accept;",
  postrouting: "type nat hook postrouting priority srcnat; policy accept;",
  forward: "type filter hook forward priority filter; policy accept;",
  // before conntrack and NAT: the drop of 127.0.0.0/8 coming in from a bridge (portmap.ts)
  raw: "type filter hook prerouting priority raw; policy accept;",
};
const IPT: Record<Hook, { table: string; chain: string; from: string }> = {
  prerouting: { table: "nat", chain: "MINID-PREROUTING", from: "PREROUTING" },
  output: { table: "nat", chain: "MINID-OUTPUT", from: "OUTPUT" },
  postrouting: { table: "nat", chain: "MINID-POSTROUTING", from: "POSTROUTING" },
  forward: { table: "filter", chain: "MINID-FORWARD", from: "FORWARD" },
  raw: { table: "raw", chain: "MINID-PREROUTING", from: "PREROUTING" },
};
const HOOKS = Object.keys(NFT_CHAINS) as Hook[];

// The maps of published ports and the rules that look them up (see the top). A lookup that
// misses leaves the packet to the next rule; an address-specific binding wins over "any".
const MAP_ANY = "pub_any";
const MAP_ADDR = "pub_addr";
const NFT_MAPS: Record<string, string> = {
  [MAP_ANY]: "type inet_proto . inet_service : ipv4_addr . inet_service;",
  [MAP_ADDR]: "type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service;",
};
// Networks whose members reach each other's published ports through the host: one element
// per network, its subnet as source . its subnet as destination. Such an answer must come
// back through the host too, so the source becomes the gateway; a loopback source always
// needs that; a source from elsewhere is kept, as with Docker. (Keyed by addresses, as
// postrouting knows no input interface.)
const SET_HAIRPIN = "pub_hairpin";
const NFT_SETS: Record<string, string> = { [SET_HAIRPIN]: "type ipv4_addr . ipv4_addr; flags interval;" };
const BASE = "base";
const NFT_BASE_RULES: [Hook, string][] = [
  ...(["prerouting", "output"] as const).flatMap((h): [Hook, string][] => [
    [h, `fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @${MAP_ADDR}`],
    [h, `fib daddr type local dnat ip to meta l4proto . th dport map @${MAP_ANY}`],
  ]),
  ["postrouting", "ip saddr 127.0.0.0/8 ct status dnat masquerade"],
  ["postrouting", `ct status dnat ip saddr . ip daddr @${SET_HAIRPIN} masquerade`],
];

let chosen: Backend | undefined;

/** nft when installed, else iptables, else none (MINID_FIREWALL overrides). */
export function backend(): Backend {
  if (chosen) return chosen;
  const forced = process.env.MINID_FIREWALL;
  if (forced === "nft" || forced === "iptables" || forced === "none") return (chosen = forced);
  chosen = Bun.which("nft") ? "nft" : Bun.which("iptables") ? "iptables" : "none";
  return chosen;
}

function run(argv: string[], input?: string): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(argv, { stdin: input === undefined ? "ignore" : Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? 1, out: r.stdout.toString(), err: r.stderr.toString().trim() };
}

function must(argv: string[], input?: string): string {
  const r = run(argv, input);
  if (r.code !== 0) {
    const first = (r.err.split("\n").find((l) => l.trim()) ?? `exit ${r.code}`).trim();
    throw new UserError(`firewall: ${argv[0]} failed: ${first}`);
  }
  return r.out;
}

const quote = (s: string) => JSON.stringify(s);

// ---- nft ----

interface NftRule {
  chain: string;
  handle: number;
  comment?: string;
}

function nftRules(): NftRule[] | undefined {
  const r = run(["nft", "-j", "-a", "list", "table", "ip", NFT_TABLE]);
  if (r.code !== 0) return undefined; // no table
  const doc = JSON.parse(r.out) as { nftables: Record<string, any>[] };
  return doc.nftables.filter((o) => o.rule).map((o) => ({ chain: o.rule.chain, handle: o.rule.handle, comment: o.rule.comment }));
}

/** The table, its chains and maps (each `add` a no-op when there), and the base rules when missing. */
function nftSkeleton(rules: NftRule[] | undefined): string[] {
  const lines = [`add table ip ${NFT_TABLE}`];
  for (const h of HOOKS) lines.push(`add chain ip ${NFT_TABLE} ${h} { ${NFT_CHAINS[h]} }`);
  for (const [m, def] of Object.entries(NFT_MAPS)) lines.push(`add map ip ${NFT_TABLE} ${m} { ${def} }`);
  for (const [m, def] of Object.entries(NFT_SETS)) lines.push(`add set ip ${NFT_TABLE} ${m} { ${def} }`);
  // Base rules not as this minid makes them (none yet; another version's): made anew. (The
  // port code's objects, sets and maps, are named so that a version whose base differs finds
  // them missing and comes here; see addPortRules.)
  const base = (rules ?? []).filter((r) => r.comment === COMMENT(BASE));
  if (base.length !== NFT_BASE_RULES.length) {
    for (const r of base) lines.push(`delete rule ip ${NFT_TABLE} ${r.chain} handle ${r.handle}`);
    for (const [h, body] of NFT_BASE_RULES) lines.push(`add rule ip ${NFT_TABLE} ${h} ${body} comment ${quote(COMMENT(BASE))}`);
  }
  return lines;
}

function nftApply(tag: string, add: Rule[]): void {
  const rules = nftRules();
  const lines: string[] = add.length ? nftSkeleton(rules) : [];
  const mine = (rules ?? []).filter((r) => r.comment === COMMENT(tag));
  for (const r of mine) lines.push(`delete rule ip ${NFT_TABLE} ${r.chain} handle ${r.handle}`);
  for (const r of add) lines.push(`add rule ip ${NFT_TABLE} ${r.hook} ${r.nft} comment ${quote(COMMENT(tag))}`);
  // The base rules belong to the table, not to an owner: they go with it.
  const others = (rules ?? []).filter((r) => r.comment !== COMMENT(tag) && r.comment !== COMMENT(BASE));
  // The last rule gone: the table goes too (nothing of minid's is left on the host).
  if (!add.length && rules && !others.length) lines.splice(0, lines.length, `delete table ip ${NFT_TABLE}`);
  if (lines.length) must(["nft", "-f", "-"], lines.join("\n") + "\n");
}

// ---- iptables ----

function ipt(table: string, ...args: string[]): ReturnType<typeof run> {
  return run(["iptables", "-w", "-t", table, ...args]);
}

/** The rules of our chain as `-A CHAIN ...` words (none when the chain does not exist). */
function iptRules(h: Hook): string[][] {
  const { table, chain } = IPT[h];
  const r = ipt(table, "-S", chain);
  if (r.code !== 0) return [];
  return r.out
    .split("\n")
    .filter((l) => l.startsWith(`-A ${chain} `))
    .map((l) => l.split(" ").map((w) => w.replace(/^"(.*)"$/, "$1")));
}

function iptApply(tag: string, add: Rule[]): void {
  const c = COMMENT(tag);
  let left = 0;
  for (const h of HOOKS) {
    const { table, chain } = IPT[h];
    for (const words of iptRules(h)) {
      const at = words.indexOf("--comment");
      if (at >= 0 && words[at + 1] === c) {
        const del = ipt(table, "-D", ...words.slice(1));
        if (del.code !== 0) throw new UserError(`firewall: iptables failed: ${del.err}`);
      } else left++;
    }
  }
  if (add.length) {
    for (const h of HOOKS) {
      const { table, chain, from } = IPT[h];
      if (ipt(table, "-S", chain).code !== 0) must(["iptables", "-w", "-t", table, "-N", chain]);
      if (ipt(table, "-C", from, "-j", chain).code !== 0) must(["iptables", "-w", "-t", table, "-I", from, "-j", chain]);
    }
    for (const r of add) {
      const { table, chain } = IPT[r.hook];
      must(["iptables", "-w", "-t", table, "-A", chain, ...r.iptables, "-m", "comment", "--comment", c]);
    }
    return;
  }
  if (left) return;
  // Nothing of minid's left: the jumps and chains go.
  for (const h of HOOKS) {
    const { table, chain, from } = IPT[h];
    while (ipt(table, "-C", from, "-j", chain).code === 0) ipt(table, "-D", from, "-j", chain);
    if (ipt(table, "-S", chain).code === 0) {
      ipt(table, "-F", chain);
      ipt(table, "-X", chain);
    }
  }
}

// ---- the API ----

/**
 * Make `rules` the set of rules tagged `tag` (rules already there under the tag are replaced,
 * so calling it twice leaves one copy). An empty list removes them, as removeRules does.
 */
export function setRules(tag: string, rules: Rule[]): void {
  const b = backend();
  withLock(LOCK, () => {
    // A network's rules gone: its bridge's hairpin entry goes too (addDnat put it in).
    if (!rules.length && tag.startsWith("net:") && (b === "nft" || Bun.which("nft"))) removeHairpin(tag);
    if (b === "nft") nftApply(tag, rules);
    else if (b === "iptables") iptApply(tag, rules);
    // Rules a run with the other backend left (MINID_FIREWALL changed, nft installed since)
    // go too, so a removal is complete whichever backend made them.
    if (b !== "nft" && Bun.which("nft")) nftApply(tag, []);
    if (b !== "iptables" && Bun.which("iptables") && iptHas(tag)) iptApply(tag, []);
  });
}

function iptHas(tag: string): boolean {
  return HOOKS.some((h) => iptRules(h).some((w) => w[w.indexOf("--comment") + 1] === COMMENT(tag)));
}

/** Remove every rule tagged `tag` (nothing when there is none). */
export function removeRules(tag: string): void {
  setRules(tag, []);
}

/** The tag of a network's own rules. */
export const networkTag = (bridge: string) => `net:${bridge}`;

/**
 * A bridge network's rules: outbound traffic masqueraded behind the host (one rule for the
 * whole subnet, not one per container), forwarding to and from the bridge accepted; an
 * internal network instead has every packet that would leave or enter the bridge dropped.
 */
export function networkRules(bridge: string, subnet: string, internal: boolean): Rule[] {
  const br = quote(bridge);
  // Published ports turn route_localnet on for the bridge (portmap.ts: how 127.0.0.1 reaches
  // a container); nothing arriving from the bridge may then reach the host's loopback
  // services by aiming at 127.0.0.0/8 (CVE-2020-8558). Before conntrack: replies to
  // masqueraded loopback connections still carry the gateway's address here.
  const localnet: Rule = {
    hook: "raw",
    nft: `iifname ${br} ip daddr 127.0.0.0/8 drop`,
    iptables: ["-i", bridge, "-d", "127.0.0.0/8", "-j", "DROP"],
  };
  // (Internal networks publish no ports, so their bridges never get route_localnet.)
  if (internal) {
    return [
      { hook: "forward", nft: `iifname ${br} oifname != ${br} drop`, iptables: ["-i", bridge, "!", "-o", bridge, "-j", "DROP"] },
      { hook: "forward", nft: `oifname ${br} iifname != ${br} drop`, iptables: ["-o", bridge, "!", "-i", bridge, "-j", "DROP"] },
    ];
  }
  return [
    localnet,
    {
      hook: "postrouting",
      nft: `ip saddr ${subnet} oifname != ${br} masquerade`,
      iptables: ["-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"],
    },
    { hook: "forward", nft: `iifname ${br} accept`, iptables: ["-i", bridge, "-j", "ACCEPT"] },
    {
      hook: "forward",
      nft: `oifname ${br} ct state related,established accept`,
      iptables: ["-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
    },
  ];
}

// ---- published ports: DNAT ----

const PROTO_NUMBER: Record<Proto, number> = { tcp: 6, udp: 17, sctp: 132 };

/** One published port: traffic for a local address on proto/hostPort goes to toIp:toPort. */
export interface Dnat {
  /** One of the host's addresses; undefined for any of them (Docker's 0.0.0.0). */
  hostIp?: string;
  proto: Proto;
  hostPort: number;
  toIp: string;
  toPort: number;
}

/** The network the ports lead into: its bridge and subnet (hairpin: members reach them too). */
export interface DnatNetwork {
  bridge: string;
  subnet: string;
}

// Only when a container publishes something, and synchronously (the watcher's stop path is).
const nftablesSync = () => require("../linux/nftables.ts") as typeof import("../linux/nftables.ts");

// One socket per process, opened at first use and left for the process's exit to close:
// closing it right after a change waits for the kernel to finish that transaction's cleanup
// (an RCU grace period, 7–16 ms measured here), while the watcher's exit delays no one. It is
// close-on-exec, so no container inherits it.
let socketOfProcess: Nftables | undefined;
function nftSocket(): Nftables {
  return (socketOfProcess ??= nftablesSync().Nftables.open());
}

type Tagged = { set: string; el: SetElement };

function dnatElement(d: Dnat, comment: string): Tagged {
  const { concat, be16, u8 } = nftablesSync();
  const proto = u8(PROTO_NUMBER[d.proto]);
  const key = d.hostIp ? concat(ipv4Bytes(d.hostIp), proto, be16(d.hostPort)) : concat(proto, be16(d.hostPort));
  return { set: d.hostIp ? MAP_ADDR : MAP_ANY, el: { key, data: concat(ipv4Bytes(d.toIp), be16(d.toPort)), comment } };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);

/** The elements of both port maps; undefined when the table or a map is missing. */
function portElements(nft: Nftables): Tagged[] | undefined {
  const any = nft.elements(NFT_TABLE, MAP_ANY);
  const addr = nft.elements(NFT_TABLE, MAP_ADDR);
  if (!any || !addr) return undefined;
  return [...any.map((el) => ({ set: MAP_ANY, el })), ...addr.map((el) => ({ set: MAP_ADDR, el }))];
}

function changes(op: "add" | "delete", els: Tagged[]): ElementChange[] {
  return [MAP_ANY, MAP_ADDR].map((set) => ({ op, table: NFT_TABLE, set, elements: els.filter((e) => e.set === set).map((e) => e.el) }));
}

/**
 * Publish `list` under `tag`. With nft: false when the table or its maps are missing (a host
 * whose table went away, or one made by an older minid): the caller puts the network's rules
 * back (which makes them) and calls again. An element some other tag left on a key (a
 * watcher killed with -9; the key's host port is the caller's now, it holds the socket) is
 * replaced in the same transaction. `fresh`: the caller knows none of its own are there.
 */
export function addDnat(tag: string, net: DnatNetwork, list: Dnat[], fresh = false): boolean {
  const b = backend();
  if (b === "none" || !list.length) return true;
  if (b === "iptables") {
    setRules(tag, dnatRules(net, list));
    return true;
  }
  const { NetlinkError } = nftablesSync();
  return withLock(LOCK, () => {
    try {
      const nft = nftSocket();
      const mine = list.map((d) => dnatElement(d, COMMENT(tag)));
      // The bridge's hairpin entry belongs to the network (removeHairpin): adding it again is a no-op.
      const hairpin: ElementChange = { op: "add", table: NFT_TABLE, set: SET_HAIRPIN, exclusive: false, elements: [hairpinElement(net)] };
      if (fresh) {
        try {
          nft.apply([hairpin, ...changes("add", mine)]);
          return true;
        } catch (e) {
          // EEXIST: a key is taken by what a crash left; ENOENT: no table, maps or set
          if (!(e instanceof NetlinkError) || (e.errno !== 17 && e.errno !== 2)) throw e;
        }
      }
      const all = portElements(nft);
      if (!all || !nft.elements(NFT_TABLE, SET_HAIRPIN)) return false;
      const stale = all.filter((e) => e.el.comment === COMMENT(tag) || mine.some((m) => m.set === e.set && sameBytes(m.el.key, e.el.key)));
      nft.apply([...changes("delete", stale), hairpin, ...changes("add", mine)]);
      return true;
    } catch (e) {
      throw new UserError(`firewall: ${(e as Error).message}`);
    }
  });
}

/**
 * Take away what is published under `tag` (nothing when there is none). `stale`: after a
 * crash, so DNAT rules an older minid made per port go too (that needs nft processes).
 */
export function removeDnat(tag: string, stale = false): void {
  const b = backend();
  if (b === "iptables" || (stale && b !== "none")) setRules(tag, []);
  // Elements are looked for whatever the backend is now (MINID_FIREWALL changed since they
  // went in): a socket, no process, so it costs nothing when there are none.
  if (b !== "nft" && !Bun.which("nft")) return;
  withLock(LOCK, () => {
    try {
      const nft = nftSocket();
      nft.apply(changes("delete", (portElements(nft) ?? []).filter((e) => e.el.comment === COMMENT(tag))));
    } catch (e) {
      if (b === "nft") throw new UserError(`firewall: ${(e as Error).message}`);
    }
  });
}

/** A network's hairpin element: its subnet to itself, tagged as the network's rules are. */
function hairpinElement(net: DnatNetwork): SetElement {
  const { concat } = nftablesSync();
  const c = parseCidr(net.subnet);
  if (!c) throw new UserError(`firewall: bad subnet ${net.subnet}`);
  const first = ipv4Bytes(formatIPv4(c.base));
  const last = ipv4Bytes(formatIPv4(broadcastOf(c)));
  return { key: concat(first, first), keyEnd: concat(last, last), comment: COMMENT(networkTag(net.bridge)) };
}

/** A network's hairpin element goes with its rules (nothing when there is none). */
function removeHairpin(tag: string): void {
  try {
    const nft = nftSocket();
    const mine = (nft.elements(NFT_TABLE, SET_HAIRPIN) ?? []).filter((e) => e.comment === COMMENT(tag));
    nft.apply([{ op: "delete", table: NFT_TABLE, set: SET_HAIRPIN, elements: mine }]);
  } catch {
    // no nf_tables here: nothing of it to remove
  }
}

/**
 * iptables (no maps): per port and hook a DNAT rule, as Docker's; per container port the
 * forward accept (hosts whose filter drops forwarded traffic by default: there our chain
 * shares the FORWARD chain) and the masquerade of loopback and hairpin sources.
 */
function dnatRules(net: DnatNetwork, list: Dnat[]): Rule[] {
  const rules: Rule[] = [];
  const seen = new Set<string>();
  for (const d of list) {
    const to = `${d.toIp}:${d.toPort}`;
    const nft = `fib daddr type local ${d.hostIp ? `ip daddr ${d.hostIp} ` : ""}${d.proto} dport ${d.hostPort} dnat to ${to}`;
    const ipt = ["-m", "addrtype", "--dst-type", "LOCAL", ...(d.hostIp ? ["-d", d.hostIp] : []), "-p", d.proto, "--dport", String(d.hostPort), "-j", "DNAT", "--to-destination", to];
    rules.push({ hook: "prerouting", nft, iptables: ipt }, { hook: "output", nft, iptables: ipt });
    const key = `${d.proto}/${d.toIp}/${d.toPort}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dst = ["-d", d.toIp, "-p", d.proto, "--dport", String(d.toPort), "-m", "conntrack", "--ctstate", "DNAT"];
    rules.push({ hook: "forward", nft: `ip daddr ${d.toIp} ${d.proto} dport ${d.toPort} ct status dnat accept`, iptables: [...dst, "-j", "ACCEPT"] });
    for (const src of ["127.0.0.0/8", net.subnet]) {
      rules.push({ hook: "postrouting", nft: `ip saddr ${src} ip daddr ${d.toIp} ${d.proto} dport ${d.toPort} ct status dnat masquerade`, iptables: ["-s", src, ...dst, "-j", "MASQUERADE"] });
    }
  }
  return rules;
}
