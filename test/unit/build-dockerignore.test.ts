import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { IgnoreMatcher, cleanPath } from "../../src/build/dockerignore.ts";
import { resolveSources, walkSource, sourcesChecksum } from "../../src/build/context.ts";

describe(".dockerignore patterns", () => {
  test("comments, blanks, leading slash, cleaning", () => {
    const m = IgnoreMatcher.parse("# c\n\n /a.txt \n./b/../c\n");
    expect(m.ignored("a.txt")).toBe(true);
    expect(m.ignored("c")).toBe(true);
    expect(m.ignored("b")).toBe(false);
    expect(cleanPath("/x/./y/../z/")).toBe("x/z");
  });
  test("* stays in a component, ** crosses them, ? and classes", () => {
    const m = IgnoreMatcher.parse("*.log\n**/*.tmp\nf?o\n[ab].c\n");
    expect(m.ignored("x.log")).toBe(true);
    expect(m.ignored("d/x.log")).toBe(false);
    expect(m.ignored("d/e/x.tmp")).toBe(true);
    expect(m.ignored("x.tmp")).toBe(true);
    expect(m.ignored("foo")).toBe(true);
    expect(m.ignored("fooo")).toBe(false);
    expect(m.ignored("a.c")).toBe(true);
    expect(m.ignored("c.c")).toBe(false);
  });
  test("a matching parent directory excludes what is under it", () => {
    const m = IgnoreMatcher.parse("node_modules\n");
    expect(m.ignored("node_modules/x/y.js")).toBe(true);
  });
  test("! exceptions; the last matching pattern wins", () => {
    const m = IgnoreMatcher.parse("*.md\n!README.md\nREADME*.md\n!README-keep.md\n");
    expect(m.ignored("a.md")).toBe(true);
    expect(m.ignored("README.md")).toBe(true);
    expect(m.ignored("README-keep.md")).toBe(false);
    const m2 = IgnoreMatcher.parse("docs\n!docs/keep.txt\n");
    expect(m2.ignored("docs/x")).toBe(true);
    expect(m2.ignored("docs/keep.txt")).toBe(false);
    expect(m2.hasExceptions).toBe(true);
  });
});

describe("context sources", () => {
  const root = mkdtempSync(join(tmpdir(), "minid-ctx-"));
  mkdirSync(join(root, "docs/sub"), { recursive: true });
  writeFileSync(join(root, "a.txt"), "a");
  writeFileSync(join(root, "b.txt"), "b");
  writeFileSync(join(root, "x.log"), "x");
  writeFileSync(join(root, "docs/keep.txt"), "k");
  writeFileSync(join(root, "docs/drop.txt"), "d");
  writeFileSync(join(root, "docs/sub/s.txt"), "s");
  symlinkSync("a.txt", join(root, "link"));
  symlinkSync("/etc", join(root, "out"));
  const ignore = IgnoreMatcher.parse("*.log\ndocs\n!docs/keep.txt\n");
  const ctx = { root, ignore };

  test("globs match within the context, minus ignored files", () => {
    expect(resolveSources(ctx, "*.txt").map((s) => s.rel)).toEqual(["a.txt", "b.txt"]);
    expect(resolveSources(ctx, "*.log")).toEqual([]);
  });
  test("a missing or ignored file is not found; paths never leave the root", () => {
    expect(() => resolveSources(ctx, "nope")).toThrow('"/nope": not found');
    expect(() => resolveSources(ctx, "x.log")).toThrow("excluded by .dockerignore");
    expect(resolveSources(ctx, "../../a.txt")[0]!.rel).toBe("a.txt");
  });
  test("a symlink source is followed inside the context; globs do not descend through links", () => {
    expect(resolveSources(ctx, "link")[0]!.path).toBe(join(root, "a.txt"));
    expect(resolveSources(ctx, "out/*")).toEqual([]);
    // out -> /etc resolves to <root>/etc, which does not exist: not the host's /etc
    expect(() => resolveSources(ctx, "out/passwd")).toThrow("not found");
  });
  test("walking an excluded directory keeps only the exceptions", () => {
    const [docs] = resolveSources(ctx, "docs");
    expect(walkSource(ctx, docs!).map((e) => e.rel)).toEqual(["", "keep.txt"]);
  });
  test("the checksum follows contents, not timestamps", () => {
    const s = resolveSources(ctx, "a.txt");
    const c1 = sourcesChecksum(ctx, s);
    const now = new Date(Date.now() + 5000);
    require("node:fs").utimesSync(join(root, "a.txt"), now, now);
    expect(sourcesChecksum(ctx, resolveSources(ctx, "a.txt"))).toBe(c1);
    writeFileSync(join(root, "a.txt"), "A");
    expect(sourcesChecksum(ctx, resolveSources(ctx, "a.txt"))).not.toBe(c1);
  });
  test("cleanup", () => rmSync(root, { recursive: true, force: true }));
});
