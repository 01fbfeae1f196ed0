// Published ports: -p with and without a host address, -P, UDP, `port`/`ps`/`inspect`, a busy
// host port, and the rules gone after rm -f and after a watcher killed with -9. Traffic goes
// only to loopback and to a namespace this file makes to stand for another host.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";
import { minidCommand } from "../helpers/minid.ts";
import { buildUdpEcho } from "../helpers/udp-echo.ts";

const it = requires("root", "nft", "iptables", "ip", "gcc", "busybox");
const { r } = useRunRoot("ports");
// inside the test root: its cleanup takes it away
const scratch = join(r.dir, "scratch");

/** A port nothing listens on now (the kernel's pick, let go at once). */
function freePort(): number {
  const s = Bun.listen({ hostname: "0.0.0.0", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return (await res.text()).trim();
}

/** get() once the server in a just started container listens (refused until then). */
async function getWhenUp(url: string): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await get(url);
    } catch (e) {
      if (Date.now() > deadline || !/ECONNREFUSED/.test(String((e as { code?: string }).code ?? e))) throw e;
      await Bun.sleep(20);
    }
  }
}

/** nft rules that carry a tag of one of these containers (firewall.ts comments). */
function rulesOf(ids: string[]): string[] {
  const t = Bun.spawnSync(["nft", "list", "ruleset"], { stdout: "pipe" }).stdout.toString();
  return t.split("\n").filter((l) => ids.some((id) => l.includes(id)));
}

const WEB = ["sh", "-c", "mkdir -p /www && echo hello-$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www"];

function idOf(name: string): string {
  return r.run(["inspect", "--format", "{{.Id}}", name]).stdout.trim();
}

/**
 * A namespace joined to the host by a veth (a /30 of 198.51.100.0/24 picked by pid): "another
 * host". One a killed run left (its pid gone) is removed first.
 */
const outside = `mpo${process.pid % 100000}`;
const hostSide = `${outside}h`;
const net30 = 4 * (process.pid % 64);
const hostAddr = `198.51.100.${net30 + 1}`;
beforeAll(() => {
  const sh = (c: string) => Bun.spawnSync(["sh", "-c", c], { stderr: "pipe" });
  for (const line of sh("ip netns list").stdout.toString().split("\n")) {
    const m = /^mpo(\d+)\b/.exec(line);
    if (m && !existsSync(`/proc/${m[1]}`)) sh(`ip link del mpo${m[1]}h; ip netns del mpo${m[1]}`);
  }
  sh(`ip netns add ${outside} && ip link add ${hostSide} type veth peer name ${outside}c && ip link set ${outside}c netns ${outside} &&
    ip addr add ${hostAddr}/30 dev ${hostSide} && ip link set ${hostSide} up &&
    ip -n ${outside} addr add 198.51.100.${net30 + 2}/30 dev ${outside}c && ip -n ${outside} link set ${outside}c up && ip -n ${outside} link set lo up`);
});
// Every container this file made: after the root's cleanup, none may have a rule left.
const seen = new Set<string>();
const runMinid = r.run.bind(r);
r.run = (args, opts) => {
  const res = runMinid(args, opts);
  for (const id of r.containerIds()) seen.add(id);
  return res;
};
afterAll(async () => {
  const { removePortRules } = await import("../../src/network/portmap.ts");
  const left = [...seen].filter((id) => rulesOf([id]).length);
  for (const id of left) removePortRules(id, true);
  if (left.length) throw new Error(`port rules left behind by ${left.join(", ")}`);
});
afterAll(() => {
  Bun.spawnSync(["ip", "link", "del", hostSide], { stderr: "ignore" });
  Bun.spawnSync(["ip", "netns", "del", outside], { stderr: "ignore" });
});

function fromOutside(url: string): { code: number; out: string } {
  const res = Bun.spawnSync(["ip", "netns", "exec", outside, "timeout", "5", "busybox", "wget", "-qO-", url], { stdout: "pipe", stderr: "pipe" });
  return { code: res.exitCode ?? 1, out: res.stdout.toString().trim() };
}

