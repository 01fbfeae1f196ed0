// Root-free checks of the everyday commands' parsers: ps output for top, event times, filters
// and lines, cp's argument split, --restart for update.
import { describe, expect, test } from "bun:test";
import { parsePs } from "../../src/container/top.ts";
import { eventFilter, eventLine, parseEventTime, type Event } from "../../src/events/query.ts";
import { splitCpArg } from "../../src/container/cp.ts";
import { parseRestart } from "../../src/container/update.ts";

const PS = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 13:00 ?        00:00:01 /sbin/init splash
root         100       1  0 13:01 ?        00:00:00 sh -c sleep 5 & wait
root         101     100  0 13:01 ?        00:00:00 sleep 5
`;

describe("top's ps parsing", () => {
  test("rows of the container's pids only; the last column keeps its spaces", () => {
    expect(parsePs(PS, new Set([100, 101]))).toEqual({
      Titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
      Processes: [
        ["root", "100", "1", "0", "13:01", "?", "00:00:00", "sh -c sleep 5 & wait"],
        ["root", "101", "100", "0", "13:01", "?", "00:00:00", "sleep 5"],
      ],
    });
  });
  test("no PID column is Docker's error", () => {
    expect(() => parsePs("COMMAND\nsh\n", new Set([1]))).toThrow("Couldn't find PID field in ps output");
  });
});

const ev = (over: Partial<Event> & { Action: string }): Event => ({
  Type: "container", Actor: { ID: "a".repeat(64), Attributes: { image: "busybox", name: "web" } }, scope: "local", time: 1, timeNano: 1, nano: 1_700_000_000_123_456_789n, ...over,
});

describe("events", () => {
  test("times: Unix seconds with a fraction, RFC 3339, Go durations before now", () => {
    expect(parseEventTime("1700000000.5", "--since")).toBe(1_700_000_000_500_000_000n);
    expect(parseEventTime("2023-11-14T22:13:20Z", "--since")).toBe(1_700_000_000_000_000_000n);
    expect(parseEventTime("2023-11-14T22:13:20.25Z", "--since")).toBe(1_700_000_000_250_000_000n);
    expect(parseEventTime("1m30s", "--since", 1_700_000_090_000)).toBe(1_700_000_000_000_000_000n);
    expect(() => parseEventTime("yesterday", "--since")).toThrow('invalid value for --since: failed to parse time "yesterday"');
  });
  test("filters: one key's values are alternatives, keys must all hold", () => {
    const f = eventFilter(["event=start", "event=die", "container=web"]);
    expect(f(ev({ Action: "start" }))).toBe(true);
    expect(f(ev({ Action: "die" }))).toBe(true);
    expect(f(ev({ Action: "create" }))).toBe(false);
    expect(eventFilter(["container=other"])(ev({ Action: "start" }))).toBe(false);
    expect(eventFilter(["container=aaaa"])(ev({ Action: "start" }))).toBe(true); // an id prefix
    expect(eventFilter(["type=volume"])(ev({ Action: "start" }))).toBe(false);
    expect(eventFilter(["image=busybox"])(ev({ Action: "start" }))).toBe(true);
    expect(() => eventFilter(["colour=red"])).toThrow("invalid filter 'colour'");
    expect(() => eventFilter(["nonsense"])).toThrow("bad format of filter");
  });
  test("Docker's line: nine fraction digits, attributes sorted", () => {
    const line = eventLine(ev({ Action: "die", Actor: { ID: "b".repeat(64), Attributes: { name: "web", exitCode: "0", image: "busybox" } } }));
    expect(line).toMatch(/^2023-11-1\dT\d\d:\d\d:20\.123456789(Z|[+-]\d\d:\d\d) container die b{64} \(exitCode=0, image=busybox, name=web\)\n$/);
  });
});

describe("cp arguments", () => {
  test("CONTAINER:PATH or a local path", () => {
    expect(splitCpArg("web:/etc")).toEqual({ container: "web", path: "/etc" });
    expect(splitCpArg("web:etc")).toEqual({ container: "web", path: "/etc" });
    expect(splitCpArg("/tmp/a:b")).toEqual({ path: "/tmp/a:b" });
    expect(splitCpArg("./a:b")).toEqual({ path: "./a:b" });
    expect(splitCpArg("file")).toEqual({ path: "file" });
  });
});

describe("update --restart", () => {
  test("Docker's grammar", () => {
    expect(parseRestart("on-failure:3")).toEqual({ name: "on-failure", maximumRetryCount: 3 });
    expect(parseRestart("always")).toEqual({ name: "always", maximumRetryCount: 0 });
    expect(() => parseRestart("always:3")).toThrow("maximum retry count cannot be used with restart policy 'always'");
    expect(() => parseRestart("sometimes")).toThrow("invalid restart policy 'sometimes'");
  });
});

describe("volume filters", () => {
  test("values of one key are alternatives; labels must all hold", async () => {
    const { volumeFilter } = await import("../../src/volume/ops.ts");
    const v = (name: string, labels: Record<string, string> | null = null) => ({ name, createdAt: "", labels, options: null, anonymous: false });
    const names = volumeFilter(["name=ab", "name=cd"]);
    expect([names(v("xab"), 0), names(v("cdx"), 0), names(v("ef"), 0)]).toEqual([true, true, false]);
    const both = volumeFilter(["label=a", "label=b=2"]);
    expect([both(v("x", { a: "1", b: "2" }), 0), both(v("x", { a: "1" }), 0)]).toEqual([true, false]);
    const dangling = volumeFilter(["dangling=true", "name=x"]);
    expect([dangling(v("x"), 0), dangling(v("x"), 1)]).toEqual([true, false]);
    expect(volumeFilter(["label!=a"])(v("x", { a: "" }), 0)).toBe(false);
    expect(() => volumeFilter(["size=1"])).toThrow("invalid filter 'size'");
  });
});
