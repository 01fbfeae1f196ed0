// The embedded DNS of user networks, seen from inside containers with busybox: names,
// aliases, short ids, a name on another network not resolving, forwarding to a --dns
// upstream on the host's loopback (a fake this file runs), a watcher killed with -9, and
// nothing left listening once no container runs. --dns* on the default bridge. Traffic goes
// only to the test's own networks and to loopback.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { have, requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root", "nft");
const { r } = useRunRoot("dns");
const tag = (process.pid % 10000).toString(36);
const net1 = `dnsa${tag}`;
const net2 = `dnsb${tag}`;

const WEB = ["sh", "-c", "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 8080 -h /www"];

/**
 * A fake upstream resolver on a loopback address of this run's own, port 53, in a child
 * process (the tests run minid synchronously, which would stall a server in this one).
 */
const upstreamIp = `127.${100 + (process.pid % 100)}.${(process.pid >> 8) % 250}.${1 + (Date.now() % 250)}`;
let upstream: ReturnType<typeof Bun.spawn> | undefined;
const FAKE = `
import dgram from "node:dgram";
import { RCODE, TYPE, buildResponse, parseQuery } from ${JSON.stringify(join(import.meta.dir, "../../src/network/dns-wire.ts"))};
const s = dgram.createSocket("udp4");
s.on("message", (m, from) => {
  const q = parseQuery(m);
  const reply = q.question.name === "outside.example" && q.question.type === TYPE.A
    ? buildResponse(q, RCODE.NOERROR, [{ type: TYPE.A, ttl: 60, data: "192.0.2.99" }])
    : buildResponse(q, RCODE.NXDOMAIN);
  s.send(reply, from.port, from.address);
});
s.bind(53, process.argv[2], () => console.log("ready"));
// gone with the test run, even one that was killed: its end of stdin closes
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
`;

beforeAll(async () => {
  if (!have("root")) return;
  const script = join(r.dir, "fake-upstream.ts");
  writeFileSync(script, FAKE);
  upstream = Bun.spawn([process.execPath, script, upstreamIp], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = (upstream.stdout as ReadableStream<Uint8Array>).getReader();
  await reader.read(); // "ready"
  reader.releaseLock();
});
afterAll(() => {
  upstream?.kill();
});

function gatewayOf(net: string): string {
  return r.run(["network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", net]).stdout.trim();
}

/** UDP sockets bound to ip:53 on the host (from /proc/net/udp). */
function udpListeners(ip: string): number {
  const hex = ip.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).reverse().join("").toUpperCase();
  return readFileSync("/proc/net/udp", "utf8").split("\n").filter((l) => l.includes(`${hex}:0035`)).length;
}

