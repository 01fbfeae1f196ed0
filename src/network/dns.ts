// The embedded DNS of user networks: containers on a user network resolve each other by
// name, --network-alias and short id; other names go to the host's resolvers (or --dns).
//
// There is no daemon. Every watcher of a running container on a user network serves the
// network's resolver itself: a UDP and a TCP socket on the network's gateway address, port
// 53, opened with SO_REUSEPORT, so all the watchers of one network share the address and the
// kernel spreads queries over them. Each answers from the store (the network's allocations
// and the container records), so they all give the same answers, and:
//   - nothing runs when no container runs (the sockets die with the watchers);
//   - a watcher killed with -9 takes only its own sockets: the others go on answering.
//     Only a network whose one running container lost its watcher has no resolver then.
// The gateway is on the host side of the bridge, so loopback resolvers in the host's
// /etc/resolv.conf (systemd-resolved's 127.0.0.53) work as forwarding targets: we send from
// the host. Docker listens on 127.0.0.11 inside each container's namespace behind iptables
// redirects; serving on the gateway needs no rule in the container's namespace and no
// process there.
import type { Query } from "./dns-wire.ts";
import { RCODE, TYPE, CLASS_IN, DnsFormatError, buildResponse, formErr, parseQuery, reverseName, withId, messageId } from "./dns-wire.ts";

/** Docker's TTL for container records. */
export const TTL = 600;

/** Who is on the network now. */
export interface NameBook {
  /** IPv4 addresses of a container name, alias or short id (case-insensitive), or none. */
  lookup(name: string): string[];
  /** The name PTR answers with for an address of the network ("name.network"). */
  reverse(ip: string): string | undefined;
}

/** Send a query to the upstream resolvers; the answer, or undefined when none replied. */
export type Forwarder = (query: Uint8Array, tcp: boolean) => Promise<Uint8Array | undefined>;

/**
 * The answer to one message from a container (undefined: say nothing, e.g. to a response).
 * Names of the network are answered here (A; AAAA and other types empty, as the network has
 * no IPv6); PTR of its addresses too. A single-label name we do not know is NXDOMAIN at once
 * (a name on another network must not resolve, and the host's resolvers would only say
 * NXDOMAIN after a round trip); every other name is forwarded.
 */
export async function answer(msg: Uint8Array, book: NameBook, forward: Forwarder, tcp = false): Promise<Uint8Array | undefined> {
  let q: Query;
  try {
    q = parseQuery(msg);
  } catch (e) {
    if (e instanceof DnsFormatError) return msg.length >= 3 && !(msg[2]! & 0x80) ? formErr(msg) : undefined;
    throw e;
  }
  if (q.qr) return undefined;
  if (q.opcode !== 0) return buildResponse(q, RCODE.NOTIMP);
  const { name, type, class: cls } = q.question;
  if (cls === CLASS_IN || cls === 255) {
    const ips = name ? book.lookup(name) : [];
    if (ips.length) {
      if (type === TYPE.A || type === TYPE.ANY) return buildResponse(q, RCODE.NOERROR, ips.map((ip) => ({ type: TYPE.A, ttl: TTL, data: ip })));
      return buildResponse(q, RCODE.NOERROR, [], true);
    }
    const rev = reverseName(name);
    if (rev !== undefined && (type === TYPE.PTR || type === TYPE.ANY)) {
      const owner = book.reverse(rev);
      if (owner) return buildResponse(q, RCODE.NOERROR, [{ type: TYPE.PTR, ttl: TTL, data: owner }]);
    }
    if (name !== "" && !name.includes(".")) return buildResponse(q, RCODE.NXDOMAIN);
  }
  const reply = await forward(msg, tcp);
  if (!reply || reply.length < 12 || messageId(reply) !== q.id) return buildResponse(q, RCODE.SERVFAIL, [], false);
  return reply;
}

// ---- forwarding ----

/** Nameservers of a resolv.conf text (every one, loopback ones included). */
export function nameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1]!.replace(/%.*$/, ""));
  }
  return out;
}

const FORWARD_TIMEOUT_MS = 2000;

/** A forwarder to `servers` (port 53), tried in order, each for at most two seconds. */
export function upstream(servers: string[], port = 53, timeoutMs = FORWARD_TIMEOUT_MS): Forwarder {
  return async (query, tcp) => {
    for (const server of servers) {
      const r = tcp ? await overTcp(server, port, query, timeoutMs) : await overUdp(server, port, query, timeoutMs);
      if (r) return r;
    }
    return undefined;
  };
}

