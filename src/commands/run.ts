import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf, list, str, type CmdArgs } from "../cli/argv.ts";
import type { Watcher } from "../container/watcher.ts";
import { requireRoot } from "../engine.ts";
import { UserError, EXIT_ENGINE, signalNumber } from "../util/errors.ts";
import { RESOURCE_FLAGS, SECURITY_FLAGS, resourceOptions, securityOptions } from "../cli/container-flags.ts";

/** Flags stop at the image: everything after it is the container's command, verbatim. */
export const stopAfter = 1;

export default defineCommand({
  meta: { name: "run", description: "Create and run a new container from an image (minid run [OPTIONS] IMAGE [COMMAND] [ARG...])" },
  args: {
    image: { type: "positional", description: "Image to run", required: true },
    detach: { type: "boolean", alias: "d", description: "Run container in background and print container ID" },
    name: { type: "string", description: "Assign a name to the container" },
    env: { type: "string", alias: "e", description: "Set environment variables (repeatable)", multiple: true } as any,
    "env-file": { type: "string", description: "Read in a file of environment variables (repeatable)", multiple: true } as any,
    volume: { type: "string", alias: "v", description: "Bind mount a volume HOST:CONTAINER[:ro|rw] (repeatable)", multiple: true } as any,
    tmpfs: { type: "string", description: "Mount a tmpfs directory (repeatable)", multiple: true } as any,
    workdir: { type: "string", alias: "w", description: "Working directory inside the container" },
    hostname: { type: "string", alias: "h", description: "Container host name" },
    entrypoint: { type: "string", description: "Overwrite the default ENTRYPOINT of the image" },
    user: { type: "string", alias: "u", description: "Username or UID (format: <name|uid>[:<group|gid>])" },
    rm: { type: "boolean", description: "Automatically remove the container when it exits" },
    interactive: { type: "boolean", alias: "i", description: "Keep STDIN open" },
    tty: { type: "boolean", alias: "t", description: "Allocate a pseudo-TTY" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)" },
    "sig-proxy": { type: "boolean", description: "Proxy received signals to the process (default true)" },
    "stop-signal": { type: "string", description: "Signal to stop the container (default SIGTERM or the image's StopSignal)" },
    "stop-timeout": { type: "string", description: "Timeout (in seconds) to stop a container (default 10)" },
    "read-only": { type: "boolean", description: "Mount the container's root filesystem as read only" },
    ...RESOURCE_FLAGS,
    ...SECURITY_FLAGS,
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const image = a.positionals[0];
    if (!image) throw new UserError(`"minid run" requires at least 1 argument.\nSee 'minid run --help'.`);
    if (a.tty && !a.detach && !process.stdin.isTTY) throw new UserError("the input device is not a TTY");
    // The watcher starts first and gets its container once it exists: its start-up overlaps ours.
    const { prestartWatcher } = await import("../container/watcher.ts");
    const tty = Boolean(a.tty);
    const { windowSize } = await import("../linux/libc.ts");
    const size = tty ? (windowSize(0) ?? windowSize(1)) : undefined;
    const watcher = prestartWatcher({ tty, interactive: Boolean(a.interactive), ...size });
    try {
      return await runContainer(a, image, watcher);
    } catch (e) {
      watcher.cancel();
      throw e;
    }
  },
});

async function runContainer(a: CmdArgs, image: string, watcher: Watcher): Promise<number> {
  const tty = Boolean(a.tty);
  const detach = Boolean(a.detach);
  const interactive = Boolean(a.interactive);
  const { parseDetachKeys, DEFAULT_DETACH_KEYS, terminalSize } = await import("../container/attach.ts");
  const detachKeys = parseDetachKeys(str(a["detach-keys"]) || DEFAULT_DETACH_KEYS);
  const stopSignal = str(a["stop-signal"]);
  if (stopSignal !== undefined && signalNumber(stopSignal) === undefined) throw new UserError(`invalid signal: ${stopSignal}`);
  const stopTimeout = str(a["stop-timeout"]);
  if (stopTimeout !== undefined && !/^-?\d+$/.test(stopTimeout)) {
    throw new UserError(`invalid argument "${stopTimeout}" for "--stop-timeout" flag: strconv.ParseInt: parsing "${stopTimeout}": invalid syntax`);
  }
  const engine = getEngine();
  const { createContainer } = await import("../container/create.ts");
  const st = await createContainer(engine, {
    image,
    cmd: a.rest,
    name: str(a.name),
    env: list(a.env),
    envFiles: list(a["env-file"]),
    workdir: str(a.workdir),
    hostname: str(a.hostname),
    entrypoint: str(a.entrypoint),
    user: str(a.user),
    volumes: list(a.volume),
    tmpfs: list(a.tmpfs),
    readOnly: Boolean(a["read-only"]),
    rm: Boolean(a.rm),
    interactive,
    tty,
    resources: resourceOptions(a),
    security: securityOptions(a),
  });
  if (stopSignal !== undefined || stopTimeout !== undefined) {
    st.extra = { ...st.extra, stopSignal, stopTimeout: stopTimeout === undefined ? undefined : Number(stopTimeout) };
    engine.containers.save(st);
  }
  const { launchContainer } = await import("../container/start.ts");
  const { removeContainer } = await import("../container/remove.ts");
  let launched;
  try {
    launched = await launchContainer(
      engine,
      st,
      { attach: !detach, stdin: interactive && !detach, size: tty ? terminalSize() : undefined },
      watcher,
    );
  } catch (e) {
    // A container whose command never started leaves nothing behind.
    removeContainer(engine, st.id, { force: true });
    throw e;
  }
  if (detach) {
    const { out } = await import("../cli/main.ts");
    out(`${st.id}\n`);
    return 0;
  }
  const { runSession } = await import("../container/attach.ts");
  const end = await runSession(launched.conn!, {
    tty,
    raw: tty && interactive,
    stdin: interactive,
    detachKeys,
    // As Docker: no signal proxy in terminal mode (keys reach the container as input).
    proxyTo: a["sig-proxy"] === false || tty ? undefined : launched.proc,
  });
  if ("detached" in end) return 0;
  if ("lost" in end) throw new UserError("lost the connection to the container's watcher", EXIT_ENGINE);
  return end.exitCode;
}
