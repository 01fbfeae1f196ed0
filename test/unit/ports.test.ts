import { describe, expect, test } from "bun:test";
import {
  displayablePorts,
  naturalLess,
  networkPortsDoc,
  parseExpose,
  parsePortFlags,
  parsePortSpec,
  portLines,
  wantedBindings,
} from "../../src/network/ports.ts";

const flags = (publish: string[], o: { expose?: string[]; all?: boolean; image?: string[] } = {}) =>
  parsePortFlags({ publish, expose: o.expose ?? [], publishAll: o.all ?? false, imageExposed: o.image });

describe("-p as the Docker CLI parses it", () => {
  test("container port only: a random host port on every address", () => {
    expect(parsePortSpec("80")).toEqual([{ port: "80/tcp", binding: { HostIp: "", HostPort: "" } }]);
  });
  test("host:container, ip:host:container, ip::container, protocols", () => {
    expect(parsePortSpec("8080:80")).toEqual([{ port: "80/tcp", binding: { HostIp: "", HostPort: "8080" } }]);
    expect(parsePortSpec("127.0.0.1:8080:80/udp")).toEqual([{ port: "80/udp", binding: { HostIp: "127.0.0.1", HostPort: "8080" } }]);
    expect(parsePortSpec("127.0.0.1::80")).toEqual([{ port: "80/tcp", binding: { HostIp: "127.0.0.1", HostPort: "" } }]);
    expect(parsePortSpec("80/UDP")[0]!.port).toBe("80/udp");
    expect(parsePortSpec("80/")[0]!.port).toBe("80/tcp");
    expect(parsePortSpec("9/sctp")[0]!.port).toBe("9/sctp");
    expect(parsePortSpec("080")[0]!.port).toBe("80/tcp");
  });
  test("ranges map one to one", () => {
    expect(parsePortSpec("8000-8002:80-82/udp")).toEqual([
      { port: "80/udp", binding: { HostIp: "", HostPort: "8000" } },
      { port: "81/udp", binding: { HostIp: "", HostPort: "8001" } },
      { port: "82/udp", binding: { HostIp: "", HostPort: "8002" } },
    ]);
    expect(parsePortSpec("80-81").map((m) => m.port)).toEqual(["80/tcp", "81/tcp"]);
  });
  test("a host range against one container port is where to pick a free one", () => {
    expect(parsePortSpec("8000-8010:80")).toEqual([{ port: "80/tcp", binding: { HostIp: "", HostPort: "8000-8010" } }]);
  });
  test("the long syntax", () => {
    expect(flags(["target=80,published=8080,protocol=udp"]).bindings).toEqual({ "80/udp": [{ HostIp: "", HostPort: "8080" }] });
    expect(flags(["target=80"]).bindings).toEqual({ "80/tcp": [{ HostIp: "", HostPort: "" }] });
    expect(() => flags(["target=80,published"])).toThrow("invalid publish opts format (should be name=value but got 'published')");
  });
  // Messages as `docker run -p SPEC` (Docker 28.2) prints them.
  for (const [spec, msg] of [
    ["abc", "invalid containerPort: abc"],
    ["70000:80", "invalid hostPort: 70000"],
    ["80:70000", "invalid containerPort: 70000"],
    ["65536", "invalid containerPort: 65536"],
    ["1.2.3.4:80:80/foo", "invalid proto: foo"],
    ["8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"],
    ["", "no port specified: <empty>"],
    ["80:", "no port specified: 80:<empty>"],
    ["/udp", "no port specified: /udp<empty>"],
    ["80-79", "invalid containerPort: 80-79"],
    ["a:80:80", "invalid IP address: a"],
    ["localhost:80:80", "invalid IP address: localhost"],
    ["1.2.3.4:80", "invalid hostPort: 1.2.3.4"],
    ["8000-:80", "invalid hostPort: 8000-"],
    ["-80", "invalid containerPort: -80"],
    ["+80", "invalid containerPort: +80"],
    [" 80", "invalid containerPort:  80"],
  ] as const) {
    test(`refuses ${JSON.stringify(spec)}`, () => {
      expect(() => flags([spec])).toThrow(msg);
    });
  }
  test("IPv6 host addresses are refused with what to do instead", () => {
    expect(() => parsePortSpec("[::1]:8080:80")).toThrow(/IPv6 address ::1 is not supported: give an IPv4 address/);
    expect(() => parsePortSpec("::1:8080:80")).toThrow(/IPv6 address ::1 is not supported/);
  });
  test("container port 0 cannot be published", () => {
    expect(() => flags(["0"])).toThrow('invalid port specification: "0"');
    expect(flags(["0:80"]).bindings["80/tcp"]).toEqual([{ HostIp: "", HostPort: "0" }]);
  });
});

