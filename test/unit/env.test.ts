import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { buildEnv, parseEnvFile } from "../../src/container/env.ts";

describe("container environment", () => {
  test("image env, then files, then flags; host env never leaks", () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-env-"));
    try {
      const f = join(dir, "e");
      writeFileSync(f, "# comment\n\nFROMFILE=1\nOVER=file\nHOSTVAR\n");
      const env = buildEnv({
        image: ["PATH=/img/bin", "OVER=image"],
        files: [f],
        flags: ["OVER=flag", "EMPTY=", "MISSING"],
        hostname: "abc",
        home: "/root",
        tty: false,
        hostEnv: { HOSTVAR: "h", SECRET: "s" },
      });
      expect(env).toContain("PATH=/img/bin");
      expect(env).toContain("FROMFILE=1");
      expect(env).toContain("OVER=flag");
      expect(env).toContain("EMPTY=");
      expect(env).toContain("HOSTVAR=h");
      expect(env).toContain("HOSTNAME=abc");
      expect(env).toContain("HOME=/root");
      expect(env.some((e) => e.startsWith("SECRET"))).toBe(false);
      expect(env.some((e) => e.startsWith("MISSING"))).toBe(false);
      expect(env.some((e) => e.startsWith("TERM="))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("a default PATH when the image has none, TERM with a tty", () => {
    const env = buildEnv({ image: [], files: [], flags: [], hostname: "h", home: "/root", tty: true, hostEnv: {} });
    expect(env).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(env).toContain("TERM=xterm");
  });
  test("a missing env file is a clear error", () => {
    expect(() => parseEnvFile("/nonexistent/env")).toThrow(/no such file/);
  });
});
