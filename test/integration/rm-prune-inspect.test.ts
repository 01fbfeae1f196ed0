// rm, container prune, inspect, names and unique id prefixes, ps filters.
import { describe, expect } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { it, alive, useLifecycleRoot } from "../helpers/lifecycle.ts";

const { r, state, idOf, watcherPidOf } = useLifecycleRoot("rm-prune-inspect");

describe("rm, prune, inspect, names and prefixes", () => {
  it("rm refuses a running container; rm -f kills it and leaves nothing", async () => {
    r.run(["run", "-d", "--name", "victim2", "busybox", "sleep", "300"]);
    const id = idOf("victim2");
    const pid = state("victim2").State.Pid;
    const watcher = watcherPidOf("victim2");
    const refused = r.run(["rm", "victim2"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("container is running");
    expect(r.run(["rm", "-f", "-v", "victim2"]).stdout).toBe("victim2\n");
    expect(alive(pid)).toBe(false);
    expect(alive(watcher)).toBe(false);
    expect(existsSync(join(r.dir, "containers", id))).toBe(false);
    expect(readdirSync(join(r.dir, "containers")).filter((n) => n.includes(id))).toEqual([]);
    expect(r.leakedMounts()).toEqual([]);
  });

  it("container prune removes stopped containers only", () => {
    r.run(["run", "--name", "gone1", "busybox", "true"]);
    r.run(["run", "-d", "--name", "stays", "busybox", "sleep", "300"]);
    const res = r.run(["container", "prune", "-f"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("Deleted Containers:");
    expect(res.stdout).toContain("Total reclaimed space:");
    const left = r.run(["ps", "-a", "--format", "{{.Names}}"]).stdout.split("\n").filter(Boolean);
    expect(left).toContain("stays");
    expect(left).not.toContain("gone1");
    expect(r.run(["ps", "-a", "-f", "status=exited", "-q"]).stdout).toBe("");
    r.run(["rm", "-f", "stays"]);
  });

  it("inspect: State, Config, Mounts, image and log path; templates; images as a fallback", () => {
    r.run(["run", "-d", "--name", "insp", "-v", "/tmp:/hosttmp:ro", "busybox", "sleep", "300"]);
    const s = state("insp");
    expect(s.Id).toBe(idOf("insp"));
    expect(s.Name).toBe("/insp");
    expect(s.State).toMatchObject({ Status: "running", Running: true, OOMKilled: false, ExitCode: 0 });
    expect(s.State.Pid).toBeGreaterThan(1);
    expect(s.Config.Cmd).toEqual(["sleep", "300"]);
    expect(s.Config.Image).toBe("busybox");
    expect(s.Image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(s.Mounts).toEqual([{ Type: "bind", Source: "/tmp", Destination: "/hosttmp", Mode: "ro", RW: false, Propagation: "rprivate" }]);
    expect(existsSync(s.LogPath)).toBe(true);
    expect(r.run(["inspect", "-f", "{{.State.Status}} {{.Config.Image}}", "insp"]).stdout).toBe("running busybox\n");
    expect(r.run(["inspect", "--format", "{{json .Config.Cmd}}", "insp"]).stdout).toBe('["sleep","300"]\n');
    const img = r.run(["inspect", "busybox"]);
    expect(img.code).toBe(0);
    expect(JSON.parse(img.stdout)[0].Id).toBe(s.Image);
    const none = r.run(["inspect", "nosuchthing"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("No such object: nosuchthing");
    r.run(["stop", "-t", "0", "insp"]);
    const stopped = state("insp");
    expect(stopped.State.Running).toBe(false);
    expect(stopped.State.Pid).toBe(0);
    expect(stopped.State.ExitCode).toBe(137);
    r.run(["rm", "insp"]);
  });

  it("names and unique id prefixes work everywhere; an ambiguous prefix is an error", () => {
    r.run(["run", "-d", "--name", "pfx", "busybox", "sleep", "300"]);
    const id = idOf("pfx");
    for (const ref of [id, id.slice(0, 12), id.slice(0, 6), "pfx"]) {
      expect(r.run(["inspect", "-f", "{{.Name}}", ref]).stdout).toBe("/pfx\n");
      expect(r.run(["exec", ref, "true"]).code).toBe(0);
    }
    // With 17+ containers, two ids must share their first hex digit.
    const ids = r.run(["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean);
    while (ids.length < 17) ids.push(r.run(["run", "-d", "busybox", "true"]).stdout.trim());
    const counts = new Map<string, number>();
    for (const i of ids) counts.set(i[0]!, (counts.get(i[0]!) ?? 0) + 1);
    const shared = [...counts].find(([, n]) => n > 1)![0];
    for (const cmd of [["inspect"], ["logs"], ["stop"], ["rm", "-f"], ["exec"]]) {
      const res = r.run([...cmd, shared, ...(cmd[0] === "exec" ? ["true"] : [])]);
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain("multiple containers match");
    }
    expect(r.run(["rm", "-f", "pfx"]).code).toBe(0);
  });

  it("ps -q, --no-trunc, --format json, -f status= and name=", () => {
    r.run(["run", "-d", "--name", "psrun", "busybox", "sleep", "300"]);
    r.run(["run", "--name", "psexit", "busybox", "sh", "-c", "exit 2"]);
    expect(r.run(["ps", "-q", "-f", "name=psrun"]).stdout).toMatch(/^[0-9a-f]{12}\n$/);
    expect(r.run(["ps", "-q", "--no-trunc", "-f", "name=psrun"]).stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const json = r.run(["ps", "-a", "--format", "json", "-f", "name=psexit"]).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({ Names: "psexit", State: "exited", Image: "busybox" });
    expect(json[0].Status).toMatch(/^Exited \(2\) /);
    const exited = r.run(["ps", "-f", "status=exited", "--format", "{{.Names}}"]).stdout.split("\n");
    expect(exited).toContain("psexit");
    expect(exited).not.toContain("psrun");
    const running = r.run(["ps", "--format", "{{.Names}}\t{{.Status}}"]).stdout;
    expect(running).toMatch(/psrun\tUp (Less than a second|\d+ seconds?)/);
    expect(r.run(["ps", "-f", "status=bogus"]).code).toBe(1);
    r.run(["rm", "-f", "psrun", "psexit"]);
  });
});
