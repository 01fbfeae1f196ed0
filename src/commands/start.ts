import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/main.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError, EXIT_ENGINE } from "../util/errors.ts";
import { eachContainer } from "../container/control.ts";
import { isRunning } from "../container/status.ts";

export default defineCommand({
  meta: { name: "start", description: "Start one or more stopped containers (minid start [OPTIONS] CONTAINER [CONTAINER...])" },
  args: {
    attach: { type: "boolean", alias: "a", description: "Attach STDOUT/STDERR and forward signals" },
    interactive: { type: "boolean", alias: "i", description: "Attach container's STDIN" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const engine = getEngine();
    const attach = Boolean(a.attach || a.interactive);
    const { launchContainer } = await import("../container/start.ts");
    if (!attach) {
      return eachContainer(engine, a.positionals, "start", async (st, ref) => {
        if (!isRunning(st)) await launchContainer(engine, st, { attach: false });
        out(`${ref}\n`);
      });
    }
    if (a.positionals.length !== 1) {
      throw new UserError(a.positionals.length ? "you cannot start and attach multiple containers at once" : `"minid start" requires at least 1 argument.\nSee 'minid start --help'.`);
    }
    const st = engine.containers.find(a.positionals[0]!);
    const { parseDetachKeys, DEFAULT_DETACH_KEYS, terminalSize, runSession } = await import("../container/attach.ts");
    const detachKeys = parseDetachKeys(str(a["detach-keys"]) || DEFAULT_DETACH_KEYS);
    const stdin = Boolean(a.interactive) && st.config.interactive;
    const tty = st.config.tty;
    if (tty && stdin && !process.stdin.isTTY) throw new UserError("the input device is not a TTY");
    if (isRunning(st)) throw new UserError(`container ${st.name} is already running: use 'minid attach'`);
    const launched = await launchContainer(engine, st, { attach: true, stdin, size: tty ? terminalSize() : undefined });
    const end = await runSession(launched.conn!, { tty, raw: tty && stdin, stdin, detachKeys, proxyTo: tty ? undefined : launched.proc });
    if ("detached" in end) return 0;
    if ("lost" in end) throw new UserError("lost the connection to the container's watcher", EXIT_ENGINE);
    return end.exitCode;
  },
});
