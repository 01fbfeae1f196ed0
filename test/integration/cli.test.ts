// The CLI itself: help, version, unknown commands and flags.
import { describe, expect } from "bun:test";
import { requires } from "../helpers/requires.ts";
import { readdirSync } from "node:fs";
import { useRunRoot } from "../helpers/run-root.ts";
import { minidCommand } from "../helpers/minid.ts";

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
  it("a reader that goes away (| head) ends minid silently, as SIGPIPE ends the Docker CLI", () => {
    expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
    const bin = minidCommand().join(" ");
    // The reader exits before reading: save's first write meets a closed pipe.
    const res = Bun.spawnSync(["bash", "-c", `set -o pipefail; ${bin} --root '${r.dir}' save busybox | (exec 0<&-; sleep 0.3); echo "status=$?"`], { stderr: "pipe" });
    expect(res.stdout.toString()).toBe("status=141\n");
    expect(res.stderr.toString()).toBe("");
    expect(readdirSync(`${r.dir}/image/tmp`).filter((n) => !n.startsWith("pin-"))).toEqual([]);
  });
  it("unknown command", () => {
    const res = r.run(["frobnicate"]);
    expect(res.code).toBe(1); // cobra's unknown command, as the Docker CLI
    expect(res.stderr).toContain("'frobnicate' is not a minid command");
  });
});
