import { describe, expect, test } from "bun:test";
import { RCODE, TYPE, buildQuery, buildResponse, encodeName, parseQuery, parseResponse, readName, reverseName } from "../../src/network/dns-wire.ts";
import { answer, nameservers, serve, upstream, type NameBook } from "../../src/network/dns.ts";

const book: NameBook = {
  lookup: (n) => (({ web: ["10.7.0.2"], api: ["10.7.0.3"], "0123456789ab": ["10.7.0.2"] }) as Record<string, string[]>)[n] ?? [],
  reverse: (ip) => (ip === "10.7.0.2" ? "web.mynet" : undefined),
};
const noForward = async () => {
  throw new Error("must not forward");
};

describe("DNS wire format", () => {
  test("a query round-trips, names are case-folded", () => {
    const q = parseQuery(buildQuery(0x1234, "Web.Example", TYPE.A));
    expect(q).toMatchObject({ id: 0x1234, rd: true, qr: false, opcode: 0, question: { name: "web.example", type: 1, class: 1 } });
  });
  test("compression pointers are followed, loops and forward pointers refused", () => {
    // "a" at 12, then a pointer to 12 at 15
    const m = Uint8Array.from([...new Array(12).fill(0), 1, 97, 0, 0xc0, 12]);
    expect(readName(m, 15)).toEqual({ name: "a", next: 17 });
    const loop = Uint8Array.from([...new Array(12).fill(0), 0xc0, 12]);
    expect(() => readName(loop, 12)).toThrow(/forward compression pointer/);
    const runs = Uint8Array.from([...new Array(12).fill(0), 5, 97]);
    expect(() => readName(runs, 12)).toThrow(/past the message/);
  });
  test("labels over 63 bytes and names over 255 are refused", () => {
    expect(() => encodeName("x".repeat(64))).toThrow();
    expect(() => encodeName(Array(5).fill("y".repeat(60)).join("."))).toThrow(/too long/);
  });
  test("responses carry id, question, flags and answers", () => {
    const q = parseQuery(buildQuery(7, "web", TYPE.A));
    const r = parseResponse(buildResponse(q, RCODE.NOERROR, [{ type: TYPE.A, ttl: 600, data: "10.7.0.2" }]));
    expect(r).toMatchObject({ id: 7, rcode: 0, aa: true, question: { name: "web", type: 1 } });
    expect(r.answers).toEqual([{ name: "web", type: 1, ttl: 600, data: "10.7.0.2" }]);
  });
  test("reverse names", () => {
    expect(reverseName("2.0.7.10.in-addr.arpa")).toBe("10.7.0.2");
    expect(reverseName("2.0.7.300.in-addr.arpa")).toBeUndefined();
    expect(reverseName("web")).toBeUndefined();
  });
});

