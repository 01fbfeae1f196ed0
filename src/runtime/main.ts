// minid as an OCI runtime: runc's command line, reached when the binary is invoked as
// `minid-runtime` (a symlink, busybox-style) or as `minid runtime …`. Callers (Podman's
// conmon, containerd's shim, CRI-O, runtime-tools) parse its exit status and stderr, so both
// follow runc: 0 or 1, and errors as logrus lines (text or JSON, --log-format) on stderr and
// in --log. Each operation lives in its own module, imported only when it runs: this entry
// stays as small as a runtime's start-up must be.
import { RuntimeError } from "./errors.ts";

import { parseFlags, str, makeLogger, type Globals, type Logger, writeOut } from "./flags.ts";

const USAGE = `NAME:
   minid-runtime - an OCI runtime (runc's command line) in minid's binary

USAGE:
   minid-runtime [global options] command [command options] [arguments...]

COMMANDS:
   create    create a container from a bundle (its init waits for start)
   start     start the process of a created container
   run       create and start a container, wait for it, delete it
   state     output the state of a container (runtime-spec State JSON)
   kill      send a signal to the container's init (or --all processes)
   delete    delete a stopped container (--force: any)
   exec      run a new process inside a container
   list      list containers (--format table|json, -q)
   ps        processes running inside a container
   pause     suspend all processes of a container (freezer)
   resume    resume a paused container
   update    update a container's resource limits (--resources FILE|-)
   features  show what this runtime implements (JSON)
   spec      write a default config.json for a bundle

GLOBAL OPTIONS:
   --root value        root directory for container state (default: "/run/minid-runtime")
   --log value         also write errors and warnings to this file
   --log-format value  text or json (default: "text")
   --debug             log debug messages
   --systemd-cgroup    take cgroupsPath as "slice:prefix:name"; mapped onto cgroupfs (no systemd here)
   --help, -h          show help
   --version, -v       print the version
`;

const OPS: Record<string, () => Promise<{ default: (g: Globals, log: Logger, argv: string[]) => Promise<number> | number }>> = {
  create: () => import("./create.ts"),
  start: () => import("./start.ts"),
  run: () => import("./run.ts"),
  state: () => import("./state.ts"),
  kill: () => import("./kill.ts"),
  delete: () => import("./delete.ts"),
  exec: () => import("./exec.ts"),
  list: () => import("./list.ts"),
  ps: () => import("./ps.ts"),
  pause: () => import("./pause.ts"),
  resume: () => import("./resume.ts"),
  update: () => import("./update.ts"),
  features: () => import("./features.ts"),
  spec: () => import("./spec.ts"),
};

export async function runtimeMain(argv: string[]): Promise<number> {
  const g: Globals = { root: process.env.MINID_RUNTIME_ROOT || "/run/minid-runtime", logFormat: "text", debug: false, systemdCgroup: false };
  let log = makeLogger(g);
  try {
    const { flags, args } = parseFlags(argv, {
      bool: ["debug", "systemd-cgroup", "version", "no-new-keyring"],
      value: ["root", "log", "log-format", "criu", "rootless"],
      alias: { v: "version" },
    }, "");
    g.root = str(flags, "root") ?? g.root;
    g.log = str(flags, "log");
    const fmt = str(flags, "log-format") ?? "text";
    if (fmt !== "text" && fmt !== "json") throw new RuntimeError(`invalid log-format: ${fmt}`);
    g.logFormat = fmt;
    g.debug = flags.get("debug") === true;
    g.systemdCgroup = flags.get("systemd-cgroup") === true;
    log = makeLogger(g);
    if (str(flags, "rootless") === "true") throw new RuntimeError("--rootless=true is not supported: minid's runtime needs root (user namespaces cannot be made from a Bun process)");
    if (flags.get("version")) {
      writeOut(`minid-runtime version 0.1.0\nspec: 1.0.2\n`);
      return 0;
    }
    const [cmd, ...rest] = args;
    if (!cmd || flags.get("help") || cmd === "help") {
      writeOut(USAGE);
      return cmd || flags.get("help") ? 0 : 0;
    }
    if (cmd === "checkpoint" || cmd === "restore") throw new RuntimeError(`${cmd} is not supported by minid (no CRIU)`);
    if (cmd === "events") throw new RuntimeError("events is not supported by minid-runtime");
    const op = OPS[cmd];
    if (!op) throw new RuntimeError(`No help topic for '${cmd}'`);
    const mod = await op();
    return await mod.default(g, log, rest);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log.error(msg);
    return e instanceof RuntimeError ? e.exitCode : 1;
  }
}
