import { describe, expect, test } from "bun:test";
import { InvalidFlagError, parseBytes, parseCpus, parseMemorySwap } from "../../src/util/units.ts";

describe("parseBytes", () => {
  test.each([
    ["512m", 536870912],
    ["512M", 536870912],
    ["512mb", 536870912],
    ["512MiB", 536870912],
    ["1g", 1073741824],
    ["1.5g", 1610612736],
    ["2t", 2 * 1024 ** 4],
    ["100k", 102400],
    ["100KB", 102400],
    ["4096", 4096],
    ["4096b", 4096],
    ["4096B", 4096],
    ["512 m", 536870912],
    ["0", 0],
    ["1.5", 1],
    ["5 ", 5],
    ["1e3", 1000],
    ["1e1k", 10240],
  ])("%p → %p", (input, want) => {
    expect(parseBytes(input)).toBe(want);
  });

  test.each(["12x", "", "m", "-1", "-5m", "1.2.3", "5mm", "5mbb", "abc", "2e", "1eb", "1 m b", "99999999999999999999t"])(
    "rejects %p with docker's message",
    (input) => {
      expect(() => parseBytes(input)).toThrow(
        `invalid argument "${input}" for "-m, --memory" flag: invalid size: '${input}'`,
      );
    },
  );

  test("the flag name is part of the message and the error is typed", () => {
    try {
      parseBytes("1q", "--shm-size");
      throw new Error("no throw");
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidFlagError);
      expect((e as Error).message).toBe(`invalid argument "1q" for "--shm-size" flag: invalid size: '1q'`);
      expect((e as Error).message).not.toContain("\n");
    }
  });
});

describe("parseMemorySwap", () => {
  test("-1 is unlimited, sizes parse as memory", () => {
    expect(parseMemorySwap("-1")).toBe(-1);
    expect(parseMemorySwap("1g")).toBe(1073741824);
    expect(() => parseMemorySwap("-2")).toThrow(
      `invalid argument "-2" for "--memory-swap" flag: invalid size: '-2'`,
    );
  });
});

describe("parseCpus", () => {
  test.each([
    ["0.5", 500_000_000],
    ["1", 1_000_000_000],
    ["1.5", 1_500_000_000],
    ["2.000000001", 2_000_000_001],
    [".25", 250_000_000],
    ["0", 0],
    ["3/2", 1_500_000_000],
    ["5e-1", 500_000_000],
    ["+1", 1_000_000_000],
  ])("%p → %p", (input, want) => {
    expect(parseCpus(input)).toBe(want);
  });

  test("garbage, negatives and excess precision are errors", () => {
    expect(() => parseCpus("abc")).toThrow(
      `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number`,
    );
    expect(() => parseCpus("")).toThrow("failed to parse  as a rational number");
    expect(() => parseCpus("1/0")).toThrow("as a rational number");
    expect(() => parseCpus("-1")).toThrow(`invalid argument "-1" for "--cpus" flag: CPUs must be a non-negative number`);
    expect(() => parseCpus("0.0000000001")).toThrow(
      `invalid argument "0.0000000001" for "--cpus" flag: value is too precise`,
    );
  });
});
