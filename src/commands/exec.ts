import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

/** Flags stop at the container: everything after it is the command, verbatim. */
export const stopAfter = 1;

export default defineCommand({
  meta: { name: "exec", description: "Execute a command in a running container (minid exec [OPTIONS] CONTAINER COMMAND [ARG...])" },
  args: {
    container: { type: "positional", description: "Container name or id", required: true },
    detach: { type: "boolean", alias: "d", description: "Detached mode: run command in the background" },
    interactive: { type: "boolean", alias: "i", description: "Keep STDIN open even if not attached" },
    tty: { type: "boolean", alias: "t", description: "Allocate a pseudo-TTY" },
    env: { type: "string", alias: "e", description: "Set environment variables (repeatable)", multiple: true } as any,
    "env-file": { type: "string", description: "Read in a file of environment variables (repeatable)", multiple: true } as any,
    workdir: { type: "string", alias: "w", description: "Working directory inside the container" },
    user: { type: "string", alias: "u", description: "Username or UID (format: <name|uid>[:<group|gid>])" },
    privileged: { type: "boolean", description: "Give extended privileges to the command" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const name = a.positionals[0];
    if (!name || !a.rest.length) throw new UserError(`"minid exec" requires at least 2 arguments.\nSee 'minid exec --help'.`);
    const tty = Boolean(a.tty);
    const detach = Boolean(a.detach);
    // As Docker's CLI: only -it needs a terminal here (-t alone gets its own pty), exit 1.
    if (tty && Boolean(a.interactive) && !detach && !process.stdin.isTTY) throw new UserError("the input device is not a TTY", 1);
    const workdir = str(a.workdir);
    if (workdir !== undefined && !workdir.startsWith("/")) throw new UserError(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
    const env: string[] = [];
    if (list(a["env-file"]).length) {
      const { parseEnvFile } = await import("../container/env.ts");
      for (const f of list(a["env-file"])) env.push(...parseEnvFile(f));
    }
    env.push(...list(a.env));
    const engine = getEngine();
    const st = engine.containers.find(name);
    const { execInContainer } = await import("../container/exec.ts");
    return execInContainer(engine, st, {
      cmd: a.rest,
      interactive: Boolean(a.interactive),
      tty,
      detach,
      env,
      workdir,
      user: str(a.user),
      privileged: Boolean(a.privileged),
    });
  },
});