describe("bad -p values: one line, exit 125, nothing made", () => {
  for (const [p, msg] of [
    ["abc", "invalid containerPort: abc"],
    ["70000:80", "invalid hostPort: 70000"],
    ["[::1]:8080:80", "IPv6 address ::1 is not supported"],
  ] as const) {
    it(`-p ${p}`, () => {
      const res = r.run(["run", "--rm", "-p", p, "busybox", "true"]);
      expect(res.code).toBe(125);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.stderr).toContain(msg);
      expect(r.containerIds()).toEqual([]);
    });
  }
  it("--expose 80:90 and --dns abc", () => {
    for (const args of [["--expose", "80:90"], ["--dns", "abc"]]) {
      const res = r.run(["run", "--rm", ...args, "busybox", "true"]);
      expect(res.code).toBe(125);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(r.containerIds()).toEqual([]);
  });
});

describe("-p reaches the container", () => {
  const loop = freePort();
  const any = freePort();
  let id = "";

  it("-p 127.0.0.1:P:80 and -p P:80: from the host on 127.0.0.1, and from another host", async () => {
    const res = r.run(["run", "-d", "--name", "web", "--hostname", "web", "-p", `127.0.0.1:${loop}:80`, "-p", `${any}:80`, "busybox", ...WEB]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    id = res.stdout.trim();
    expect(await getWhenUp(`http://127.0.0.1:${loop}/`)).toBe("hello-web");
    expect(await get(`http://127.0.0.1:${any}/`)).toBe("hello-web");
    // and with busybox wget from the host, as a user would
    for (const p of [loop, any]) {
      const w = Bun.spawnSync(["timeout", "5", "busybox", "wget", "-qO-", `http://127.0.0.1:${p}/`], { stdout: "pipe", stderr: "pipe" });
      expect(w.stdout.toString().trim()).toBe("hello-web");
    }
    expect(fromOutside(`http://${hostAddr}:${any}/`)).toEqual({ code: 0, out: "hello-web" });
    // bound to 127.0.0.1 only: another host does not get in
    expect(fromOutside(`http://${hostAddr}:${loop}/`).code).not.toBe(0);
  }, 30_000);

  it("-p ADDR:P:80 on one of the host's other addresses: there only", async () => {
    const port = freePort();
    expect(r.run(["run", "-d", "--name", "web3", "--hostname", "web3", "-p", `${hostAddr}:${port}:80`, "busybox", ...WEB]).code).toBe(0);
    const deadline = Date.now() + 5000;
    let got = fromOutside(`http://${hostAddr}:${port}/`);
    while (got.code !== 0 && Date.now() < deadline) got = fromOutside(`http://${hostAddr}:${port}/`);
    expect(got).toEqual({ code: 0, out: "hello-web3" });
    await expect(get(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    expect(r.run(["rm", "-f", "web3"]).code).toBe(0);
  }, 30_000);

  it("a container reaches a published port through the host: its own (hairpin) and a neighbour's", () => {
    const gw = r.run(["inspect", "--format", "{{.NetworkSettings.Gateway}}", "web"]).stdout.trim();
    expect(gw).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const self = r.run(["exec", "web", "timeout", "5", "wget", "-qO-", `http://${gw}:${any}/`]);
    expect(self.stdout.trim()).toBe("hello-web");
    const other = r.run(["run", "--rm", "busybox", "timeout", "5", "wget", "-qO-", `http://${gw}:${any}/`]);
    expect(other.stdout.trim()).toBe("hello-web");
  }, 30_000);

  it("port, ps and inspect show them as Docker does", () => {
    expect(r.run(["port", "web"]).stdout).toBe(`80/tcp -> 0.0.0.0:${any}\n80/tcp -> 127.0.0.1:${loop}\n`);
    expect(r.run(["port", "web", "80/tcp"]).stdout).toBe(`0.0.0.0:${any}\n127.0.0.1:${loop}\n`);
    const none = r.run(["port", "web", "81"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("No public port '81/tcp' published for web");
    expect(r.run(["ps", "--format", "{{.Ports}}", "-f", "name=web"]).stdout).toBe(`0.0.0.0:${any}->80/tcp, 127.0.0.1:${loop}->80/tcp\n`);
    const doc = JSON.parse(r.run(["inspect", "web"]).stdout)[0];
    expect(doc.NetworkSettings.Ports).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(loop) }, { HostIp: "0.0.0.0", HostPort: String(any) }] });
    expect(doc.HostConfig.PortBindings).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(loop) }, { HostIp: "", HostPort: String(any) }] });
    expect(doc.Config.ExposedPorts).toEqual({ "80/tcp": {} });
  });

  it("the host port is held while the container runs; nothing of it leaks into the container", () => {
    let bound = true;
    try {
      Bun.listen({ hostname: "0.0.0.0", port: any, exclusive: true, socket: { data() {} } }).stop(true);
    } catch {
      bound = false;
    }
    expect(bound).toBe(false);
    // none of the watcher's sockets is among the container's fds
    const st = JSON.parse(readFileSync(join(r.dir, "containers", id, "state.json"), "utf8")).state;
    const sockets = (pid: number) =>
      readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      }).filter((l) => l.startsWith("socket:"));
    const watcher = new Set(sockets(st.watcherPid));
    expect(watcher.size).toBeGreaterThan(0);
    expect(sockets(st.pid).filter((s) => watcher.has(s))).toEqual([]);
  });

  it("a busy host port: exit 125, one line, nothing left, the first container's rules intact", () => {
    const before = rulesOf([id]).length;
    const res = r.run(["run", "-d", "--name", "web2", "-p", `${any}:80`, "busybox", ...WEB]);
    expect(res.code).toBe(125);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toContain("address already in use");
    expect(r.containerIds()).toEqual([id]);
    expect(rulesOf([id]).length).toBe(before);
  });

  it("a port some other program holds: exit 125 and nothing left", () => {
    const held = Bun.listen({ hostname: "0.0.0.0", port: 0, socket: { data() {} } });
    try {
      const res = r.run(["run", "--rm", "-p", `${held.port}:80`, "busybox", "true"]);
      expect(res.code).toBe(125);
      expect(res.stderr).toContain(`0.0.0.0:${held.port}/tcp`);
      expect(r.containerIds()).toEqual([id]);
    } finally {
      held.stop(true);
    }
  });

  it("stop lets the port go and takes the rules; start takes them again", async () => {
    expect(r.run(["stop", "-t", "1", "web"]).code).toBe(0);
    expect(rulesOf([id])).toEqual([]);
    Bun.listen({ hostname: "0.0.0.0", port: any, exclusive: true, socket: { data() {} } }).stop(true);
    expect(r.run(["port", "web"]).stdout).toBe("");
    expect(r.run(["ps", "-a", "--format", "{{.Ports}}", "-f", "name=web"]).stdout).toBe("\n");
    expect(r.run(["start", "web"]).code).toBe(0);
    expect(await getWhenUp(`http://127.0.0.1:${any}/`)).toBe("hello-web");
    expect(r.run(["port", "web", "80"]).stdout).toBe(`0.0.0.0:${any}\n127.0.0.1:${loop}\n`);
  }, 30_000);

  it("an address that is not this host's: exit 125, says so, nothing left", () => {
    const res = r.run(["run", "--rm", "-p", `203.0.113.77:${freePort()}:80`, "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toContain("cannot assign requested address");
    expect(r.containerIds()).toEqual([id]);
  });

  it("rm -f: rules gone, port free", async () => {
    expect(rulesOf([id]).length).toBeGreaterThan(0);
    expect(r.run(["rm", "-f", "web"]).code).toBe(0);
    expect(rulesOf([id])).toEqual([]);
    await expect(get(`http://127.0.0.1:${any}/`)).rejects.toThrow();
    Bun.listen({ hostname: "0.0.0.0", port: any, exclusive: true, socket: { data() {} } }).stop(true);
  });
});

