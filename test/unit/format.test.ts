import { describe, expect, test } from "bun:test";
import { humanDuration, humanSize, table, ellipsis } from "../../src/cli/format.ts";
import { statusFromExit, signalNumber } from "../../src/util/errors.ts";

describe("Docker-style output", () => {
  test("durations follow go-units", () => {
    expect(humanDuration(500)).toBe("Less than a second");
    expect(humanDuration(1000)).toBe("1 second");
    expect(humanDuration(42_000)).toBe("42 seconds");
    expect(humanDuration(61_000)).toBe("About a minute");
    expect(humanDuration(3 * 60_000)).toBe("3 minutes");
    expect(humanDuration(3600_000)).toBe("About an hour");
    expect(humanDuration(5 * 3600_000)).toBe("5 hours");
    expect(humanDuration(3 * 86400_000)).toBe("3 days");
  });
  test("sizes use three significant digits and decimal units", () => {
    expect(humanSize(512)).toBe("512B");
    expect(humanSize(4_260_000)).toBe("4.26MB");
    expect(humanSize(1_000_000_000)).toBe("1GB");
  });
  test("tables pad columns by three spaces, at least 10 wide (Docker's tabwriter minwidth)", () => {
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A         BB\nxxx       y\n");
    expect(table(["REPOSITORY", "TAG"], [["busybox", "latest"]])).toBe("REPOSITORY   TAG\nbusybox      latest\n");
  });
  test("ellipsis", () => {
    expect(ellipsis("abcdef", 4)).toBe("abc…");
    expect(ellipsis("abc", 4)).toBe("abc");
  });
  test("exit statuses", () => {
    expect(statusFromExit(3, null)).toBe(3);
    expect(statusFromExit(null, "SIGTERM")).toBe(143);
    expect(statusFromExit(null, "SIGINT")).toBe(130);
    expect(signalNumber("kill")).toBe(9);
    expect(signalNumber("SIGUSR1")).toBe(10);
    expect(signalNumber("99")).toBeUndefined();
  });
});
