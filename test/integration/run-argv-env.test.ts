// `minid run`: argv, environment and working directory as the command sees them.
import { describe, expect } from "bun:test";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root");
const { r, run } = useRunRoot("run-argv-env");

describe("argv, environment and working directory", () => {
  it("arguments after the image arrive byte for byte as separate words", () => {
    expect(run("sh", "-c", "echo $((1+2))").stdout).toBe("3\n");
    const res = run("printf", "[%s]\\n", "a b", "", "c\"d", "$x", "--rm", "-e", "ü");
    expect(res.stdout).toBe('[a b]\n[]\n[c"d]\n[$x]\n[--rm]\n[-e]\n[ü]\n');
  });

  it("no host environment leaks; -e, --env, --env-file and -e NAME work", () => {
    const dir = join(r.dir, "envf");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "list"), "# a comment\nFILEVAR=from file\n");
    const res = r.run(
      ["run", "--rm", "-e", "A=1", "--env", "B=two words", "--env-file", join(dir, "list"), "-e", "PASSED", "busybox", "env"],
      { env: { SECRET_HOST_VAR: "leak", PASSED: "yes" } },
    );
    expect(res.code).toBe(0);
    const env = res.stdout.trim().split("\n").sort();
    expect(env).toContain("A=1");
    expect(env).toContain("B=two words");
    expect(env).toContain("FILEVAR=from file");
    expect(env).toContain("PASSED=yes");
    expect(env).toContain("HOME=/root");
    expect(env).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(env.join("\n")).not.toContain("SECRET_HOST_VAR");
  });

  it("-w sets (and creates) the working directory", () => {
    expect(run("-w", "/etc", "pwd").stdout).toBe("/etc\n");
    expect(run("--workdir", "/new/dir", "pwd").stdout).toBe("/new/dir\n");
  });

  it("without a command the image's CMD (sh) runs, reading stdin with -i", () => {
    const res = r.run(["run", "--rm", "-i", "busybox"], { input: "echo from-stdin; exit 4\n" });
    expect(res.stdout).toBe("from-stdin\n");
    expect(res.code).toBe(4);
  });

  it("works from source as well as compiled", () => {
    const res = r.run(["run", "--rm", "busybox", "echo", "src"], { source: true });
    expect(res.stdout).toBe("src\n");
    expect(res.code).toBe(0);
  });
});