describe("exposed, not published", () => {
  it("ps shows the exposed port alone; inspect has it null; none mode shows nothing", () => {
    expect(r.run(["run", "-d", "--name", "expo", "--expose", "9000-9001", "--expose", "53/udp", "busybox", "sleep", "60"]).code).toBe(0);
    expect(r.run(["ps", "--format", "{{.Ports}}", "-f", "name=expo"]).stdout).toBe("53/udp, 9000-9001/tcp\n");
    expect(JSON.parse(r.run(["inspect", "expo"]).stdout)[0].NetworkSettings.Ports).toEqual({ "9000/tcp": null, "9001/tcp": null, "53/udp": null });
    expect(r.run(["port", "expo"]).stdout).toBe("");
    expect(r.run(["ps", "-a", "--format", "{{.Names}}", "-f", "expose=9001"]).stdout).toBe("expo\n");
    expect(r.run(["ps", "-a", "--format", "{{.Names}}", "-f", "expose=53/udp", "-f", "name=expo"]).stdout).toBe("expo\n");
    expect(r.run(["ps", "-a", "--format", "{{.Names}}", "-f", "expose=53"]).stdout).toBe("");
    expect(r.run(["ps", "--format", "{{.Names}}", "-f", "publish=9000-9005"]).stdout).toBe("expo\n");
    const bad = r.run(["ps", "-f", "publish=80:80"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("filter for 'publish' should not contain ':': 80:80");
    expect(r.run(["run", "-d", "--name", "expo-none", "--network", "none", "--expose", "9000", "busybox", "sleep", "60"]).code).toBe(0);
    expect(r.run(["ps", "--format", "{{.Ports}}", "-f", "name=expo-none"]).stdout).toBe("\n");
    expect(r.run(["rm", "-f", "expo", "expo-none"]).code).toBe(0);
  });
});

describe("network disconnect", () => {
  it("leaving the network that carries the ports takes them away", async () => {
    const port = freePort();
    const res = r.run(["run", "-d", "--name", "leaver", "--hostname", "leaver", "-p", `127.0.0.1:${port}:80`, "busybox", ...WEB]);
    expect(res.code).toBe(0);
    const id = res.stdout.trim();
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("hello-leaver");
    expect(r.run(["network", "disconnect", "bridge", "leaver"]).code).toBe(0);
    expect(rulesOf([id])).toEqual([]);
    expect(r.run(["port", "leaver"]).stdout).toBe("");
    expect(r.run(["rm", "-f", "leaver"]).code).toBe(0);
  }, 30_000);
});

describe("ports and network modes", () => {
  it("--network host discards them with Docker's warning; container: refuses them", () => {
    const host = r.run(["run", "--rm", "--network", "host", "-p", "8080:80", "busybox", "true"]);
    expect(host.code).toBe(0);
    expect(host.stderr).toContain("Published ports are discarded when using host network mode");
    const c = r.run(["run", "--rm", "--network", "container:nosuch", "-p", "8080:80", "busybox", "true"]);
    expect(c.code).toBe(125);
    expect(c.stderr.trim().split("\n")).toHaveLength(1);
    expect(c.stderr).toContain("conflicting options: port publishing and the container type network mode");
  });
});

describe("-P, --expose, UDP", () => {
  it("-P publishes the image's EXPOSE and --expose on random ports", async () => {
    mkdirSync(scratch, { recursive: true });
    writeFileSync(join(scratch, "Dockerfile"), "FROM busybox\nEXPOSE 80\n");
    expect(r.run(["build", "-q", "-t", "exposing", scratch]).code).toBe(0);
    const res = r.run(["run", "-d", "--name", "pall", "--hostname", "pall", "-P", "--expose", "7000/udp", "exposing", ...WEB]);
    expect(res.code).toBe(0);
    const lines = r.run(["port", "pall"]).stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^80\/tcp -> 0\.0\.0\.0:\d+$/);
    expect(lines[1]).toMatch(/^7000\/udp -> 0\.0\.0\.0:\d+$/);
    const port = Number(lines[0]!.split(":")[1]);
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    expect(port).toBeGreaterThanOrEqual(lo!);
    expect(port).toBeLessThanOrEqual(hi!);
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("hello-pall");
    expect(JSON.parse(r.run(["inspect", "pall"]).stdout)[0].HostConfig.PublishAllPorts).toBe(true);
    expect(r.run(["rm", "-f", "pall"]).code).toBe(0);
  }, 30_000);

  it("a UDP port answers through -p 127.0.0.1:P:9999/udp", async () => {
    const echo = buildUdpEcho(scratch);
    const port = freePort();
    const res = r.run(["run", "-d", "--name", "udp", "-v", `${echo}:/udp-echo:ro`, "-p", `127.0.0.1:${port}:9999/udp`, "busybox", "/udp-echo", "9999"]);
    expect(res.code).toBe(0);
    const got = await new Promise<string>(async (resolve) => {
      const timer = setTimeout(() => resolve("(nothing)"), 5000);
      const s = await Bun.udpSocket({
        socket: {
          error() {}, // the server may not be up yet: a port unreachable, then we ask again
          data(_s, d) {
            clearTimeout(timer);
            resolve(Buffer.from(d).toString());
            s.close();
          },
        },
      });
      // the server may still be starting: ask a few times
      for (let i = 0; i < 10; i++) {
        s.send("ping", port, "127.0.0.1");
        await Bun.sleep(100);
        if (s.closed) break;
      }
    });
    expect(got).toBe("echo:ping");
    expect(r.run(["port", "udp"]).stdout).toBe(`9999/udp -> 127.0.0.1:${port}\n`);
    expect(r.run(["rm", "-f", "udp"]).code).toBe(0);
  }, 30_000);
});

describe("the iptables fallback (MINID_FIREWALL=iptables, as on a host without nft)", () => {
  it("carries the port and takes its rules away again", async () => {
    const port = freePort();
    const env = { MINID_FIREWALL: "iptables" };
    const res = r.run(["run", "-d", "--name", "ipt", "--hostname", "ipt", "-p", `${port}:80`, "busybox", ...WEB], { env });
    expect(res.code).toBe(0);
    const id = res.stdout.trim();
    const tagged = () => Bun.spawnSync(["iptables-save", "-t", "nat"], { stdout: "pipe" }).stdout.toString().split("\n").filter((l) => l.includes(id));
    expect(tagged().length).toBeGreaterThan(0);
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("hello-ipt");
    expect(r.run(["rm", "-f", "ipt"], { env }).code).toBe(0);
    expect(tagged()).toEqual([]);
  }, 30_000);
});

describe("parallel starts", () => {
  it("10 containers started at once with -p 80 each get a port of their own, all reachable, all cleaned", async () => {
    const procs = Array.from({ length: 10 }, (_, i) =>
      Bun.spawn([...minidCommand(), "--root", r.dir, "run", "-d", "--name", `par${i}`, "--hostname", `par${i}`, "-p", "127.0.0.1::80", "busybox", ...WEB], {
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const ids = await Promise.all(procs.map(async (p) => ((await p.exited) === 0 ? (await new Response(p.stdout).text()).trim() : "")));
    for (const id of ids) seen.add(id);
    expect(ids.filter((id) => !id)).toEqual([]);
    const ports = ids.map((_, i) => Number(r.run(["port", `par${i}`, "80"]).stdout.trim().split(":")[1]));
    expect(new Set(ports).size).toBe(10);
    for (let i = 0; i < 10; i++) expect(await getWhenUp(`http://127.0.0.1:${ports[i]}/`)).toBe(`hello-par${i}`);
    // one set of rules per container, no duplicates
    const counts = ids.map((id) => rulesOf([id]).length);
    expect(new Set(counts).size).toBe(1);
    expect(r.run(["rm", "-f", ...ids]).code).toBe(0);
    expect(rulesOf(ids)).toEqual([]);
  }, 60_000);
});

describe("a watcher killed with -9", () => {
  it("leaves rules that the next start replaces and rm -f removes", async () => {
    const port = freePort();
    const res = r.run(["run", "-d", "--name", "orphan", "--hostname", "orphan", "-p", `127.0.0.1:${port}:80`, "busybox", ...WEB]);
    expect(res.code).toBe(0);
    const id = res.stdout.trim();
    const st = JSON.parse(readFileSync(join(r.dir, "containers", id, "state.json"), "utf8"));
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("hello-orphan");
    process.kill(st.state.watcherPid, "SIGKILL");
    // the container still runs and is still reachable (the rules are the kernel's)
    expect(await get(`http://127.0.0.1:${port}/`)).toBe("hello-orphan");
    const rules = rulesOf([id]).length;
    expect(rules).toBeGreaterThan(0);
    // the container dies with nobody to take its rules away; its next start replaces them
    expect(r.run(["kill", "orphan"]).code).toBe(0);
    expect(r.run(["start", "orphan"]).code).toBe(0);
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("hello-orphan");
    expect(rulesOf([id]).length).toBe(rules);
    // killed again, then rm -f: nothing left
    const st2 = JSON.parse(readFileSync(join(r.dir, "containers", id, "state.json"), "utf8"));
    process.kill(st2.state.watcherPid, "SIGKILL");
    expect(r.run(["rm", "-f", "orphan"]).code).toBe(0);
    expect(rulesOf([id])).toEqual([]);
    expect(idOf("orphan")).toBe("");
  }, 30_000);
});

describe("what a crash left on a host port another container takes next", () => {
  it("the new owner's DNAT replaces it, and rm -f of the dead one takes only its own", async () => {
    const port = freePort();
    const a = r.run(["run", "-d", "--name", "stale-a", "--hostname", "stale-a", "-p", `127.0.0.1:${port}:80`, "busybox", ...WEB]);
    expect(a.code).toBe(0);
    const idA = a.stdout.trim();
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("hello-stale-a");
    const st = JSON.parse(readFileSync(join(r.dir, "containers", idA, "state.json"), "utf8"));
    process.kill(st.state.watcherPid, "SIGKILL");
    expect(r.run(["kill", "stale-a"]).code).toBe(0);
    // the dead container's DNAT is still there; the port itself is free (its watcher is gone)
    expect(rulesOf([idA]).length).toBeGreaterThan(0);
    const b = r.run(["run", "-d", "--name", "stale-b", "--hostname", "stale-b", "-p", `127.0.0.1:${port}:80`, "busybox", ...WEB]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const idB = b.stdout.trim();
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("hello-stale-b");
    expect(rulesOf([idA])).toEqual([]);
    expect(r.run(["rm", "-f", "stale-a"]).code).toBe(0);
    expect(rulesOf([idB]).length).toBeGreaterThan(0);
    expect(await get(`http://127.0.0.1:${port}/`)).toBe("hello-stale-b");
    expect(r.run(["rm", "-f", "stale-b"]).code).toBe(0);
    expect(rulesOf([idB])).toEqual([]);
  }, 30_000);

  it("minid's table gone from under a network (nft flush ruleset, an older minid's table): the next -p makes it again", async () => {
    // a container on the default bridge first, so that its network exists with route_localnet on
    expect(r.run(["run", "--rm", "-p", "80", "busybox", "true"]).code).toBe(0);
    Bun.spawnSync(["nft", "delete", "table", "ip", "minid"], { stderr: "ignore" });
    const port = freePort();
    const c = r.run(["run", "-d", "--name", "again", "--hostname", "again", "-p", `${port}:80`, "busybox", ...WEB]);
    expect(c.stderr).toBe("");
    expect(c.code).toBe(0);
    // loopback and hairpin both need the table's masquerades back
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("hello-again");
    const gw = r.run(["inspect", "--format", "{{.NetworkSettings.Gateway}}", "again"]).stdout.trim();
    expect(r.run(["exec", "again", "timeout", "5", "wget", "-qO-", `http://${gw}:${port}/`]).stdout.trim()).toBe("hello-again");
    expect(r.run(["rm", "-f", "again"]).code).toBe(0);
  }, 30_000);
});

