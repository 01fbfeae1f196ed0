// The terminal mode cli.ts guesses for the watcher it starts before the CLI loads (a wrong
// guess only costs the watcher a second init; see container/early-run.ts).
import { describe, expect, test } from "bun:test";
import { guessRunMode } from "../../src/container/early-run.ts";

const plain = { tty: false, interactive: false };
describe("guessRunMode", () => {
  test("only run, after any global flags", () => {
    expect(guessRunMode(["run", "busybox", "true"])).toEqual(plain);
    expect(guessRunMode(["--root", "/tmp/r", "--log-level", "debug", "run", "busybox"])).toEqual(plain);
    expect(guessRunMode(["--root=/tmp/run", "-D", "run", "busybox"])).toEqual(plain);
    expect(guessRunMode(["--root", "run", "ps"])).toBeUndefined();
    expect(guessRunMode(["ps", "--filter", "name=run"])).toBeUndefined();
    expect(guessRunMode(["exec", "c", "run"])).toBeUndefined();
    expect(guessRunMode(["run", "--help"])).toBeUndefined();
  });
  test("-t, -i, clusters and long forms before the image", () => {
    expect(guessRunMode(["run", "-it", "busybox", "sh"])).toEqual({ tty: true, interactive: true });
    expect(guessRunMode(["run", "--rm", "-i", "busybox", "cat"])).toEqual({ tty: false, interactive: true });
    expect(guessRunMode(["run", "-dt", "busybox"])).toEqual({ tty: true, interactive: false });
    expect(guessRunMode(["run", "--tty", "--interactive=false", "busybox"])).toEqual({ tty: true, interactive: false });
  });
  test("a flag's value and the container's command are not taken for -t/-i", () => {
    expect(guessRunMode(["run", "-e", "-t", "busybox", "true"])).toEqual(plain);
    expect(guessRunMode(["run", "--name", "x", "busybox", "ls", "-t"])).toEqual(plain);
    expect(guessRunMode(["run", "--rm", "busybox", "sh", "-i"])).toEqual(plain);
  });
});

describe("isExecCommand", () => {
  test("exec after global flags; not its --help, not another command", () => {
    const { isExecCommand } = require("../../src/container/early-run.ts");
    expect(isExecCommand(["exec", "c", "true"])).toBe(true);
    expect(isExecCommand(["--root", "/r", "exec", "-it", "c", "sh"])).toBe(true);
    expect(isExecCommand(["exec", "--help"])).toBe(false);
    expect(isExecCommand(["run", "busybox", "exec"])).toBe(false);
    expect(isExecCommand(["--root", "exec", "ps"])).toBe(false);
  });
});
