import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

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
    const { attachContainer } = await import("../container/start.ts");
    return attachContainer(engine, st, {
      noStdin: Boolean(a["no-stdin"]),
      detachKeys: str(a["detach-keys"]) || undefined, // "" means the default, as for Docker
      sigProxy: a["sig-proxy"] === false ? false : undefined,
    });
  },
});
