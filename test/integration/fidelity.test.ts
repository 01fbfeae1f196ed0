// Output formats, help, completion and exit codes as the Docker CLI has them, from the compiled
// binary: --format templates and tables on every list command, inspect documents, `completion
// bash` sourced into a real bash, and the exit codes scripts test for.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, isRoot, minidCommand } from "../helpers/minid.ts";

const T = 60_000;
const it = (name: string, fn: () => unknown, timeout = T) => (isRoot() ? test : test.skip)(name, fn as any, timeout);
let r: TestRoot;

beforeAll(() => {
  if (!isRoot()) return;
  ensureBuilt();
  r = new TestRoot("fidelity");
  expect(r.run(["run", "--name", "done", "busybox", "sh", "-c", "exit 3"]).code).toBe(3);
  expect(r.run(["run", "-d", "--name", "web", "busybox", "sleep", "300"]).code).toBe(0);
});

afterAll(() => {
  if (!r) return;
  r.run(["rm", "-f", "web", "done"]);
  r.cleanup();
});

const ok = (args: string[]) => {
  const res = r.run(args);
  if (res.code !== 0) throw new Error(`minid ${args.join(" ")}: ${res.code} ${res.stderr}`);
  return res.stdout;
};

describe("--format", () => {
  it("ps: Docker's default table, table templates, json, raw, -q", () => {
    const lines = ok(["ps", "-a"]).split("\n");
    // Docker's tabwriter: columns at least 10 wide, 3 spaces of padding.
    expect(lines[0]).toMatch(/^CONTAINER ID   IMAGE     COMMAND +CREATED +STATUS +PORTS     NAMES$/);
    expect(lines.find((l) => l.endsWith(" done"))).toMatch(/^[0-9a-f]{12}   busybox   "sh -c 'exit 3'"   .* ago +Exited \(3\) .* ago +done$/);
    expect(ok(["ps", "-a", "--format", "table {{.Names}}\\t{{.State}}"])).toBe("NAMES     STATE\nweb       running\ndone      exited\n");
    expect(ok(["ps", "--format", "{{.Names}} {{.Networks}} {{.Size}} [{{.Label \"x\"}}] {{len .ID}}"])).toBe("web bridge 0B [] 12\n");
    const js = JSON.parse(ok(["ps", "--format", "json"]).trim());
    expect(Object.keys(js)).toEqual(["Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"]);
    expect(js.CreatedAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+$/);
    expect(ok(["ps", "--format", "raw"])).toMatch(/^container_id: [0-9a-f]{12}\nimage: busybox\ncommand: "sleep 300"\ncreated_at: .*\nstate: running\nstatus: Up .*\nnames: web\nlabels:\nports:\n\n$/);
    expect(ok(["ps", "-q", "--format", "{{.Names}}"])).toMatch(/^[0-9a-f]{12}\n$/);
    expect(ok(["ps", "--format", "{{if eq .State \"running\"}}{{upper .Names}}{{end}}"])).toBe("WEB\n");
  });

  it("ps: a bad template is Docker's one-line error, exit 1", () => {
    const bad = r.run(["ps", "--format", "{{.Nope}}"]);
    // ps checks the template first, with its own wording (Docker's buildContainerListOptions).
    expect([bad.code, bad.stderr]).toEqual([1, `minid: failed to execute template: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext\n`]);
    const parse = r.run(["ps", "--format", "{{.Names"]);
    expect([parse.code, parse.stderr]).toEqual([1, "minid: failed to parse template: template: :1: unclosed action\n"]);
  });

  it("images, history and stats", () => {
    expect(ok(["images"]).split("\n")[0]).toMatch(/^REPOSITORY   TAG       IMAGE ID       CREATED +SIZE$/);
    const id = ok(["images", "-q"]).trim();
    expect(ok(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}}"])).toBe(`busybox:latest ${id} <none>\n`);
    expect(ok(["images", "--format", "table {{.Repository}}\\t{{.Tag}}"])).toBe("REPOSITORY   TAG\nbusybox      latest\n");
    expect(Object.keys(JSON.parse(ok(["images", "--format", "json"])))).toEqual(["Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"]);
    expect(ok(["history", "--format", "table {{.ID}}\\t{{.Comment}}", "busybox"])).toMatch(/^IMAGE +COMMENT\n/);
    expect(ok(["history", "-H=false", "--format", "{{.CreatedSince}}|{{.Size}}", "busybox"])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)\|\d+\n/);
    expect(ok(["stats", "--no-stream", "--format", "{{.Name}} {{.Container}} {{.PIDs}}", "web"])).toBe("web web 1\n");
    expect(ok(["stats", "--no-stream", "--format", "table {{.Name}}\\t{{.PIDs}}", "web"])).toBe("NAME      PIDS\nweb       1\n");
    expect(r.run(["stats", "--no-stream", "--format", "{{.Nope}}", "web"]).code).toBe(1);
  });

  it("version", () => {
    expect(ok(["version", "--format", "{{.Client.Os}}/{{.Client.Arch}}"])).toBe("linux/amd64\n");
    expect(Object.keys(JSON.parse(ok(["version", "--format", "json"])))).toEqual(["Client", "Server"]);
  });
});