describe("the embedded resolver's answers", () => {
  const ask = async (name: string, type: number, fwd = noForward as never) => parseResponse((await answer(buildQuery(99, name, type), book, fwd))!);
  test("A of a container name, alias or short id", async () => {
    expect((await ask("web", TYPE.A)).answers.map((a) => a.data)).toEqual(["10.7.0.2"]);
    expect((await ask("API", TYPE.A)).answers.map((a) => a.data)).toEqual(["10.7.0.3"]);
    expect((await ask("0123456789ab", TYPE.A)).answers).toHaveLength(1);
  });
  test("AAAA of our name: NOERROR and no answer (the network has no IPv6)", async () => {
    const r = await ask("web", TYPE.AAAA);
    expect(r.rcode).toBe(RCODE.NOERROR);
    expect(r.answers).toEqual([]);
  });
  test("PTR of a member's address", async () => {
    expect((await ask("2.0.7.10.in-addr.arpa", TYPE.PTR)).answers).toEqual([{ name: "2.0.7.10.in-addr.arpa", type: TYPE.PTR, ttl: 600, data: "web.mynet" }]);
  });
  test("an unknown single-label name is NXDOMAIN at once", async () => {
    const r = await ask("other", TYPE.A);
    expect(r.rcode).toBe(RCODE.NXDOMAIN);
    expect(r.answers).toEqual([]);
  });
  test("other names are forwarded with the answer relayed; no answer is SERVFAIL", async () => {
    const fwd = async (m: Uint8Array) => buildResponse(parseQuery(m), RCODE.NOERROR, [{ type: TYPE.A, ttl: 30, data: "192.0.2.9" }]);
    expect((await ask("example.org", TYPE.A, fwd as never)).answers.map((a) => a.data)).toEqual(["192.0.2.9"]);
    expect((await ask("example.org", TYPE.A, (async () => undefined) as never)).rcode).toBe(RCODE.SERVFAIL);
  });
  test("garbage gets FORMERR, responses get nothing", async () => {
    const r = await answer(Uint8Array.from([1, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]), book, noForward as never);
    expect(parseResponse(r!).rcode).toBe(RCODE.FORMERR);
    const resp = buildResponse(parseQuery(buildQuery(1, "web", TYPE.A)), 0);
    expect(await answer(resp, book, noForward as never)).toBeUndefined();
  });
  test("resolv.conf nameservers, loopback ones included", () => {
    expect(nameservers("# x\nnameserver 127.0.0.53\nnameserver  10.0.0.1\nsearch a\nnameserver fe80::1%eth0\n")).toEqual(["127.0.0.53", "10.0.0.1", "fe80::1"]);
  });
});

describe("serving on a shared address", () => {
  test("two resolvers share one address (SO_REUSEPORT); forwarding to a loopback upstream", async () => {
    const dgram = await import("node:dgram");
    const addr = `127.${50 + ((Math.random() * 50) | 0)}.${(Math.random() * 250) | 0}.${1 + ((Math.random() * 250) | 0)}`;
    // a fake upstream on a loopback address of this test's own
    const up = dgram.createSocket("udp4");
    await new Promise<void>((r) => up.bind(0, "127.0.0.1", () => r()));
    up.on("message", (m, ri) => up.send(buildResponse(parseQuery(m), RCODE.NOERROR, [{ type: TYPE.A, ttl: 5, data: "192.0.2.77" }]), ri.port, ri.address));
    const fwd = upstream(["127.0.0.1"], up.address().port, 1000);
    const view = (ip: string) => (ip === "127.0.0.1" ? { book, forward: fwd } : undefined);
    const a = await serve(addr, 5353, view);
    const b = await serve(addr, 5353, view);
    const c = dgram.createSocket("udp4");
    const query = (name: string) =>
      new Promise<ReturnType<typeof parseResponse>>((resolve) => {
        c.once("message", (m) => resolve(parseResponse(m)));
        c.send(buildQuery(5, name, TYPE.A), 5353, addr);
      });
    try {
      expect((await query("web")).answers[0]!.data).toBe("10.7.0.2");
      // a client the view does not know is refused
      const stranger = dgram.createSocket("udp4");
      await new Promise<void>((r) => stranger.bind(0, "127.0.0.2", () => r()));
      const refusedAnswer = await new Promise<ReturnType<typeof parseResponse>>((resolve) => {
        stranger.once("message", (m) => resolve(parseResponse(m)));
        stranger.send(buildQuery(8, "web", TYPE.A), 5353, addr);
      });
      stranger.close();
      expect(refusedAnswer.rcode).toBe(RCODE.REFUSED);
      expect(refusedAnswer.answers).toEqual([]);
      a.close();
      expect((await query("web")).answers[0]!.data).toBe("10.7.0.2");
      expect((await query("example.org")).answers[0]!.data).toBe("192.0.2.77");
      // over TCP too
      const net = await import("node:net");
      const tcpAnswer = await new Promise<ReturnType<typeof parseResponse>>((resolve, reject) => {
        const s = net.connect({ host: addr, port: 5353 }, () => {
          const q = buildQuery(6, "api", TYPE.A);
          s.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q]));
        });
        s.on("data", (d) => {
          resolve(parseResponse((d as Buffer).subarray(2)));
          s.destroy();
        });
        s.on("error", reject);
      });
      expect(tcpAnswer.answers[0]!.data).toBe("10.7.0.3");
    } finally {
      b.close();
      c.close();
      up.close();
    }
  });
});

