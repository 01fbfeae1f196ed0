// Published and exposed ports: `-p/--publish`, `-P/--publish-all` and `--expose` parsed as the
// Docker CLI parses them (go-connections' nat.ParsePortSpecs and the CLI's long syntax), with
// its error messages, and the shapes Docker shows them in (Config.ExposedPorts,
// HostConfig.PortBindings, NetworkSettings.Ports, the ps PORTS column, `port`).
// Pure: no sockets, no files; the start-time side lives in portmap.ts.
import { isIPv4, isIPv6 } from "../util/ip.ts";
import { UserError } from "../util/errors.ts";

export type Proto = "tcp" | "udp" | "sctp";
export const PROTOS: readonly Proto[] = ["tcp", "udp", "sctp"];

/** One entry of HostConfig.PortBindings["80/tcp"] (Docker's nat.PortBinding). */
export interface PortBinding {
  HostIp: string;
  /** "" = any free port; "N" or "N-M" (a range to pick a free one from, as Docker allows). */
  HostPort: string;
}

/** What a container keeps about its ports (in its record, from create on). */
export interface PortConfig {
  /** Config.ExposedPorts keys: "80/tcp", in first-seen order. */
  exposed: string[];
  /** HostConfig.PortBindings as the user gave them. */
  bindings: Record<string, PortBinding[]>;
  /** -P: every exposed port without a binding gets one on a random host port. */
  publishAll: boolean;
}

/** A binding made at start: the host side that was really taken. */
export interface PublishedPort {
  proto: Proto;
  containerPort: number;
  /** The host address as Docker shows it ("0.0.0.0" for "any"). */
  hostIp: string;
  hostPort: number;
}

