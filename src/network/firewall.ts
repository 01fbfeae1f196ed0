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
// `MINID_FIREWALL=nft|iptables|none` forces a backend (tests of the fallback; "none" for hosts
// where another tool owns the firewall). This is the one module that spawns firewall tools:
// it is used when a network is created or removed (and by the ports code per container).
import { withLock } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";

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

function nftApply(tag: string, add: Rule[]): void {
  const rules = nftRules();
  const lines: string[] = [];
  if (add.length) {
    lines.push(`add table ip ${NFT_TABLE}`);
    for (const h of HOOKS) lines.push(`add chain ip ${NFT_TABLE} ${h} { ${NFT_CHAINS[h]} }`);
  }
  const mine = (rules ?? []).filter((r) => r.comment === COMMENT(tag));
  for (const r of mine) lines.push(`delete rule ip ${NFT_TABLE} ${r.chain} handle ${r.handle}`);
  for (const r of add) lines.push(`add rule ip ${NFT_TABLE} ${r.hook} ${r.nft} comment ${quote(COMMENT(tag))}`);
  const others = (rules ?? []).filter((r) => r.comment !== COMMENT(tag));
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

/**
 * Add `rules` under a tag the caller knows has none on the host (a container's ports at a
 * start that follows a clean stop): one nft call instead of a listing and a change, on the
 * start path. iptables: as setRules.
 */
export function addRules(tag: string, rules: Rule[]): void {
  const b = backend();
  if (b === "none" || !rules.length) return;
  if (b !== "nft") return setRules(tag, rules);
  withLock(LOCK, () => {
    const add = rules.map((r) => `add rule ip ${NFT_TABLE} ${r.hook} ${r.nft} comment ${quote(COMMENT(tag))}`);
    // The table and its chains are there as a rule (the bridge's own rules keep them): rules
    // alone are one cheap transaction (measured 7 ms; with `add table`/`add chain` of existing
    // ones, 16 ms). Without the table the transaction fails as a whole and is made in full.
    if (run(["nft", "-f", "-"], add.join("\n") + "\n").code === 0) return;
    const lines = [`add table ip ${NFT_TABLE}`, ...HOOKS.map((h) => `add chain ip ${NFT_TABLE} ${h} { ${NFT_CHAINS[h]} }`), ...add];
    must(["nft", "-f", "-"], lines.join("\n") + "\n");
  });
}

/** Remove every rule tagged `tag` (nothing when there is none). */
export function removeRules(tag: string): void {
  setRules(tag, []);
}

/** The tags that have rules now (to find what a crash left behind). */
export function tags(): string[] {
  const b = backend();
  const out = new Set<string>();
  if (b === "nft") {
    for (const r of nftRules() ?? []) if (r.comment?.startsWith("minid:")) out.add(r.comment.slice(6));
  } else if (b === "iptables") {
    for (const h of HOOKS) {
      for (const w of iptRules(h)) {
        const at = w.indexOf("--comment");
        if (at >= 0 && w[at + 1]?.startsWith("minid:")) out.add(w[at + 1]!.slice(6));
      }
    }
  }
  return [...out];
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
