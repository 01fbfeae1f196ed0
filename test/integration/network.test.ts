// Networking as a Docker user sees it, checked from inside containers with busybox tools and
// on the host with `ip`/`nft`/`iptables`: the default bridge (eth0, address, route, /etc
// files), containers reaching each other, outbound traffic masqueraded (proved against a
// server in a network namespace this test makes to stand for "the outside", 203.0.113.0/24),
// the modes, user networks and their commands, hot-plug, bad input, and that nothing is left
// on the host (interfaces, rules, addresses) after rm -f, a killed watcher, parallel starts.
// Every bridge, veth and rule this file makes is named after its own --root (see
// network/store.ts), so parallel runs do not meet.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, chmodSync, readdirSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TestRoot, ensureBuilt, removeStoreNetworking } from "../helpers/minid.ts";
import { have, requires } from "../helpers/requires.ts";

const it = requires("root", "ip", "nft");
const r = new TestRoot("net");
const sh = (cmd: string) => Bun.spawnSync(["sh", "-c", cmd]);
const text = (cmd: string) => sh(cmd).stdout.toString();

// The outside: namespace `wan` joined to the host by a veth, a /30 of 203.0.113.0/24 picked by pid.
const k = (process.pid % 60) + 1;
const HOST_WAN = `203.0.113.${4 * k + 1}`;
const WAN = `203.0.113.${4 * k + 2}`;
const NS = `mwan${process.pid}`;
const HV = `mwh${process.pid % 100000}`;
let httpd: ReturnType<typeof Bun.spawn> | undefined;
let www = "";

function records(): { name: string; bridge?: string; subnet?: string; gateway?: string; id: string }[] {
  const d = join(r.dir, "networks");
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((n) => n.endsWith(".json")).map((n) => JSON.parse(readFileSync(join(d, n), "utf8")));
}
function allocations(): Record<string, string> {
  const d = join(r.dir, "networks", "ipam");
  if (!existsSync(d)) return {};
  return Object.assign({}, ...readdirSync(d).map((n) => JSON.parse(readFileSync(join(d, n), "utf8"))));
}
const hostLinks = () => text("ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1").split("\n").filter(Boolean);
/** Host interfaces that belong to containers of this root (veth + the first 10 hex of an id). */
function vethsOf(ids: string[]): string[] {
  return hostLinks().filter((l) => ids.some((id) => l.startsWith(`veth${id.slice(0, 10)}`)));
}
async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await Bun.sleep(20);
  }
  return true;
}
const runOut = (...args: string[]) => {
  const x = r.run(["run", "--rm", ...args]);
  return x;
};
const ipOf = (name: string, net = "") =>
  r.run(["inspect", "-f", net ? `{{(index .NetworkSettings.Networks "${net}").IPAddress}}` : "{{.NetworkSettings.IPAddress}}", name]).stdout.trim();

