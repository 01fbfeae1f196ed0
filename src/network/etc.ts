// The container's /etc/hosts and /etc/resolv.conf, as Docker writes them. Both are files in
// the container's directory that init binds over /etc (so they never land in its layer);
// they are rewritten in place (same inode), so a running container sees a `network
// connect`'s new line through its bind mount.
//
// resolv.conf: the host's, except that on a bridge network loopback nameservers (127.x, ::1:
// a resolver on the host's loopback is unreachable from the container's namespace) are
// dropped, and when none is left Google's 8.8.8.8/8.8.4.4 stand in, as Docker does. A host
// running systemd-resolved (only 127.0.0.53 in /etc/resolv.conf) gives its upstream list
// (/run/systemd/resolve/resolv.conf) instead. With --network host the host's file is used as it is.
// The embedded DNS of user networks (the ports/DNS code) rewrites this file for its own.
import { readFileSync, writeFileSync } from "node:fs";
import type { ContainerNetwork } from "./types.ts";

const LOCALHOST_LINES =
  "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

const isLoopback = (ns: string) => /^127\./.test(ns) || ns === "::1" || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(ns);

/** The container's resolv.conf for a network mode (see the head comment). */
export function resolvConfFor(mode: "bridge" | "host" | "none", hostFile = "/etc/resolv.conf"): string {
  let text = read(hostFile);
  if (mode === "host") return text;
  const servers = (t: string) => [...t.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
  if (servers(text).length && servers(text).every(isLoopback)) {
    const upstream = read("/run/systemd/resolve/resolv.conf");
    if (upstream && servers(upstream).some((s) => !isLoopback(s))) text = upstream;
  }
  if (mode === "none") return text;
  const kept = text.split("\n").filter((l) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(l);
    return !m || !isLoopback(m[1]!);
  });
  let out = kept.join("\n").replace(/\n*$/, "\n");
  if (!servers(out).length) out = out.replace(/^\n$/, "") + "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
  return out;
}

/**
 * /etc/hosts: the localhost lines, the --add-host entries, then the container's own
 * address(es) with its hostname (and the short name of a dotted one), as Docker writes it.
 * Without an address (none) the hostname points at 127.0.1.1 so it still resolves.
 */
export function hostsFor(hostname: string, extraHosts: { name: string; ip: string }[], ownAddresses: string[]): string {
  let out = LOCALHOST_LINES;
  for (const h of extraHosts) out += `${h.ip}\t${h.name}\n`;
  const names = hostname.includes(".") ? `${hostname} ${hostname.split(".")[0]}` : hostname;
  if (!ownAddresses.length) out += `127.0.1.1\t${names}\n`;
  for (const ip of ownAddresses) out += `${ip}\t${names}\n`;
  return out;
}

/** --add-host NAME:IP (or NAME=IP) parsed; "host-gateway" resolved by the caller. */
export function parseExtraHost(spec: string): { name: string; ip: string } | undefined {
  const m = /^([^:=\s]+)[:=](.+)$/.exec(spec);
  if (!m) return undefined;
  const ip = m[2]!.replace(/^\[(.*)\]$/, "$1");
  const { parseIPv4 } = require("../util/ipv4.ts") as typeof import("../util/ipv4.ts");
  const ok = ip === "host-gateway" || (ip.includes(":") ? /^[0-9a-fA-F]*:[0-9a-fA-F:]*$/.test(ip) : parseIPv4(ip) !== undefined);
  if (!ok) return undefined;
  return { name: m[1]!, ip };
}

/** Write a file in place (same inode: it may be bound into a running container). */
export function writeInPlace(path: string, text: string): void {
  writeFileSync(path, text);
}

export function hostsOf(net: ContainerNetwork | undefined, hostname: string, gatewayIp: () => string | undefined): string {
  const extra = (net?.extraHosts ?? []).map((s) => parseExtraHost(s)!).filter(Boolean).map((h) => ({
    name: h.name,
    ip: h.ip === "host-gateway" ? (gatewayIp() ?? "") : h.ip,
  })).filter((h) => h.ip);
  const own = (net?.endpoints ?? []).map((e) => e.ipAddress).filter((a): a is string => Boolean(a));
  return hostsFor(hostname, extra, own);
}