describe("inspect", () => {
  it("an image's document has Docker's keys only", () => {
    const doc = JSON.parse(ok(["image", "inspect", "busybox"]))[0];
    expect(Object.keys(doc)).toEqual(["Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "DockerVersion", "Author", "Config", "Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"]);
    expect(JSON.parse(ok(["inspect", "busybox"]))[0]).toEqual(doc);
    expect(ok(["image", "inspect", "--format", "{{.Os}} {{index .RepoTags 0}} {{json .Config.Cmd}}", "busybox"])).toBe('linux busybox:latest ["sh"]\n');
  });

  it("a stopped container's NetworkSettings are present and typed, its default bridge endpoint without an address", () => {
    const ns = JSON.parse(ok(["inspect", "--format", "{{json .NetworkSettings}}", "done"]));
    expect(ns.IPAddress).toBe("");
    expect(ns.Ports).toEqual({});
    expect(ns.Networks.bridge.IPAddress).toBe("");
    expect(ns.Networks.bridge.IPPrefixLen).toBe(0);
    expect(ns.Networks.bridge.NetworkID).toMatch(/^[0-9a-f]{64}$/);
    expect(ok(["inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}} {{.State.ExitCode}} {{.Config.Labels.x}} {{.HostConfig.NetworkMode}}", "done"])).toBe("bridge 3 <no value> bridge\n");
  });

  it("timestamps are RFC 3339 with nanoseconds (trailing zeros dropped, as Go's RFC3339Nano)", () => {
    const [created, started, finished] = ok(["inspect", "-f", "{{.Created}} {{.State.StartedAt}} {{.State.FinishedAt}}", "done"]).trim().split(" ");
    for (const t of [created, started, finished]) expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
    // Sub-millisecond digits are real: a timestamp ends in 000000 one time in a million.
    for (const t of [created, started, finished]) expect(t).toMatch(/\.\d{4,9}Z$/);
  });

  it("json is compact; an unknown key is exit 1; a template that does not parse is exit 64", () => {
    const compact = ok(["inspect", "--format", "json", "done"]);
    expect(compact.startsWith('[{"Id":')).toBe(true);
    expect(compact.trim().split("\n")).toHaveLength(1);
    const miss = r.run(["inspect", "-f", "{{.Nope}}", "done"]);
    expect([miss.code, miss.stderr]).toEqual([1, `minid: template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"\n`]);
    const parse = r.run(["inspect", "-f", "{{if}}", "done"]);
    expect([parse.code, parse.stdout, parse.stderr]).toEqual([64, "", "minid: template parsing error: template: :1: missing value for if\n"]);
  });
});

describe("help and completion", () => {
  it("help is Docker's layout: Usage, description, aliases, options", () => {
    const run = ok(["run", "--help"]);
    expect(run.startsWith("\nUsage:  minid run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image\n\nAliases:\n  minid container run, minid run\n\nOptions:\n")).toBe(true);
    expect(run).toMatch(/\n  -e, --env list +Set environment variables/);
    expect(run).toMatch(/\n      --name string +/);
    expect(run).toMatch(/\n  -h, --hostname string +/);
    expect(ok(["ps", "--help"])).toContain("Aliases:\n  minid container ls, minid container list, minid container ps, minid ps\n");
    expect(ok(["stop", "--help"])).toMatch(/\n  -t, --time, --timeout string +Seconds to wait/);
    expect(ok(["container", "ls", "--help"])).toStartWith("\nUsage:  minid ps [OPTIONS]\n");
  });

  const bashAvailable = Bun.spawnSync(["bash", "-c", "true"]).exitCode === 0;
  (isRoot() && bashAvailable ? test : test.skip)("completion bash, sourced in bash: commands, flags, container and image names", () => {
    const script = join(r.dir, "minid.bash");
    writeFileSync(script, ok(["completion", "bash"]));
    const bin = minidCommand()[0]!;
    const complete = (...words: string[]) => {
      const cmd = `source ${script}; COMP_WORDS=(${[bin, "--root", r.dir, ...words].map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length + 2}; _minid; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const res = Bun.spawnSync(["bash", "-c", cmd]);
      expect(res.stderr.toString()).toBe("");
      return res.stdout.toString().split("\n").filter(Boolean).sort();
    };
    expect(complete("st")).toEqual(["start", "stats", "stop"]);
    expect(complete("rm", "--f")).toEqual(["--force"]);
    expect(complete("stop", "--ti")).toEqual(["--time", "--timeout"]);
    expect(complete("stop", "")).toEqual(["done", "web"]);
    expect(complete("container", "logs", "w")).toEqual(["web"]);
    expect(complete("run", "--rm", "bu")).toEqual(["busybox:latest"]);
    expect(complete("image", "ins")).toEqual(["inspect"]);
    expect(complete("inspect", "")).toEqual(["busybox:latest", "done", "web"]);
    expect(r.run(["completion", "tcsh"]).code).toBe(1);
  });

  const has = (sh: string) => Bun.spawnSync(["sh", "-c", `command -v ${sh}`]).exitCode === 0;
  (isRoot() && has("zsh") ? test : test.skip)("completion zsh, sourced in zsh", () => {
    const script = join(r.dir, "minid.zsh");
    writeFileSync(script, ok(["completion", "zsh"]));
    const bin = minidCommand()[0]!;
    const complete = (...words: string[]) => {
      const cmd = `source ${script}; COMP_WORDS=(${[bin, "--root", r.dir, ...words].map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length + 2}; _minid; print -l -- $COMPREPLY`;
      const res = Bun.spawnSync(["zsh", "-fc", cmd]);
      expect(res.stderr.toString()).toBe("");
      return res.stdout.toString().split("\n").filter(Boolean).sort();
    };
    expect(complete("st")).toEqual(["start", "stats", "stop"]);
    expect(complete("stop", "--ti")).toEqual(["--time", "--timeout"]);
    expect(complete("stop", "")).toEqual(["done", "web"]);
    expect(complete("run", "--rm", "bu")).toEqual(["busybox:latest"]);
  });

  (isRoot() && has("fish") ? test : test.skip)("completion fish, sourced in fish", () => {
    const script = join(r.dir, "minid.fish");
    writeFileSync(script, ok(["completion", "fish"]));
    const dir = join(minidCommand()[0]!, "..");
    const complete = (line: string) => {
      const res = Bun.spawnSync(["fish", "--no-config", "-c", `source ${script}; complete -C '${line}'`], { env: { PATH: `${dir}:${process.env.PATH}` } });
      expect(res.stderr.toString()).toBe("");
      return res.stdout.toString().split("\n").filter(Boolean).map((l) => l.split("\t")[0]!).sort();
    };
    expect(complete("minid st")).toEqual(["start", "stats", "stop"]);
    expect(complete("minid rm --forc")).toEqual(["--force"]);
    expect(complete(`minid --root ${r.dir} stop `)).toEqual(["done", "web"]);
    expect(complete(`minid --root ${r.dir} run bu`)).toEqual(["busybox:latest"]);
  });
});

describe("exit codes and parsing", () => {
  it("errors outside run/create exit 1; rm -f of a missing container is no error", () => {
    for (const args of [["logs", "nosuch"], ["rmi", "nosuch"], ["exec", "done", "true"], ["stop", "nosuch"], ["inspect", "nosuch"], ["history", "nosuch"]]) {
      const res = r.run(args);
      expect({ args, code: res.code, lines: res.stderr.trim().split("\n").length }).toEqual({ args, code: 1, lines: 1 });
    }
    const rmf = r.run(["rm", "-f", "nosuch"]);
    expect([rmf.code, rmf.stdout, rmf.stderr]).toEqual([0, "", ""]);
    expect(r.run(["rm", "nosuch"]).code).toBe(1);
    // run keeps Docker's 125 for its own failures, and a flag error is 125 everywhere.
    expect(r.run(["run", "nosuch/image:x"]).code).toBe(125);
    expect(r.run(["ps", "--bogus"]).code).toBe(125);
  });

  it("run -h needs a value; --detach-keys=\"\" is the default; stop takes -t, --time and --timeout", () => {
    const h = r.run(["run", "-h"]);
    expect([h.code, h.stderr]).toEqual([125, "minid: flag needs an argument: 'h' in -h\nSee 'minid run --help'.\n"]);
    // pflag's wording for shorthands; a bad value of stop's -t is a flag error (125), and
    // cobra's argument-count error is 1 even on run.
    expect(r.run(["run", "-X", "busybox"]).stderr).toBe("minid: unknown shorthand flag: 'X' in -X\nSee 'minid run --help'.\n");
    expect(r.run(["stop", "-t", "x", "nosuch"]).code).toBe(125);
    expect(r.run(["run"]).code).toBe(1);
    expect(ok(["run", "--rm", "--detach-keys=", "busybox", "echo", "ok"])).toBe("ok\n");
    for (const flag of ["-t", "--time", "--timeout"]) {
      expect(ok(["run", "-d", "--name", "stopme", "busybox", "sleep", "300"])).toMatch(/^[0-9a-f]{64}\n$/);
      expect(ok(["stop", flag, "0", "stopme"])).toBe("stopme\n");
      expect(ok(["inspect", "-f", "{{.State.Status}}", "stopme"])).toBe("exited\n");
      ok(["rm", "stopme"]);
    }
  });
});
