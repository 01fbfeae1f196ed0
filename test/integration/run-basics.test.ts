// `minid run`: an exited container is kept until rm; --rm removes it.
import { describe, expect } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root");
const { r, run } = useRunRoot("run-basics");

describe("lifecycle basics", () => {
  it("an exited container is kept until rm; --rm removes it", () => {
    expect(r.run(["run", "--name", "kept", "busybox", "sh", "-c", "exit 3"]).code).toBe(3);
    const ps = r.run(["ps", "-a"]);
    expect(ps.stdout.split("\n")[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const line = ps.stdout.split("\n").find((l) => l.endsWith(" kept"))!;
    expect(line).toContain("Exited (3)");
    expect(line).toContain('"sh -c \'exit 3\'"');
    expect(r.run(["ps"]).stdout).not.toContain("kept");
    const id = r.run(["ps", "-aq", "--no-trunc", "-f", "name=kept"]).stdout.trim();
    expect(existsSync(join(r.dir, "containers", id))).toBe(true);
    expect(r.run(["rm", "kept"]).stdout).toBe("kept\n");
    expect(existsSync(join(r.dir, "containers", id))).toBe(false);
    const before = readdirSync(join(r.dir, "containers")).length;
    expect(run("true").code).toBe(0);
    expect(readdirSync(join(r.dir, "containers")).length).toBe(before);
  });

  it("--name must be unique", () => {
    expect(r.run(["run", "--name", "dup", "busybox", "true"]).code).toBe(0);
    const res = r.run(["run", "--name", "dup", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain('The container name "/dup" is already in use');
    r.run(["rm", "dup"]);
  });
});