/** Go's strconv.ParseUint(s, 10, 16): digits only (no sign, no space), at most 65535. */
function parseUint16(s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/** nat.ParsePortRange: "N" or "N-M" (only the first two dash-separated parts count, as in Go). */
export function parsePortRange(s: string): [number, number] | undefined {
  if (s === "") return undefined;
  if (!s.includes("-")) {
    const n = parseUint16(s);
    return n === undefined ? undefined : [n, n];
  }
  const parts = s.split("-");
  const start = parseUint16(parts[0]!);
  const end = parseUint16(parts[1]!);
  if (start === undefined || end === undefined || end < start) return undefined;
  return [start, end];
}

/** The Go error text of a bad range, as `--expose` quotes it. */
function rangeError(s: string): string {
  if (s === "") return "empty string specified for ports";
  const parts = s.includes("-") ? s.split("-").slice(0, 2) : [s];
  for (const p of parts) {
    if (!/^[0-9]+$/.test(p)) return `strconv.ParseUint: parsing ${JSON.stringify(p)}: invalid syntax`;
    if (Number(p) > 65535) return `strconv.ParseUint: parsing ${JSON.stringify(p)}: value out of range`;
  }
  return `invalid range specified for port: ${s}`;
}

/** nat.SplitProtoPort: "80/udp" → ["udp", "80"]; no protocol is tcp. */
export function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split("/");
  if (raw.length === 0 || parts[0]!.length === 0) return ["", ""];
  if (parts.length === 1) return ["tcp", raw];
  if (parts[1]!.length === 0) return ["tcp", parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** splitParts of go-connections: [ip, hostPort, containerPort] from colon-separated parts. */
function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(":");
  const n = parts.length;
  const ctr = parts[n - 1]!;
  if (n === 1) return ["", "", ctr];
  if (n === 2) return ["", parts[0]!, ctr];
  if (n === 3) return [parts[0]!, parts[1]!, ctr];
  return [parts.slice(0, n - 2).join(":"), parts[n - 2]!, ctr];
}

/** The CLI's long syntax (`target=80,published=8080,protocol=udp`) in the short one. */
function standardNotation(spec: string): string {
  if (!spec.includes("=")) return spec;
  const params: Record<string, string> = { protocol: "tcp" };
  for (const param of spec.split(",")) {
    const opt = param.split("=");
    if (opt.length < 2) throw new UserError(`invalid publish opts format (should be name=value but got '${param}')`);
    params[opt[0]!] = opt[1]!;
  }
  return `${params.published ?? ""}:${params.target ?? ""}/${params.protocol}`;
}

export interface PortMapping {
  port: string;
  binding: PortBinding;
}

/** nat.ParsePortSpec: one `-p` value → one mapping per container port. */
export function parsePortSpec(raw: string): PortMapping[] {
  let [ip, hostPort, containerPort] = splitParts(raw);
  const [proto0, ctr] = splitProtoPort(containerPort);
  containerPort = ctr;
  if (ip !== "" && ip[0] === "[") {
    // [::1] as Go's net.SplitHostPort takes it apart
    const m = /^\[([^\[\]]*)\]$/.exec(ip);
    if (!m) throw new UserError(`invalid IP address ${ip}: address ${ip}: missing ']' in address`);
    ip = m[1]!;
  }
  if (ip !== "" && !isIPv4(ip) && !isIPv6(ip)) throw new UserError(`invalid IP address: ${ip}`);
  if (containerPort === "") throw new UserError(`no port specified: ${raw}<empty>`);
  const cr = parsePortRange(containerPort);
  if (!cr) throw new UserError(`invalid containerPort: ${containerPort}`);
  let hr: [number, number] = [0, 0];
  if (hostPort.length > 0) {
    const h = parsePortRange(hostPort);
    if (!h) throw new UserError(`invalid hostPort: ${hostPort}`);
    hr = h;
  }
  // A host range against one container port is a range to pick a free host port from.
  if (hostPort !== "" && cr[1] - cr[0] !== hr[1] - hr[0] && cr[1] !== cr[0]) {
    throw new UserError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const proto = proto0.toLowerCase();
  if (!PROTOS.includes(proto as Proto)) throw new UserError(`invalid proto: ${proto0}`);
  if (ip !== "" && !isIPv4(ip)) {
    throw new UserError(`publishing on the IPv6 address ${ip} is not supported: give an IPv4 address (e.g. 127.0.0.1:${hostPort || "8080"}:${containerPort}) or none`);
  }
  const out: PortMapping[] = [];
  for (let i = 0; i <= cr[1] - cr[0]; i++) {
    let hp = hostPort.length > 0 ? String(hr[0] + i) : "";
    if (cr[0] === cr[1] && hr[0] !== hr[1]) hp = `${hp}-${hr[1]}`;
    out.push({ port: `${cr[0] + i}/${proto}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

/** `--expose 80`, `--expose 8000-8010/udp`: the container ports they add to ExposedPorts. */
export function parseExpose(e: string): string[] {
  if (e.includes(":")) throw new UserError(`invalid port format for --expose: ${e}`);
  const [proto, port] = splitProtoPort(e);
  const r = parsePortRange(port);
  if (!r) throw new UserError(`invalid range format for --expose: ${e}, error: ${rangeError(port)}`);
  const p = proto.toLowerCase();
  if (!PROTOS.includes(p as Proto)) throw new UserError(`invalid proto: ${proto}`);
  const out: string[] = [];
  for (let n = r[0]; n <= r[1]; n++) out.push(`${n}/${p}`);
  return out;
}

export interface PortFlags {
  publish: string[];
  expose: string[];
  publishAll: boolean;
  /** The image's Config.ExposedPorts keys. */
  imageExposed?: string[];
}

/** The flags of run/create → the container's PortConfig; a bad value is a UserError (125). */
export function parsePortFlags(f: PortFlags): PortConfig {
  const exposed: string[] = [];
  const seen = new Set<string>();
  const expose = (p: string) => {
    if (!seen.has(p)) {
      seen.add(p);
      exposed.push(p);
    }
  };
  const bindings: Record<string, PortBinding[]> = {};
  for (const raw of f.publish) {
    for (const m of parsePortSpec(standardNotation(raw))) {
      expose(m.port);
      (bindings[m.port] ??= []).push(m.binding);
    }
  }
  for (const e of f.expose) for (const p of parseExpose(e)) expose(p);
  for (const key of f.imageExposed ?? []) {
    // An image may say "80" (no protocol) or even garbage: keep what makes sense, as Docker does.
    const [proto, port] = splitProtoPort(key);
    const r = parsePortRange(port);
    if (!r || !PROTOS.includes(proto.toLowerCase() as Proto)) continue;
    for (let n = r[0]; n <= r[1]; n++) expose(`${n}/${proto.toLowerCase()}`);
  }
  for (const key of Object.keys(bindings)) {
    if (portOf(key).port === 0) throw new UserError(`invalid port specification: "0"`);
  }
  return { exposed, bindings, publishAll: f.publishAll };
}

export function portOf(key: string): { port: number; proto: Proto } {
  const [proto, port] = splitProtoPort(key);
  return { port: Number(port), proto: proto as Proto };
}

/**
 * What start has to bind: every binding, plus (with -P) a random one for each exposed port
 * that has none, in Docker's order (sorted by port key).
 */
export function wantedBindings(pc: PortConfig): { key: string; binding: PortBinding }[] {
  const out: { key: string; binding: PortBinding }[] = [];
  const keys = new Set([...Object.keys(pc.bindings), ...(pc.publishAll ? pc.exposed : [])]);
  for (const key of [...keys].sort(naturalLess)) {
    const bs = pc.bindings[key];
    if (bs?.length) for (const b of bs) out.push({ key, binding: b });
    else if (pc.publishAll) out.push({ key, binding: { HostIp: "", HostPort: "" } });
  }
  return out;
}

// ---- how Docker shows them ----

/** A map as Go's encoding/json writes it: keys in byte order. */
export function goMap<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Config.ExposedPorts as inspect prints it. */
export function exposedPortsDoc(pc: PortConfig | undefined): Record<string, object> | undefined {
  if (!pc?.exposed.length) return undefined;
  return goMap(Object.fromEntries(pc.exposed.map((p) => [p, {}])));
}

/** NetworkSettings.Ports of a running container: every exposed port, null when not published. */
export function networkPortsDoc(pc: PortConfig | undefined, published: PublishedPort[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const doc: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of pc?.exposed ?? []) doc[p] = null;
  for (const p of published) {
    const key = `${p.containerPort}/${p.proto}`;
    (doc[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return goMap(doc);
}

/** Go's net.JoinHostPort. */
function joinHostPort(host: string, port: string | number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `minid port NAME`: "80/tcp -> 0.0.0.0:8080" lines, in the CLI's natural order. */
export function portLines(ports: Record<string, { HostIp: string; HostPort: string }[] | null>): string[] {
  const out: string[] = [];
  for (const [from, bs] of Object.entries(ports)) for (const b of bs ?? []) out.push(`${from} -> ${joinHostPort(b.HostIp, b.HostPort)}`);
  return out.sort(naturalLess);
}

/** The Docker CLI's `sortorder.NaturalLess` as a comparator: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const digit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  while (i < a.length && j < b.length) {
    const ca = a[i]!;
    const cb = b[j]!;
    if (digit(ca) && digit(cb)) {
      let si = i;
      let sj = j;
      while (si < a.length && a[si] === "0") si++;
      while (sj < b.length && b[sj] === "0") sj++;
      let ei = si;
      let ej = sj;
      while (digit(a[ei])) ei++;
      while (digit(b[ej])) ej++;
      const na = a.slice(si, ei);
      const nb = b.slice(sj, ej);
      if (na.length !== nb.length) return na.length - nb.length;
      if (na !== nb) return na < nb ? -1 : 1;
      // equal numbers: fewer leading zeros first
      if (ei - i !== ej - j) return ei - i - (ej - j);
      i = ei;
      j = ej;
      continue;
    }
    if (ca !== cb) return ca < cb ? -1 : 1;
    i++;
    j++;
  }
  return a.length - i - (b.length - j);
}

/** One entry of the daemon's container list (types.Port). */
interface ListedPort {
  ip: string;
  privatePort: number;
  publicPort: number;
  type: string;
}

/** The ps PORTS column: Docker's formatter.DisplayablePorts (ranges grouped, mappings last). */
export function displayablePorts(ports: Record<string, { HostIp: string; HostPort: string }[] | null>): string {
  const list: ListedPort[] = [];
  for (const [key, bs] of Object.entries(ports)) {
    const { port, proto } = portOf(key);
    if (!bs?.length) list.push({ ip: "", privatePort: port, publicPort: 0, type: proto });
    else for (const b of bs) list.push({ ip: b.HostIp, privatePort: port, publicPort: Number(b.HostPort), type: proto });
  }
  list.sort((x, y) =>
    x.privatePort !== y.privatePort ? x.privatePort - y.privatePort
      : x.ip !== y.ip ? (x.ip < y.ip ? -1 : 1)
        : x.publicPort !== y.publicPort ? x.publicPort - y.publicPort
          : x.type < y.type ? -1 : x.type > y.type ? 1 : 0,
  );
  const groups = new Map<string, { first: number; last: number }>();
  const order: string[] = [];
  const result: string[] = [];
  const mappings: string[] = [];
  const formGroup = (key: string, first: number, last: number) => {
    const parts = key.split("/");
    let type = parts[0]!;
    let ip = "";
    if (parts.length > 1) {
      ip = parts[0]!;
      type = parts[1]!;
    }
    let group = String(first);
    if (first !== last) group = `${group}-${last}`;
    if (ip !== "") group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of list) {
    let key = p.type;
    if (p.ip !== "") {
      if (p.publicPort !== p.privatePort) {
        mappings.push(`${joinHostPort(p.ip, p.publicPort)}->${p.privatePort}/${p.type}`);
        continue;
      }
      key = `${p.ip}/${p.type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: p.privatePort, last: p.privatePort });
      order.push(key);
      continue;
    }
    if (p.privatePort === g.last + 1) {
      g.last = p.privatePort;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: p.privatePort, last: p.privatePort });
  }
  for (const key of order) {
    const g = groups.get(key)!;
    result.push(formGroup(key, g.first, g.last));
  }
  return [...result, ...mappings].join(", ");
}
