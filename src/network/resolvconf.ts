// A container's /etc/resolv.conf after the flags and the embedded DNS have their say. The
// network mode's base file comes from etc.ts (the host's; loopback nameservers dropped in a
// private namespace; systemd-resolved's upstreams). Then, as Docker does:
//   - --dns replaces the nameservers, --dns-search the search domains ("." for none),
//     --dns-option the options;
//   - on a user network the embedded resolver (dns.ts) is the only nameserver, with
//     ndots:0, and forwards other names to --dns or to every nameserver of the host's own
//     file, loopback ones included (it sends from the host's side). Those upstreams are kept
//     in the record, never read back from the file, which the container may rewrite.
import type { DnsConfig } from "./options.ts";
import type { ContainerState } from "../container/state.ts";
import { nameservers } from "./dns.ts";

const DEFAULT_SERVERS = ["8.8.8.8", "8.8.4.4"];

function field(text: string, key: string): string[] | undefined {
  let out: string[] | undefined;
  for (const line of text.split("\n")) {
    const m = new RegExp(`^\\s*${key}\\s+(.*)$`).exec(line);
    if (m) out = m[1]!.trim().split(/\s+/); // the last line wins, as for the libc resolver
  }
  return out;
}

export interface ResolvConf {
  text: string;
  /** Embedded mode: where the resolver forwards names it does not own. */
  upstream: string[];
}

export interface Embedded {
  /** The resolver's address (the network's gateway). */
  address: string;
  /** The host's own /etc/resolv.conf text (its nameservers, loopback ones too, are the upstreams). */
  hostText: string;
}

export function containerResolvConf(base: string, dns?: DnsConfig, embedded?: Embedded): ResolvConf {
  const given = Boolean(dns && (dns.servers.length || dns.search.length || dns.options.length));
  if (!embedded && !given) return { text: base, upstream: [] };
  let search = field(base, "search") ?? field(base, "domain") ?? [];
  let options = field(base, "options") ?? [];
  if (dns?.search.length) search = dns.search.includes(".") ? [] : dns.search;
  if (dns?.options.length) options = dns.options;
  let servers = dns?.servers.length ? dns.servers : nameservers(base);
  let upstream: string[] = [];
  if (embedded) {
    upstream = servers = dns?.servers.length ? dns.servers : nameservers(embedded.hostText);
    if (!upstream.length) upstream = DEFAULT_SERVERS;
    servers = [embedded.address];
    if (!options.some((o) => o.startsWith("ndots:"))) options = [...options, "ndots:0"];
  }
  const lines = servers.map((s) => `nameserver ${s}`);
  if (search.length) lines.push(`search ${search.join(" ")}`);
  if (options.length) lines.push(`options ${options.join(" ")}`);
  if (embedded) lines.push("", `# ExtServers: [${upstream.join(" ")}]`);
  return { text: lines.join("\n") + "\n", upstream };
}

/**
 * The container's resolv.conf from its mode's base file: --dns* applied, and on a user
 * network the embedded resolver at the gateway, whose upstreams go into the record (st.dns).
 */
export function resolvConfOf(root: string, st: ContainerState, base: string): string {
  const { NetworkStore } = require("./store.ts") as typeof import("./store.ts");
  const first = st.network?.endpoints[0];
  const net = first ? new NetworkStore(root).list().find((n) => n.id === first.networkId) : undefined;
  let hostText = "";
  try {
    hostText = (require("node:fs") as typeof import("node:fs")).readFileSync("/etc/resolv.conf", "utf8");
  } catch {}
  const embedded = net && !net.predefined && net.gateway ? { address: net.gateway, hostText } : undefined;
  const r = containerResolvConf(base, st.dns, embedded);
  if (embedded) st.dns = { servers: [], search: [], options: [], ...st.dns, upstream: r.upstream };
  return r.text;
}
