// The CLI itself: help, version, unknown commands and flags.
import { describe, expect } from "bun:test";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root");
const { r } = useRunRoot("cli");

describe("CLI", () => {
  it("--help, --version and per-command help", () => {
    const h = r.run(["--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("Usage:");
    expect(h.stdout).toContain("run");
    expect(r.run(["--version"]).stdout).toMatch(/^minid version \d+\.\d+\.\d+/);
    const rh = r.run(["run", "--help"]);
    expect(rh.code).toBe(0);
    expect(rh.stdout).toContain("--volume");
    // After the image, --help belongs to the container's command.
    expect(r.run(["run", "--rm", "busybox", "echo", "--help"]).stdout).toBe("--help\n");
  });
  it("unknown command", () => {
    const res = r.run(["frobnicate"]);
    expect(res.code).toBe(1); // cobra's unknown command, as the Docker CLI
    expect(res.stderr).toContain("'frobnicate' is not a minid command");
  });
});