beforeAll(() => {
  if (!have("root") || !have("nft")) return;
  ensureBuilt();
  sh(`ip netns add ${NS} && ip link add ${HV} type veth peer name eth0 netns ${NS} && ip addr add ${HOST_WAN}/30 dev ${HV} && ip link set ${HV} up &&
      ip -n ${NS} addr add ${WAN}/30 dev eth0 && ip -n ${NS} link set eth0 up && ip -n ${NS} link set lo up`);
  www = mkdtempSync(join(tmpdir(), "minid-www-"));
  mkdirSync(join(www, "cgi-bin"));
  writeFileSync(join(www, "index.html"), "hello from wan\n");
  // The address the server sees the request come from.
  writeFileSync(join(www, "cgi-bin", "ip"), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n');
  chmodSync(join(www, "cgi-bin", "ip"), 0o755);
  httpd = Bun.spawn(["ip", "netns", "exec", NS, "busybox", "httpd", "-f", "-p", "80", "-h", www], { stdout: "ignore", stderr: "ignore" });
});

afterAll(() => {
  httpd?.kill(9);
  sh(`ip link del ${HV} 2>/dev/null; ip netns del ${NS} 2>/dev/null`);
  if (www) rmSync(www, { recursive: true, force: true });
  const mine = records().filter((n) => n.bridge).map((n) => n.bridge!);
  r.cleanup(); // rm -f of every container, then every bridge and rule of this root
  const left = hostLinks().filter((l) => mine.includes(l));
  const rules = text("nft list ruleset 2>/dev/null").split("\n").filter((l) => mine.some((b) => l.includes(`minid:net:${b}"`)));
  if (left.length || rules.length) throw new Error(`left on the host: ${[...left, ...rules].join(", ")}`);
});

describe("the default bridge", () => {
  it("eth0 with an address of the bridge network, the default route via its gateway, Docker's MAC, /etc/hosts and resolv.conf", () => {
    const y = runOut("busybox", "sh", "-c", "ip -o -4 addr show eth0; ip route; ip link show eth0; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname");
    expect(y.stderr).toBe("");
    expect(y.code).toBe(0);
    const net = records().find((n) => n.name === "bridge")!;
    expect(net.bridge).toMatch(/^minid[0-9a-f]{8}$/); // named after this root, not minid0
    const [info, hosts, resolv, hostname] = y.stdout.split("---\n");
    const m = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(info!)!;
    const [a, b, c, d] = m[1]!.split(".").map(Number);
    expect(`${m[1]}/${m[2]}`.startsWith(net.subnet!.split(".").slice(0, 2).join("."))).toBe(true);
    expect(info).toContain(`default via ${net.gateway} dev eth0`);
    expect(info).toContain(`link/ether 02:42:${[a, b, c, d].map((v) => v!.toString(16).padStart(2, "0")).join(":")}`);
    expect(hosts).toContain("127.0.0.1\tlocalhost\n");
    expect(hosts!.trim().split("\n").at(-1)).toBe(`${m[1]}\t${hostname!.trim()}`);
    const host = readFileSync("/etc/resolv.conf", "utf8");
    if (!/^nameserver\s+127\./m.test(host)) expect(resolv).toBe(host.replace(/\n*$/, "\n"));
    expect(resolv).not.toMatch(/^nameserver\s+127\./m);
    // the bridge has the gateway and the network's masquerade rule is in minid's table
    expect(text(`ip -o -4 addr show ${net.bridge}`)).toContain(`inet ${net.gateway}/`);
    expect(text("nft list table ip minid")).toContain(`ip saddr ${net.subnet} oifname != "${net.bridge}" masquerade comment "minid:net:${net.bridge}"`);
  });

  it("two containers reach each other by IP; inspect shows the address the container has", () => {
    expect(r.run(["run", "-d", "--name", "pa", "busybox", "sleep", "60"]).code).toBe(0);
    const ip = ipOf("pa");
    expect(r.run(["exec", "pa", "ip", "-o", "-4", "addr", "show", "eth0"]).stdout).toContain(`inet ${ip}/`);
    const mac = r.run(["inspect", "-f", "{{.NetworkSettings.MacAddress}} {{.HostConfig.NetworkMode}} {{.NetworkSettings.Networks.bridge.Gateway}}", "pa"]).stdout.trim();
    expect(mac).toBe(`02:42:${ip.split(".").map((v) => Number(v).toString(16).padStart(2, "0")).join(":")} bridge ${records().find((n) => n.name === "bridge")!.gateway}`);
    const p = runOut("busybox", "ping", "-c1", "-W2", ip);
    expect(p.stdout).toContain("1 packets received");
    expect(p.code).toBe(0);
  });

  it("outbound: a container fetches from the outside, which sees the host's address (masquerade)", () => {
    const page = runOut("busybox", "timeout", "5", "wget", "-qO-", `http://${WAN}/`);
    expect(page.stdout).toBe("hello from wan\n");
    const src = runOut("busybox", "timeout", "5", "wget", "-qO-", `http://${WAN}/cgi-bin/ip`);
    expect(src.stdout.trim().replace(/^\[::ffff:(.*)\]$/, "$1")).toBe(HOST_WAN); // httpd listens on v6 too
    expect(src.code).toBe(0);
  });
});

describe("modes", () => {
  it("none: only lo; host: the host's interfaces and files; container:NAME: that container's eth0", () => {
    const none = runOut("--network", "none", "busybox", "sh", "-c", "ip -o link | cut -d: -f2");
    expect(none.stdout.trim()).toBe("lo");
    const sysctl = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
    const before = readFileSync(sysctl, "utf8");
    const host = runOut("--network", "host", "busybox", "sh", "-c", "ip -o link; echo ---; cat /etc/resolv.conf; hostname");
    expect(readFileSync(sysctl, "utf8")).toBe(before); // the container's default sysctls are not the host's
    expect(host.stdout).toContain(`${HV}@`);
    expect(host.stdout).toContain(readFileSync("/etc/resolv.conf", "utf8").trim());
    expect(host.stdout.trim().split("\n").at(-1)).toBe(text("hostname").trim());
    r.run(["run", "-d", "--name", "owner", "busybox", "sleep", "60"]);
    const ip = ipOf("owner");
    const joined = runOut("--network", "container:owner", "busybox", "sh", "-c", "ip -o -4 addr show eth0; hostname");
    expect(joined.stdout).toContain(`inet ${ip}/`);
    expect(joined.stdout.trim().split("\n").at(-1)).toBe(r.run(["inspect", "-f", "{{.Config.Hostname}}", "owner"]).stdout.trim());
    const mode = r.run(["run", "-d", "--network", "container:owner", "busybox", "sleep", "60"]).stdout.trim();
    expect(r.run(["inspect", "-f", "{{.HostConfig.NetworkMode}}", mode]).stdout.trim()).toMatch(/^container:[0-9a-f]{64}$/);
    // ps's NETWORKS as Docker's: the networks joined; a joiner of another's namespace has none.
    r.run(["run", "-d", "--name", "hostps", "--network", "host", "busybox", "sleep", "60"]);
    r.run(["run", "-d", "--name", "noneps", "--network", "none", "busybox", "sleep", "60"]);
    const joiner = r.run(["inspect", "-f", "{{.Name}}", mode]).stdout.trim().replace(/^\//, "");
    const names = ["hostps", "noneps", "owner", joiner].flatMap((n) => ["-f", `name=^${n}$`]);
    const cols = r.run(["ps", ...names, "--format", "{{.Names}}={{.Networks}}"]).stdout.trim().split("\n").sort();
    expect(cols).toEqual(["hostps=host", "noneps=none", "owner=bridge", `${joiner}=`].sort());
    r.run(["rm", "-f", "hostps", "noneps"]);
    // the owner goes: its joiner keeps the namespace, but not the owner's interface (as Docker)
    const ownerId = r.run(["inspect", "-f", "{{.Id}}", "owner"]).stdout.trim();
    r.run(["rm", "-f", "owner"]);
    expect(vethsOf([ownerId])).toEqual([]);
    expect(r.run(["exec", mode, "ip", "-o", "link"]).stdout).not.toContain("eth0");
    r.run(["rm", "-f", mode]);
    expect(r.run(["run", "--rm", "--network", "container:owner", "busybox", "true"]).code).toBe(125);
  });

  it("--add-host NAME:IP and host-gateway; --hostname", () => {
    const x = runOut("--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway", "--hostname", "web.example.com", "busybox", "cat", "/etc/hosts");
    const gw = records().find((n) => n.name === "bridge")!.gateway;
    expect(x.stdout).toContain("10.1.2.3\tdb\n");
    expect(x.stdout).toContain(`${gw}\tgw\n`);
    expect(x.stdout.trim().split("\n").at(-1)).toMatch(/^\d+\.\d+\.\d+\.\d+\tweb\.example\.com web$/);
  });
});

describe("build", () => {
  it("RUN has the default bridge, as in Docker's builds; --network none takes it away", () => {
    const ctx = mkdtempSync(join(tmpdir(), "minid-netbuild-"));
    try {
      writeFileSync(join(ctx, "Dockerfile"), `FROM busybox\nRUN ip -o link > /links && timeout 5 wget -qO- http://${WAN}/ > /page\n`);
      expect(r.run(["build", "-q", "-t", "netb", ctx]).code).toBe(0);
      const got = runOut("--network", "none", "netb", "cat", "/links", "/page").stdout;
      expect(got).toContain("eth0");
      expect(got).toContain("hello from wan");
      writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nRUN ip -o link > /links\n");
      expect(r.run(["build", "-q", "--network", "none", "-t", "netc", ctx]).code).toBe(0);
      expect(runOut("--network", "none", "netc", "cat", "/links").stdout).not.toContain("eth0");
      r.run(["rmi", "-f", "netb", "netc"]);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });
});

describe("user networks", () => {
  it("create, containers with --ip ping each other, internal has no way out, rm refuses in use, ls/inspect, hot-plug, prune", () => {
    const sub = `10.${200 + (process.pid % 50)}.${process.pid % 250}.0/24`;
    const pre = sub.replace(/\.0\/24$/, "");
    const c = r.run(["network", "create", "--subnet", sub, "--gateway", `${pre}.254`, "--label", "team=a", "front"]);
    expect(c.code).toBe(0);
    expect(c.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(r.run(["network", "create", "front"]).stderr).toContain("already exists");
    expect(r.run(["run", "-d", "--name", "f1", "--network", "front", "--ip", `${pre}.7`, "busybox", "sleep", "60"]).code).toBe(0);
    const taken = r.run(["run", "--rm", "--network", "front", "--ip", `${pre}.7`, "busybox", "true"]);
    expect(taken.code).toBe(125);
    expect(taken.stderr).toContain(`Address already in use: ${pre}.7`);
    const p = runOut("--network", "front", "busybox", "sh", "-c", `ip route; ping -c1 -W2 ${pre}.7`);
    expect(p.stdout).toContain(`default via ${pre}.254 dev eth0`);
    expect(p.code).toBe(0);
    const ls = r.run(["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}", "-f", "label=team=a"]);
    expect(ls.stdout).toBe("front bridge local\n");
    expect(r.run(["network", "ls"]).stdout.split("\n")[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    const doc = JSON.parse(r.run(["network", "inspect", "front"]).stdout)[0];
    expect(doc.IPAM.Config).toEqual([{ Subnet: sub, Gateway: `${pre}.254` }]);
    expect(Object.values(doc.Containers).map((x: any) => x.IPv4Address)).toEqual([`${pre}.7/24`]);
    expect(r.run(["inspect", "-f", "{{.Driver}} {{.Internal}} {{.Labels.team}}", "front"]).stdout).toBe("bridge false a\n");
    const rm = r.run(["network", "rm", "front"]);
    expect(rm.code).toBe(1);
    expect(rm.stderr.trim().split("\n")).toHaveLength(1);
    expect(rm.stderr).toContain("f1");

    expect(r.run(["network", "create", "--internal", "back"]).code).toBe(0);
    const internal = runOut("--network", "back", "busybox", "sh", "-c", `ip route; timeout 3 wget -qO- http://${WAN}/ && echo REACHED`);
    expect(internal.stdout).not.toContain("default via");
    expect(internal.stdout).not.toContain("REACHED");

    // hot-plug: back appears as eth1 in the running f1, then goes
    expect(r.run(["network", "connect", "back", "f1"]).code).toBe(0);
    const backIp = ipOf("f1", "back");
    expect(r.run(["exec", "f1", "ip", "-o", "-4", "addr", "show", "eth1"]).stdout).toContain(`inet ${backIp}/`);
    expect(r.run(["exec", "f1", "cat", "/etc/hosts"]).stdout).toContain(`${backIp}\t`);
    expect(r.run(["network", "connect", "back", "f1"]).code).toBe(1);
    expect(r.run(["network", "disconnect", "back", "f1"]).code).toBe(0);
    expect(r.run(["exec", "f1", "ip", "-o", "link"]).stdout).not.toContain("eth1");
    expect(r.run(["network", "disconnect", "back", "f1"]).code).toBe(1);
    expect(r.run(["network", "disconnect", "-f", "back", "f1"]).code).toBe(0);

    // a stopped container's record gains the endpoint; its next start wires it (eth1)
    r.run(["run", "-d", "--name", "s1", "busybox", "sleep", "60"]);
    r.run(["stop", "-t", "0", "s1"]);
    expect(r.run(["network", "connect", "--ip", `${pre}.9`, "front", "s1"]).code).toBe(0);
    r.run(["start", "s1"]);
    expect(r.run(["exec", "s1", "ip", "-o", "-4", "addr", "show", "eth1"]).stdout).toContain(`inet ${pre}.9/24`);
    expect(r.run(["exec", "s1", "ip", "route"]).stdout).toContain("default via"); // via the first network: bridge

    r.run(["rm", "-f", "f1", "s1"]);
    const pr = r.run(["network", "prune", "-f"]);
    expect(pr.stdout).toBe("Deleted Networks:\nfront\nback\n");
    expect(r.run(["network", "ls", "-q", "-f", "type=custom"]).stdout).toBe("");
    expect(r.run(["network", "rm", "bridge"]).stderr).toContain("pre-defined network");
  });

  requires("root", "ip", "nft", "iptables")("the iptables fallback puts the same rules in minid's chains and takes them away", () => {
    const env = { MINID_FIREWALL: "iptables" };
    const c = r.run(["network", "create", "ipt"], { env });
    expect(c.code).toBe(0);
    const net = records().find((n) => n.name === "ipt")!;
    expect(text("iptables -w -t nat -S MINID-POSTROUTING")).toContain(`-A MINID-POSTROUTING -s ${net.subnet} ! -o ${net.bridge} -m comment --comment "minid:net:${net.bridge}" -j MASQUERADE`);
    expect(text("iptables -w -t nat -S POSTROUTING")).toContain("-j MINID-POSTROUTING");
    expect(r.run(["network", "rm", "ipt"], { env }).code).toBe(0);
    expect(text("iptables -w -t nat -S 2>/dev/null")).not.toContain(`minid:net:${net.bridge}`);
    expect(hostLinks()).not.toContain(net.bridge);
  });
});

describe("ps filters that name networks, volumes and other containers", () => {
  it("network=, volume= (name or destination), before=, since=", () => {
    r.run(["run", "-d", "--name", "f-a", "-v", "fvol:/data", "busybox", "sleep", "60"]);
    r.run(["run", "-d", "--name", "f-b", "busybox", "sleep", "60"]);
    expect(r.run(["network", "create", "fnet"]).code).toBe(0);
    r.run(["run", "-d", "--name", "f-c", "--network", "fnet", "busybox", "sleep", "60"]);
    const ps = (f: string) => r.run(["ps", "-f", "name=^f-", "-f", f, "--format", "{{.Names}}"]).stdout.trim().split("\n").filter(Boolean).sort();
    try {
      expect(ps("volume=fvol")).toEqual(["f-a"]);
      expect(ps("volume=/data")).toEqual(["f-a"]);
      expect(ps("network=fnet")).toEqual(["f-c"]);
      expect(ps("network=bridge")).toEqual(["f-a", "f-b"]);
      expect(ps("before=f-c")).toEqual(["f-a", "f-b"]);
      expect(ps("since=f-a")).toEqual(["f-b", "f-c"]);
      const bad = r.run(["ps", "-f", "before=nosuch"]);
      expect([bad.code, bad.stderr]).toEqual([1, "minid: No such container: nosuch\n"]);
    } finally {
      r.run(["rm", "-f", "f-a", "f-b", "f-c"]);
      r.run(["network", "rm", "fnet"]);
      r.run(["volume", "rm", "fvol"]);
    }
  });
});

describe("bad input: one line, Docker's exit code, nothing left", () => {
  it("--network nosuch, --ip outside the subnet or on the default bridge, bad --subnet, bad --add-host", () => {
    const before = r.containerIds().length;
    for (const [args, want] of [
      [["run", "--rm", "--network", "nosuch", "busybox", "true"], "network nosuch not found"],
      [["run", "--rm", "--ip", "172.17.0.9", "busybox", "true"], "user defined networks only"],
      [["run", "--rm", "--add-host", "nocolon", "busybox", "true"], "bad format for add-host"],
      [["run", "--rm", "--ip", "300.1.1.1", "busybox", "true"], "invalid IPv4 address"],
    ] as [string[], string][]) {
      const x = r.run(args);
      expect(x.code).toBe(125);
      expect(x.stderr.trim().split("\n")).toHaveLength(1);
      expect(x.stderr).toContain(want);
    }
    expect(r.run(["network", "create", "--subnet", "10.250.0.1/24", "n1"]).stderr).toContain("it should be 10.250.0.0/24");
    expect(r.run(["network", "create", "--subnet", "nonsense", "n1"]).code).toBe(1);
    expect(r.run(["network", "create", "--subnet", "10.251.0.0/24", "--gateway", "10.9.9.9", "n1"]).code).toBe(1);
    expect(r.run(["network", "ls", "-q", "-f", "name=n1"]).stdout).toBe("");
    const sub = `10.${150 + (process.pid % 50)}.7.0/24`;
    r.run(["network", "create", "--subnet", sub, "tiny"]);
    const out = r.run(["run", "--rm", "--network", "tiny", "--ip", "10.1.1.1", "busybox", "true"]);
    expect(out.code).toBe(125);
    expect(out.stderr).toContain(`not in the subnet ${sub}`);
    r.run(["network", "rm", "tiny"]);
    expect(r.containerIds().length).toBe(before);
  });
});

describe("nothing left behind", () => {
  it("after rm -f, after kill -9 of the watcher, after 20 parallel starts (unique addresses)", async () => {
    r.run(["rm", "-f", ...r.containerIds()]);
    expect(allocations()).toEqual({});
    // rm -f of a running container
    const id1 = r.run(["run", "-d", "busybox", "sleep", "60"]).stdout.trim();
    expect(vethsOf([id1])).toHaveLength(1);
    expect(Object.values(allocations())).toEqual([id1]);
    r.run(["rm", "-f", id1]);
    expect(await until(() => vethsOf([id1]).length === 0)).toBe(true);
    expect(allocations()).toEqual({});

    // kill -9 of the watcher: the container keeps its network; rm -f takes it all
    const id2 = r.run(["run", "-d", "busybox", "sleep", "60"]).stdout.trim();
    const watcher = Number(r.run(["inspect", "-f", "{{.State.Pid}}", id2]).stdout) && JSON.parse(readFileSync(join(r.dir, "containers", id2, "state.json"), "utf8")).state.watcherPid;
    process.kill(watcher, 9);
    await until(() => !existsSync(`/proc/${watcher}`));
    expect(Object.values(allocations())).toEqual([id2]); // still in use: the container runs
    const another = r.run(["run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]).stdout;
    expect(another).not.toContain(`inet ${ipOf(id2)}/`);
    r.run(["rm", "-f", id2]);
    expect(await until(() => vethsOf([id2]).length === 0)).toBe(true);
    expect(allocations()).toEqual({});

    // 20 parallel starts
    const runs = Array.from({ length: 20 }, () => r.spawn(["run", "-d", "busybox", "sleep", "60"]));
    const ids = (await Promise.all(runs.map(async (p) => ((await p.exited) === 0 ? (await new Response(p.stdout).text()).trim() : `failed: ${await new Response(p.stderr).text()}`))));
    expect(ids.filter((i) => !/^[0-9a-f]{64}$/.test(i))).toEqual([]);
    const ips = ids.map((i) => ipOf(i));
    expect(new Set(ips).size).toBe(20);
    expect(Object.keys(allocations()).sort()).toEqual([...ips].sort());
    // each container really has the address inspect says
    expect(r.run(["exec", ids[7]!, "ip", "-o", "-4", "addr", "show", "eth0"]).stdout).toContain(`inet ${ips[7]}/`);
    r.run(["rm", "-f", ...ids]);
    expect(await until(() => vethsOf(ids).length === 0, 10_000)).toBe(true);
    expect(allocations()).toEqual({});
    // and the default bridge with its rules goes when the store's networking is taken away
    const br = records().find((n) => n.name === "bridge")!.bridge!;
    removeStoreNetworking(r.dir);
    expect(hostLinks()).not.toContain(br);
    expect(text("nft list table ip minid 2>/dev/null")).not.toContain(`minid:net:${br}"`);
  }, 120_000);

  it("a CLI killed at any point of a run leaves no interface or address once its leftovers are removed", async () => {
    const watchers = () => text(`ip -o link | grep -o 'mntmp[0-9a-z]*' || true`).split("\n").filter(Boolean);
    const before = watchers();
    for (const ms of [5, 40, 80, 120, 200]) {
      const p = r.spawn(["run", "-d", "busybox", "sleep", "60"]);
      await Bun.sleep(ms);
      p.kill(9);
      await p.exited;
    }
    // whatever got far enough is a container; the rest went with its watcher (a prewarmed
    // veth of a watcher whose CLI died must go too; other runs' come and go meanwhile)
    const after = watchers().filter((w) => !before.includes(w));
    await until(() => !watchers().some((w) => after.includes(w)), 10_000);
    expect(watchers().filter((w) => after.includes(w))).toEqual([]);
    const ids = r.containerIds();
    if (ids.length) r.run(["rm", "-f", ...ids]);
    r.run(["container", "prune", "-f"]);
    expect(await until(() => vethsOf(ids).length === 0)).toBe(true);
    expect(allocations()).toEqual({});
  }, 60_000);

  it("a stop gives the address back and the next start takes one again; a bridge gone (a reboot) is made again", () => {
    // the previous test took the default bridge and its rules away, as a reboot would
    const id = r.run(["run", "-d", "busybox", "sleep", "60"]).stdout.trim();
    const net = records().find((n) => n.name === "bridge")!;
    expect(text(`ip -o -4 addr show ${net.bridge}`)).toContain(`inet ${net.gateway}/`);
    expect(text("nft list table ip minid")).toContain(`comment "minid:net:${net.bridge}"`);
    expect(Object.values(allocations())).toEqual([id]);
    r.run(["stop", "-t", "0", id]);
    expect(allocations()).toEqual({});
    expect(r.run(["inspect", "-f", "{{.NetworkSettings.IPAddress}}|{{.NetworkSettings.Networks.bridge.NetworkID}}", id]).stdout.trim()).toMatch(/^\|[0-9a-f]{64}$/);
    r.run(["start", id]);
    expect(Object.values(allocations())).toEqual([id]);
    expect(r.run(["exec", id, "ip", "-o", "-4", "addr", "show", "eth0"]).stdout).toContain(`inet ${ipOf(id)}/`);
    r.run(["rm", "-f", id]);
  });
});