async function overUdp(server: string, port: number, query: Uint8Array, timeoutMs: number): Promise<Uint8Array | undefined> {
  const dgram = await import("node:dgram");
  const family = server.includes(":") ? "udp6" : "udp4";
  // Our own, unpredictable id upstream (with the random source port, what keeps an off-path
  // spoofer out); a container cannot steer which answer we take for whom.
  const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
  const sock = dgram.createSocket(family);
  try {
    return await new Promise<Uint8Array | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      sock.on("error", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      sock.on("message", (m, rinfo) => {
        if (rinfo.address !== server || rinfo.port !== port || m.length < 12 || messageId(m) !== id) return;
        clearTimeout(timer);
        resolve(withId(m, messageId(query)));
      });
      sock.send(withId(query, id), port, server);
    });
  } finally {
    try {
      sock.close();
    } catch {}
  }
}

async function overTcp(server: string, port: number, query: Uint8Array, timeoutMs: number): Promise<Uint8Array | undefined> {
  const net = await import("node:net");
  const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const s = net.connect({ host: server, port });
    const done = (v: Uint8Array | undefined) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.on("error", () => done(undefined));
    s.on("connect", () => {
      const q = withId(query, id);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      s.write(Buffer.concat([len, q]));
    });
    s.on("data", (d) => {
      buf = Buffer.concat([buf, d as Buffer]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        done(m.length >= 12 && messageId(m) === id ? withId(m, messageId(query)) : undefined);
      }
    });
    s.on("close", () => done(undefined));
  });
}

// ---- serving ----

export interface Resolver {
  close(): void;
}

/** How to answer a client: the names it may see and where its other names go; undefined: ignore it. */
export type ClientView = (clientIp: string) => { book: NameBook; forward: Forwarder } | undefined;

/**
 * Serve on address:port (UDP and TCP, SO_REUSEPORT) until close(). `view` is asked per query
 * with the client's address (a container's own --dns upstreams apply, whichever watcher of the
 * network answers; strangers get REFUSED). Throws when the address cannot be bound (another
 * program holds port 53 on it without SO_REUSEPORT).
 */
export async function serve(address: string, port: number, view: ClientView): Promise<Resolver> {
  const dgram = await import("node:dgram");
  const net = await import("node:net");
  const udp = dgram.createSocket({ type: "udp4", reusePort: true } as import("node:dgram").SocketOptions);
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(port, address, () => {
      udp.off("error", reject);
      resolve();
    });
  });
  udp.on("error", () => {});
  // Nothing a client sends, nor a store being rewritten under us, may take the watcher down.
  const safeView = (ip: string) => {
    try {
      return { v: view(ip) };
    } catch {
      return undefined;
    }
  };
  udp.on("message", (m, rinfo) => {
    const got = safeView(rinfo.address);
    if (!got) return;
    const v = got.v;
    if (!v) {
      const r = refused(m);
      try {
        if (r) udp.send(r, rinfo.port, rinfo.address);
      } catch {}
      return;
    }
    void answer(m, v.book, v.forward).then(
      (r) => {
        if (!r) return;
        // Over UDP an answer that does not fit 512 bytes (no EDNS here) says "truncated".
        if (r.length > 512) r = truncated(r);
        udp.send(r, rinfo.port, rinfo.address);
      },
      () => {},
    ).catch(() => {});
  });
  const tcp = net.createServer({ pauseOnConnect: false }, (c) => {
    let buf = Buffer.alloc(0);
    const client = (c.remoteAddress ?? "").replace(/^::ffff:/, "");
    c.setTimeout(10_000, () => c.destroy());
    c.on("error", () => c.destroy());
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d as Buffer]);
      if (buf.length > 70_000) return c.destroy();
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        const got = safeView(client);
        if (!got) return c.destroy();
        const v = got.v;
        if (!v) {
          const r = refused(m);
          if (r) c.write(Buffer.concat([Buffer.from([r.length >> 8, r.length & 255]), r]));
          return c.end();
        }
        void answer(m, v.book, v.forward, true).then(
          (r) => {
            if (!r || c.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(r.length);
            c.write(Buffer.concat([len, r]));
          },
          () => c.destroy(),
        ).catch(() => c.destroy());
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen({ host: address, port, reusePort: true } as import("node:net").ListenOptions, () => {
        tcp.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    udp.close();
    throw e;
  }
  return {
    close() {
      try {
        udp.close();
      } catch {}
      try {
        tcp.close();
      } catch {}
    },
  };
}

/** REFUSED for a client that is no member of the network (nothing about its names leaks). */
function refused(m: Uint8Array): Uint8Array | undefined {
  try {
    const q = parseQuery(m);
    return q.qr ? undefined : buildResponse(q, RCODE.REFUSED, [], false);
  } catch {
    return undefined;
  }
}

/** The header and question of an answer, TC set: the client asks again over TCP. */
function truncated(r: Uint8Array): Uint8Array {
  try {
    const q = parseQuery(Uint8Array.from(r).map((b, i) => (i === 2 ? b & 0x7f : b)));
    const out = buildResponse({ ...q, qr: false }, r[3]! & 0xf, [], Boolean(r[2]! & 0x04));
    out[2] = out[2]! | 0x02;
    return out;
  } catch {
    return r.subarray(0, 12);
  }
}

