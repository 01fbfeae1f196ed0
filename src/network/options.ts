// The port and DNS flags of run/create, checked before anything exists (Docker's messages).
import { isIPv4, isIPv6 } from "../util/ip.ts";
import { UserError } from "../util/errors.ts";
import { parsePortFlags, type PortConfig } from "./ports.ts";

export interface PortAndDnsFlags {
  publish: string[];
  publishAll: boolean;
  expose: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
}

/** --dns, --dns-search, --dns-option as given (HostConfig.Dns, DnsSearch, DnsOptions). */
export interface DnsConfig {
  servers: string[];
  search: string[];
  options: string[];
}

export interface PortAndDnsConfig {
  ports?: PortConfig;
  dns?: DnsConfig;
}

const DOMAIN_RE = /^(:?(?:[a-zA-Z0-9]|(?:[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))(:?\.(?:[a-zA-Z0-9]|(?:[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])))*)\.?\s*$/;

/** opts.ValidateDNSSearch: "." or a domain. */
function dnsSearch(v: string): string {
  const t = v.replace(/^ +| +$/g, "");
  if (t === ".") return t;
  const m = /[a-zA-Z]/.test(t) ? DOMAIN_RE.exec(t) : null;
  if (!m || m[1]!.length >= 255) throw new UserError(`invalid argument "${v}" for "--dns-search" flag: ${t} is not a valid domain`);
  return m[1]!;
}

/** opts.ValidateIPAddress. */
function dnsServer(v: string): string {
  const t = v.trim();
  if (!isIPv4(t) && !isIPv6(t)) throw new UserError(`invalid argument "${v}" for "--dns" flag: IP address is not correctly formatted: ${v}`);
  return t;
}

/** Check and shape the flags; `imageExposed` are the image's Config.ExposedPorts keys. */
export function parsePortAndDns(f: PortAndDnsFlags | undefined, imageExposed: string[]): PortAndDnsConfig {
  if (!f) return imageExposed.length ? { ports: parsePortFlags({ publish: [], expose: [], publishAll: false, imageExposed }) } : {};
  const servers = f.dns.map(dnsServer);
  const search = f.dnsSearch.map(dnsSearch);
  const out: PortAndDnsConfig = {};
  const ports = parsePortFlags({ publish: f.publish, expose: f.expose, publishAll: f.publishAll, imageExposed });
  if (ports.exposed.length || ports.publishAll) out.ports = ports;
  if (servers.length || search.length || f.dnsOptions.length) out.dns = { servers, search, options: f.dnsOptions };
  return out;
}

/** Ports against the network mode, as Docker's CLI and daemon check them. */
export function checkPortMode(f: PortAndDnsFlags | undefined, mode: string | undefined, warn: (m: string) => void): void {
  const publishing = Boolean(f && (f.publish.length || f.publishAll));
  if (!publishing) return;
  if (mode?.startsWith("container:")) throw new UserError("conflicting options: port publishing and the container type network mode");
  if (mode === "host") warn("Published ports are discarded when using host network mode");
}