describe("a container's resolv.conf", async () => {
  const { containerResolvConf } = await import("../../src/network/resolvconf.ts");
  const base = "nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n";
  const host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\n";
  test("no flags, no embedded DNS: the network mode's file as it is", () => {
    expect(containerResolvConf(base).text).toBe(base);
  });
  test("--dns, --dns-search (\".\" = none), --dns-option replace the base's", () => {
    const r = containerResolvConf(base, { servers: ["192.0.2.1"], search: ["."], options: ["ndots:2"] });
    expect(r.text).toBe("nameserver 192.0.2.1\noptions ndots:2\n");
    expect(containerResolvConf(base, { servers: [], search: ["a.example"], options: [] }).text).toBe("nameserver 10.0.0.2\nsearch a.example\noptions edns0\n");
  });
  test("user networks: the embedded resolver, ndots:0, upstreams = --dns or every host resolver (loopback too)", () => {
    const r = containerResolvConf(base, undefined, { address: "10.9.0.1", hostText: host });
    expect(r.text).toBe("nameserver 10.9.0.1\nsearch corp.example\noptions edns0 ndots:0\n\n# ExtServers: [127.0.0.53 10.0.0.2]\n");
    expect(r.upstream).toEqual(["127.0.0.53", "10.0.0.2"]);
    const d = containerResolvConf(base, { servers: ["192.0.2.1"], search: [], options: ["ndots:1"] }, { address: "10.9.0.1", hostText: host });
    expect(d.upstream).toEqual(["192.0.2.1"]);
    expect(d.text).toStartWith("nameserver 10.9.0.1\nsearch corp.example\noptions ndots:1\n");
  });
});

describe("a resolver under bad input", () => {
  // In a process of its own, as in a watcher: an exception that escaped would end it.
  test("garbage, truncated and looping messages, and a view that throws, leave it answering", async () => {
    const dgram = await import("node:dgram");
    const addr = `127.${50 + ((Math.random() * 50) | 0)}.${(Math.random() * 250) | 0}.${1 + ((Math.random() * 250) | 0)}`;
    const script = `
      import { serve } from ${JSON.stringify(new URL("../../src/network/dns.ts", import.meta.url).pathname)};
      const book = { lookup: (n) => (n === "web" ? ["10.7.0.2"] : []), reverse: () => undefined };
      let calls = 0;
      await serve(${JSON.stringify(addr)}, 5354, () => {
        if (++calls === 1) throw new Error("store being rewritten");
        return { book, forward: async () => undefined };
      });
      console.log("ready");
      setTimeout(() => process.exit(0), 5000);
    `;
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const c = dgram.createSocket("udp4");
    try {
      c.send(buildQuery(1, "web", TYPE.A), 5354, addr); // the view throws for this one
      for (const junk of [Uint8Array.from([1]), Uint8Array.from([...new Array(12).fill(0), 0xc0, 12]), new Uint8Array(600).fill(0xff)]) {
        c.send(junk, 5354, addr);
      }
      const r = await new Promise<ReturnType<typeof parseResponse> | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 3000);
        c.on("message", (m) => {
          const p = parseResponse(m);
          if (p.id === 2) {
            clearTimeout(timer);
            resolve(p);
          }
        });
        setTimeout(() => c.send(buildQuery(2, "web", TYPE.A), 5354, addr), 100);
      });
      expect(r?.answers[0]?.data).toBe("10.7.0.2");
    } finally {
      c.close();
      child.kill();
    }
  });
});
