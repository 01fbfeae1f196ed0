import { describe, expect, test } from "bun:test";
import { parseArgv } from "../../src/cli/argv.ts";
import { UserError } from "../../src/util/errors.ts";

const defs = {
  image: { type: "positional" },
  env: { type: "string", alias: "e", multiple: true },
  name: { type: "string" },
  rm: { type: "boolean" },
  interactive: { type: "boolean", alias: "i" },
  tty: { type: "boolean", alias: "t" },
  workdir: { type: "string", alias: "w" },
} as any;

describe("parseArgv", () => {
  test("stops at the image: the command reaches the container verbatim", () => {
    const p = parseArgv(["--rm", "busybox", "sh", "-c", "echo $((1+2))", "--rm", "-e", "X"], defs, "run", 1);
    expect(p.positionals).toEqual(["busybox"]);
    expect(p.rest).toEqual(["sh", "-c", "echo $((1+2))", "--rm", "-e", "X"]);
    expect(p.flags.rm).toBe(true);
  });
  test("repeatable flags accumulate in order", () => {
    const p = parseArgv(["-e", "A=1", "--env", "B=2", "-eC=3", "--env=D=4", "img"], defs, "run", 1);
    expect(p.flags.env).toEqual(["A=1", "B=2", "C=3", "D=4"]);
  });
  test("grouped short booleans and a trailing value flag", () => {
    const p = parseArgv(["-itw", "/tmp", "img"], defs, "run", 1);
    expect(p.flags).toMatchObject({ interactive: true, tty: true, workdir: "/tmp" });
  });
  test("unknown flags are errors that name the flag and the command", () => {
    expect(() => parseArgv(["--nope", "img"], defs, "run", 1)).toThrow(/unknown flag: --nope/);
    expect(() => parseArgv(["-x", "img"], defs, "run", 1)).toThrow(UserError);
    // pflag's wording for a shorthand names the word it came in
    expect(() => parseArgv(["-ix", "img"], defs, "run", 1)).toThrow("unknown shorthand flag: 'x' in -ix");
  });
  test("a value flag at the end needs its argument", () => {
    expect(() => parseArgv(["--name"], defs, "run", 1)).toThrow(/flag needs an argument: --name/);
    expect(() => parseArgv(["-w"], defs, "run", 1)).toThrow("flag needs an argument: 'w' in -w");
  });
  test("-- ends flag parsing", () => {
    const p = parseArgv(["--", "-weird-image"], defs, "run", 1);
    expect(p.positionals).toEqual(["-weird-image"]);
  });
  test("empty arguments after the image survive", () => {
    const p = parseArgv(["img", "printf", "%s|", "", "a b"], defs, "run", 1);
    expect(p.rest).toEqual(["printf", "%s|", "", "a b"]);
  });
  test("without stopAfter positionals and flags mix", () => {
    const p = parseArgv(["a", "--rm", "b"], defs, "rm");
    expect(p.positionals).toEqual(["a", "b"]);
    expect(p.flags.rm).toBe(true);
  });
  test("boolean flags accept =false", () => {
    expect(parseArgv(["--rm=false", "img"], defs, "run", 1).flags.rm).toBe(false);
    expect(() => parseArgv(["--rm=maybe", "img"], defs, "run", 1)).toThrow(/invalid argument/);
  });
});
