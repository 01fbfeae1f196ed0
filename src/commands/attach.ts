import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError, EXIT_ENGINE } from "../util/errors.ts";
import { isRunning } from "../container/status.ts";
import { containerProc } from "../container/proc.ts";

export default defineCommand({
  meta: { name: "attach", description: "Attach local standard input, output, and error streams to a running container (minid attach [OPTIONS] CONTAINER)" },
  args: {
    "no-stdin": { type: "boolean", description: "Do not attach STDIN" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)" },
    "sig-proxy": { type: "boolean", description: "Proxy all received signals to the process (default true)" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 1) throw new UserError(`"minid attach" requires exactly 1 argument.\nSee 'minid attach --help'.`);
    const engine = getEngine();
    const st = engine.containers.find(a.positionals[0]!);
    const { parseDetachKeys, DEFAULT_DETACH_KEYS, terminalSize, runSession, AttachConnection } = await import("../container/attach.ts");
    const detachKeys = parseDetachKeys(str(a["detach-keys"]) || DEFAULT_DETACH_KEYS);
    if (!isRunning(st)) throw new UserError("You cannot attach to a stopped container, start it first");
    const stdin = !a["no-stdin"] && st.config.interactive;
    const tty = st.config.tty;
    if (tty && stdin && !process.stdin.isTTY) throw new UserError("the input device is not a TTY");
    const conn = await AttachConnection.connect(engine.containers.containerDir(st.id));
    const size = tty ? terminalSize() : undefined;
    conn.hello({ stdin, ...size });
    const end = await runSession(conn, {
      tty,
      raw: tty && stdin,
      stdin,
      detachKeys,
      proxyTo: a["sig-proxy"] === false || tty ? undefined : containerProc(st),
    });
    if ("detached" in end) return 0;
    if ("lost" in end) {
      // The watcher went away without a word: report what the record says.
      const cur = engine.containers.load(st.id);
      if (cur && !isRunning(cur)) return cur.state.exitCode;
      throw new UserError("lost the connection to the container's watcher", EXIT_ENGINE);
    }
    return end.exitCode;
  },
});
