// The Docker CLI as the oracle of -p/--expose/--dns parsing: it refuses a bad value before it
// looks for a daemon, so against a socket that does not exist it either prints its parse error
// or "Cannot connect". minid must refuse exactly what it refuses, with the same message. minid
// words them as Docker 28 does; Debian's 20.10 CLI (what CI installs) capitalises one and
// words two others differently: those are compared in one spelling.
import { describe, expect } from "bun:test";
import { requires } from "../helpers/requires.ts";
import { parsePortAndDns } from "../../src/network/options.ts";

const it = requires("docker");

const CASES: string[][] = [
  ["-p", "80"], ["-p", "8080:80"], ["-p", "127.0.0.1:8080:80"], ["-p", "127.0.0.1::80/udp"], ["-p", "8000-8001:80-81"],
  ["-p", "8000-8010:80"], ["-p", "80/UDP"], ["-p", "080"], ["-p", "1-2-3"], ["-p", "target=80,published=8080"],
  ["-p", "abc"], ["-p", "70000:80"], ["-p", "80:70000"], ["-p", "65536"], ["-p", "1.2.3.4:80:80/foo"],
  ["-p", "8000-8001:80-82"], ["-p", ""], ["-p", "80:"], ["-p", "/udp"], ["-p", "80-79"], ["-p", "a:80:80"],
  ["-p", "localhost:80:80"], ["-p", "1.2.3.4:80"], ["-p", "8000-:80"], ["-p", "-80"], ["-p", "+80"], ["-p", " 80"],
  ["--expose", "80"], ["--expose", "80-90/udp"], ["--expose", "80:90"], ["--expose", "abc"], ["--expose", "80-70"], ["--expose", "70000"],
  ["--dns", "192.0.2.1"], ["--dns", "abc"], ["--dns-search", "example.com"], ["--dns-search", "-bad"], ["--dns-search", "a..b"],
];

function docker(args: string[]): string | undefined {
  const r = Bun.spawnSync(["docker", "run", ...args, "busybox", "true"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DOCKER_HOST: "unix:///nonexistent/minid-oracle.sock", HOME: "/nonexistent" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const first = r.stderr.toString().trim().split("\n")[0] ?? "";
  if (/Cannot connect to the Docker daemon/.test(first)) return undefined; // parsed fine
  return first.replace(/^docker: /, "").replace(/\.$/, "");
}

function minid(args: string[]): string | undefined {
  const f = { publish: [] as string[], publishAll: false, expose: [] as string[], dns: [] as string[], dnsSearch: [] as string[], dnsOptions: [] as string[] };
  const key = { "-p": "publish", "--expose": "expose", "--dns": "dns", "--dns-search": "dnsSearch" }[args[0]!] as "publish";
  f[key].push(args[1]!);
  try {
    parsePortAndDns(f, []);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** One spelling for what changed between CLI versions (20.10 → 28). */
function norm(m: string): string {
  return m
    .toLowerCase()
    .replace("invalid range specified for the port", "invalid range specified for port")
    .replace(/flag: (.*) is not an ip address$/, "flag: ip address is not correctly formatted: $1");
}

describe("flags as the Docker CLI parses them", () => {
  for (const c of CASES) {
    it(`${c[0]} ${JSON.stringify(c[1])}`, () => {
      const theirs = docker(c);
      const ours = minid(c);
      expect(ours === undefined).toBe(theirs === undefined);
      if (theirs !== undefined) expect(norm(ours!)).toBe(norm(theirs));
    });
  }
});
