// `minid run` with bad input: one line of error, Docker's exit code, nothing left behind.
import { describe, expect } from "bun:test";
import { BIN } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root");
const { r } = useRunRoot("run-errors");

describe("bad input", () => {
  it("unknown image", () => {
    const res = r.run(["run", "--rm", "nosuchimage:1", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("nosuchimage:1");
  });
  it("unknown flag", () => {
    const res = r.run(["run", "--bogus", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("unknown flag: --bogus");
  });
  it("missing image argument: cobra's argument count, exit 1 as Docker's CLI", () => {
    expect(r.run(["run"]).code).toBe(1);
  });
  it("missing env file", () => {
    const res = r.run(["run", "--rm", "--env-file", "/nonexistent", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("/nonexistent");
  });
  it("relative working directory", () => {
    expect(r.run(["run", "--rm", "-w", "rel", "busybox", "true"]).code).toBe(125);
  });
  it("-it without a terminal: refused by the CLI before anything, exit 1 as Docker's", () => {
    const res = r.run(["run", "--rm", "-it", "busybox", "true"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("not a TTY");
    expect(r.run(["run", "--rm", "-t", "busybox", "true"]).code).toBe(0);
  });
  it("not root: one line, exit 125", () => {
    const res = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN, "--root", r.dir, "run", "busybox", "true"]);
    expect(res.exitCode).toBe(125);
    const err = res.stderr.toString();
    expect(err).toContain("root");
    expect(err.trim().split("\n")).toHaveLength(1);
  });
});