describe("names on a user network", () => {
  let webId = "";

  it("by name, alias and short id: ping, wget, nslookup; the resolver is the gateway", () => {
    expect(r.run(["network", "create", net1]).code).toBe(0);
    expect(r.run(["network", "create", net2]).code).toBe(0);
    const web = r.run(["run", "-d", "--name", "web", "--network", net1, "--network-alias", "webalias", "busybox", ...WEB]);
    expect(web.code).toBe(0);
    webId = web.stdout.trim();
    const res = r.run(["run", "--rm", "--network", net1, "busybox", "sh", "-c",
      `cat /etc/resolv.conf; ping -c1 -W2 web >/dev/null && echo ping-ok; ` +
      `for i in 1 2 3 4 5 6 7 8 9 10; do timeout 5 wget -qO- http://web:8080/ && break; sleep 0.2; done; ` +
      `nslookup webalias | grep -A1 '^Name:'; nslookup web.${net1} | grep -c '^Address: '; nslookup ${webId.slice(0, 12)} | grep -c '^Address: '`]);
    expect(res.stderr).toBe("");
    const gw = gatewayOf(net1);
    expect(res.stdout).toStartWith(`nameserver ${gw}\noptions ndots:0\n`);
    expect(res.stdout).toContain("ping-ok\nhello-web\n");
    const ip = r.run(["inspect", "--format", `{{(index .NetworkSettings.Networks "${net1}").IPAddress}}`, "web"]).stdout.trim();
    expect(res.stdout).toContain(`Name:\twebalias\nAddress: ${ip}\n`);
    expect(res.stdout.trim().endsWith("1\n1")).toBe(true); // web.NETWORK and the short id
  }, 30_000);

  it("a name on another network does not resolve, and says so at once", () => {
    const res = r.run(["run", "--rm", "--network", net2, "busybox", "sh", "-c", "nslookup web; ping -c1 -W1 web"]);
    expect(res.code).not.toBe(0);
    expect(res.stdout + res.stderr).toContain("NXDOMAIN");
    expect(res.stderr).toContain("bad address 'web'");
    // A single-label name no member has is the embedded resolver's own NXDOMAIN (not timed
    // here: a loaded host makes any bound a flake).
    // nor does asking the other network's resolver directly: it answers its members only
    const direct = r.run(["run", "--rm", "--network", net2, "busybox", "sh", "-c", `timeout 3 nslookup web ${gatewayOf(net1)}`]);
    expect(direct.code).not.toBe(0);
    expect(direct.stdout + direct.stderr).toContain("REFUSED");
    expect(direct.stdout).not.toContain("Name:\tweb");
  }, 30_000);

  it("other names go to the container's --dns upstream, here on the host's loopback", () => {
    const res = r.run(["run", "--rm", "--network", net1, "--dns", upstreamIp, "busybox", "sh", "-c", "cat /etc/resolv.conf; nslookup outside.example"]);
    expect(res.stdout).toStartWith(`nameserver ${gatewayOf(net1)}\n`);
    expect(res.stdout).toContain(`# ExtServers: [${upstreamIp}]`);
    expect(res.stdout).toContain("Name:\toutside.example\nAddress: 192.0.2.99");
    // and the container's own names still resolve
    expect(r.run(["run", "--rm", "--network", net1, "--dns", upstreamIp, "busybox", "nslookup", "web"]).code).toBe(0);
  }, 30_000);

  it("a container connected to a second network resolves the names of both", () => {
    expect(r.run(["run", "-d", "--name", "other", "--network", net2, "busybox", "sleep", "600"]).code).toBe(0);
    expect(r.run(["run", "-d", "--name", "both", "--network", net1, "busybox", "sleep", "600"]).code).toBe(0);
    expect(r.run(["network", "connect", net2, "both"]).code).toBe(0);
    const res = r.run(["exec", "both", "sh", "-c", "nslookup web >/dev/null && nslookup other >/dev/null && echo both-ok"]);
    expect(res.stdout.trim()).toBe("both-ok");
    // the second network's own members still do not see the first's
    expect(r.run(["exec", "other", "nslookup", "web"]).code).not.toBe(0);
    expect(r.run(["rm", "-f", "other", "both"]).code).toBe(0);
  }, 30_000);

  it("a watcher killed with -9: the network's other watchers go on answering", async () => {
    const client = r.run(["run", "-d", "--name", "client", "--network", net1, "busybox", "sleep", "600"]);
    expect(client.code).toBe(0);
    const gw = gatewayOf(net1);
    expect(udpListeners(gw)).toBe(2); // web's and client's watchers share gateway:53
    const st = JSON.parse(readFileSync(join(r.dir, "containers", webId, "state.json"), "utf8"));
    process.kill(st.state.watcherPid, "SIGKILL");
    const deadline = Date.now() + 5000;
    while (udpListeners(gw) !== 1 && Date.now() < deadline) await Bun.sleep(20);
    expect(udpListeners(gw)).toBe(1);
    const res = r.run(["exec", "client", "nslookup", "web"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("Name:\tweb\n");
  }, 30_000);

  it("nothing listens once no container of the network runs", () => {
    const gw = gatewayOf(net1);
    expect(r.run(["rm", "-f", "web", "client"]).code).toBe(0);
    expect(udpListeners(gw)).toBe(0);
    // (here, not in afterAll: the root's own cleanup runs first and would be undone)
    expect(r.run(["network", "rm", net1, net2]).code).toBe(0);
  });
});

describe("--dns, --dns-search, --dns-option on the default bridge", () => {
  it("go into resolv.conf as given; no embedded resolver there", () => {
    const res = r.run(["run", "--rm", "--dns", "192.0.2.1", "--dns", "192.0.2.2", "--dns-search", "example.com", "--dns-option", "ndots:3", "busybox", "cat", "/etc/resolv.conf"]);
    expect(res.stdout).toBe("nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch example.com\noptions ndots:3\n");
    const doc = JSON.parse(r.run(["run", "-d", "--name", "dnsflags", "--dns", "192.0.2.1", "--dns-search", ".", "busybox", "true"]).code === 0 ? r.run(["inspect", "dnsflags"]).stdout : "[{}]")[0];
    expect(doc.HostConfig.Dns).toEqual(["192.0.2.1"]);
    expect(doc.HostConfig.DnsSearch).toEqual(["."]);
    expect(r.run(["rm", "-f", "dnsflags"]).code).toBe(0);
  });
});
