import { describe, expect, test } from "bun:test";
import { processWord, processWords, varsOf, SubstitutionError } from "../../src/build/substitute.ts";

const v = varsOf({ A: "apple", E: "", P: "/usr/local/bin", SP: "a b" });

describe("variable substitution", () => {
  test("$VAR and ${VAR}; unset is empty", () => {
    expect(processWord("$A-${A}x$NOPE.", v)).toBe("apple-applex.");
  });
  test("modifiers :- - :+ + with set, empty and unset", () => {
    expect(processWord("${A:-d} ${E:-d} ${U:-d}", v)).toBe("apple d d");
    expect(processWord("${A-d}|${E-d}|${U-d}", v)).toBe("apple||d");
    expect(processWord("${A:+alt}|${E:+alt}|${U:+alt}", v)).toBe("alt||");
    expect(processWord("${A+alt}|${E+alt}|${U+alt}", v)).toBe("alt|alt|");
  });
  test("nested default words expand", () => {
    expect(processWord("${U:-$A/x}", v)).toBe("apple/x");
  });
  test(":? fails with the message", () => {
    expect(() => processWord("${U:?need U}", v)).toThrow(SubstitutionError);
    expect(() => processWord("${U:?need U}", v)).toThrow("U: need U");
    expect(processWord("${A:?x}", v)).toBe("apple");
  });
  test("# ## % %% trim", () => {
    expect(processWord("${P#*/}|${P##*/}|${P%/*}|${P%%/l*}", v)).toBe("usr/local/bin|bin|/usr/local|/usr");
  });
  test("quotes: single literal, double expands, escapes", () => {
    expect(processWord(`'$A' "$A" \\$A "a\\"b"`, v)).toBe(`$A apple $A a"b`);
  });
  test("words split on unquoted whitespace only; values are not re-split", () => {
    expect(processWords(`a "b c" $SP 'd e'`, v)).toEqual(["a", "b c", "a b", "d e"]);
  });
  test("a lone $ stays; unterminated quotes and braces are errors", () => {
    expect(processWord("cost $ 5", v)).toBe("cost $ 5");
    expect(() => processWord(`"abc`, v)).toThrow("double-quote");
    expect(() => processWord("${A", v)).toThrow("missing '}'");
    expect(() => processWord("${A:x}", v)).toThrow("unsupported modifier");
  });
  test("the escape character can be a backtick", () => {
    expect(processWord("`$A", v, "`")).toBe("$A");
    expect(processWord("c:\\dir", v, "`")).toBe("c:\\dir");
  });
});
