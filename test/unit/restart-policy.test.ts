// Docker's restart rules and back-off (container/restart-policy.ts), without root.
import { describe, expect, test } from "bun:test";
import { nextBackoff, parseRestartPolicy, shouldRestart } from "../../src/container/restart-policy.ts";
import { parseGoDuration, mergeHealthcheck } from "../../src/container/health.ts";

describe("restart policy", () => {
  test("parse", () => {
    expect(parseRestartPolicy("no")).toEqual({ name: "no", maximumRetryCount: 0 });
    expect(parseRestartPolicy("on-failure:5")).toEqual({ name: "on-failure", maximumRetryCount: 5 });
    expect(parseRestartPolicy("unless-stopped").name).toBe("unless-stopped");
    expect(() => parseRestartPolicy(":3")).toThrow("no policy provided before colon");
    expect(() => parseRestartPolicy("always:1")).toThrow("cannot be used with restart policy 'always'");
    expect(() => parseRestartPolicy("on-failure:-2")).toThrow("cannot be negative");
  });

  test("shouldRestart: Docker's table", () => {
    const of = (n: number) => ({ name: "on-failure" as const, maximumRetryCount: n });
    expect(shouldRestart(of(0), 1, false, 99)).toBe(true);
    expect(shouldRestart(of(0), 0, false, 0)).toBe(false);
    expect(shouldRestart(of(2), 1, false, 1)).toBe(true);
    expect(shouldRestart(of(2), 1, false, 2)).toBe(false);
    expect(shouldRestart({ name: "always", maximumRetryCount: 0 }, 0, false, 0)).toBe(true);
    // A manual stop ends every policy while the watcher lives…
    expect(shouldRestart({ name: "always", maximumRetryCount: 0 }, 0, true, 0)).toBe(false);
    expect(shouldRestart({ name: "unless-stopped", maximumRetryCount: 0 }, 0, true, 0)).toBe(false);
    // …and after a reboot only unless-stopped remembers it.
    expect(shouldRestart({ name: "always", maximumRetryCount: 0 }, 0, true, 0, true)).toBe(true);
    expect(shouldRestart({ name: "unless-stopped", maximumRetryCount: 0 }, 0, true, 0, true)).toBe(false);
    expect(shouldRestart({ name: "no", maximumRetryCount: 0 }, 1, false, 0)).toBe(false);
    expect(shouldRestart(undefined, 1, false, 0)).toBe(false);
  });

  test("back-off: 100 ms doubling to a minute, reset after 10 s of running", () => {
    let d = 0;
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) seen.push((d = nextBackoff(d, 50)));
    expect(seen.slice(0, 5)).toEqual([100, 200, 400, 800, 1600]);
    expect(seen.at(-1)).toBe(60_000);
    expect(nextBackoff(60_000, 10_000)).toBe(100);
    expect(nextBackoff(800, 9_999)).toBe(1600);
  });
});

describe("healthcheck config", () => {
  test("Go durations, with Go's errors", () => {
    expect(parseGoDuration("1m30s", "--health-interval")).toBe(90e9);
    expect(parseGoDuration("250ms", "--health-interval")).toBe(250e6);
    expect(parseGoDuration("0", "--health-interval")).toBe(0);
    expect(() => parseGoDuration("30", "--health-interval")).toThrow('time: missing unit in duration "30"');
    expect(() => parseGoDuration("x", "--health-timeout")).toThrow('time: invalid duration "x"');
  });

  test("flags override the image field by field; NONE disables", () => {
    const img = { Test: ["CMD-SHELL", "true"], Interval: 5e9, Retries: 7 };
    expect(mergeHealthcheck({ Interval: 1e9 }, img)).toEqual({ Test: ["CMD-SHELL", "true"], Interval: 1e9, Retries: 7 });
    expect(mergeHealthcheck({ Test: ["CMD-SHELL", "false"] }, img)?.Test).toEqual(["CMD-SHELL", "false"]);
    expect(mergeHealthcheck(undefined, { Test: ["NONE"] })).toBeUndefined();
    expect(mergeHealthcheck(undefined, undefined)).toBeUndefined();
  });
});
