// A container's /etc/resolv.conf, by Docker's rules:
//   - the host network: the host's file as it is (its loopback resolvers are reachable);
//   - the default bridge and other private namespaces: the host's file without loopback
//     nameservers (they would be the container's own loopback), Google's if none is left;
//   - a user network: the embedded resolver (dns.ts) as the only nameserver and ndots:0,
//     which forwards other names to --dns or to every nameserver of the host, loopback ones
//     included (it sends from the host's side).
// --dns replaces the nameservers (on a user network: the forwarder's upstreams), --dns-search
// the search domains ("." for none), --dns-option the options.
import type { DnsConfig } from "./options.ts";
import { nameservers } from "./dns.ts";

export type ResolvMode = "host" | "private" | "embedded";

const DEFAULT_SERVERS = ["8.8.8.8", "8.8.4.4"];

function isLoopback(ip: string): boolean {
  return /^127\./.test(ip) || ip === "::1" || ip === "0:0:0:0:0:0:0:1";
}

function field(text: string, key: string): string[] | undefined {
  let out: string[] | undefined;
  for (const line of text.split("\n")) {
    const m = new RegExp(`^\\s*${key}\\s+(.*)$`).exec(line);
    if (m) out = m[1]!.trim().split(/\s+/); // the last line wins, as for the libc resolver
  }
  return out;
}

export interface ResolvConf {
  /** The file's text. */
  text: string;
  /** Embedded mode: where the resolver forwards names it does not own (kept in the record,
   *  never read back from the file, which the container may rewrite). */
  upstream: string[];
}

export function containerResolvConf(hostText: string, mode: ResolvMode, dns?: DnsConfig, resolverAddress?: string): ResolvConf {
  const hostServers = nameservers(hostText);
  let search = field(hostText, "search") ?? field(hostText, "domain");
  let options = field(hostText, "options") ?? [];
  if (dns?.search.length) search = dns.search.includes(".") ? [] : dns.search;
  if (dns?.options.length) options = dns.options;
  let servers: string[];
  let upstream: string[] = [];
  if (mode === "embedded") {
    servers = [resolverAddress!];
    upstream = dns?.servers.length ? dns.servers : hostServers.length ? hostServers : DEFAULT_SERVERS;
    if (!options.some((o) => o.startsWith("ndots:"))) options = [...options, "ndots:0"];
  } else if (dns?.servers.length) {
    servers = dns.servers;
  } else if (mode === "host") {
    servers = hostServers;
  } else {
    servers = hostServers.filter((s) => !isLoopback(s));
    if (!servers.length) servers = DEFAULT_SERVERS;
  }
  const lines = servers.map((s) => `nameserver ${s}`);
  if (search?.length) lines.push(`search ${search.join(" ")}`);
  if (options.length) lines.push(`options ${options.join(" ")}`);
  if (mode === "embedded") lines.push("", `# ExtServers: [${upstream.join(" ")}]`);
  return { text: lines.join("\n") + "\n", upstream };
}