describe("--expose and -P", () => {
  test("ranges and protocols", () => {
    expect(parseExpose("80")).toEqual(["80/tcp"]);
    expect(parseExpose("53-54/udp")).toEqual(["53/udp", "54/udp"]);
  });
  for (const [e, msg] of [
    ["80:90", "invalid port format for --expose: 80:90"],
    ["abc", 'invalid range format for --expose: abc, error: strconv.ParseUint: parsing "abc": invalid syntax'],
    ["80-70", "invalid range format for --expose: 80-70, error: invalid range specified for port: 80-70"],
    ["70000", 'invalid range format for --expose: 70000, error: strconv.ParseUint: parsing "70000": value out of range'],
  ] as const) {
    test(`refuses --expose ${e}`, () => expect(() => parseExpose(e)).toThrow(msg));
  }
  test("exposed = -p, then --expose, then the image's, without duplicates", () => {
    const pc = flags(["8080:80"], { expose: ["443", "80"], image: ["80/tcp", "53/udp", "bogus"] });
    expect(pc.exposed).toEqual(["80/tcp", "443/tcp", "53/udp"]);
  });
  test("-P gives every exposed port without a binding a random one; -p bindings stay", () => {
    const pc = flags(["127.0.0.1:8080:80"], { all: true, image: ["443/tcp", "80/tcp", "9000/tcp"] });
    expect(wantedBindings(pc)).toEqual([
      { key: "80/tcp", binding: { HostIp: "127.0.0.1", HostPort: "8080" } },
      { key: "443/tcp", binding: { HostIp: "", HostPort: "" } },
      { key: "9000/tcp", binding: { HostIp: "", HostPort: "" } },
    ]);
    expect(wantedBindings({ ...pc, publishAll: false })).toEqual([{ key: "80/tcp", binding: { HostIp: "127.0.0.1", HostPort: "8080" } }]);
  });
});

describe("Docker's displays", () => {
  const pc = flags(["8080:80", "127.0.0.1:5353:53/udp"], { expose: ["443", "7000-7002"] });
  const doc = networkPortsDoc(pc, [
    { proto: "tcp", containerPort: 80, hostIp: "0.0.0.0", hostPort: 8080 },
    { proto: "udp", containerPort: 53, hostIp: "127.0.0.1", hostPort: 5353 },
  ]);
  test("NetworkSettings.Ports: unpublished exposed ports are null; keys in Go's order", () => {
    expect(Object.keys(doc)).toEqual(["443/tcp", "53/udp", "7000/tcp", "7001/tcp", "7002/tcp", "80/tcp"]);
    expect(doc).toEqual({
      "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }],
      "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }],
      "443/tcp": null,
      "7000/tcp": null,
      "7001/tcp": null,
      "7002/tcp": null,
    });
  });
  test("port lines in natural order", () => {
    expect(portLines(doc)).toEqual(["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080"]);
    expect(["9/tcp", "10/tcp", "1/tcp"].sort(naturalLess)).toEqual(["1/tcp", "9/tcp", "10/tcp"]);
  });
  test("ps PORTS: groups of exposed ports, then mappings", () => {
    expect(displayablePorts(doc)).toBe("443/tcp, 7000-7002/tcp, 127.0.0.1:5353->53/udp, 0.0.0.0:8080->80/tcp");
    // the same port on both sides is grouped like an exposed range
    expect(
      displayablePorts({ "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "80" }], "81/tcp": [{ HostIp: "0.0.0.0", HostPort: "81" }] }),
    ).toBe("0.0.0.0:80-81->80-81/tcp");
    expect(displayablePorts({})).toBe("");
  });
});

describe("--dns, --dns-search, --dns-option", async () => {
  const { parsePortAndDns } = await import("../../src/network/options.ts");
  const f = (o: Partial<Parameters<typeof parsePortAndDns>[0] & object>) =>
    parsePortAndDns({ publish: [], publishAll: false, expose: [], dns: [], dnsSearch: [], dnsOptions: [], ...o }, []);
  test("as Docker checks them", () => {
    expect(f({ dns: ["192.0.2.1", " ::1 "], dnsSearch: ["example.com.", "."], dnsOptions: ["ndots:2"] }).dns).toEqual({
      servers: ["192.0.2.1", "::1"],
      search: ["example.com", "."],
      options: ["ndots:2"],
    });
    expect(() => f({ dns: ["abc"] })).toThrow('invalid argument "abc" for "--dns" flag: IP address is not correctly formatted: abc');
    expect(() => f({ dnsSearch: ["-bad"] })).toThrow('invalid argument "-bad" for "--dns-search" flag: -bad is not a valid domain');
    expect(() => f({ dnsSearch: ["a..b"] })).toThrow("a..b is not a valid domain");
    expect(() => f({ dnsSearch: ["123"] })).toThrow("123 is not a valid domain");
  });
  test("nothing given: nothing kept; an image's EXPOSE alone is kept", () => {
    expect(f({})).toEqual({});
    expect(parsePortAndDns(undefined, ["80/tcp"]).ports?.exposed).toEqual(["80/tcp"]);
  });
});
