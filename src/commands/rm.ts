import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { requireRoot } from "../engine.ts";
import { argsOf } from "../cli/argv.ts";
import { removeContainer } from "../container/remove.ts";
import { eachContainer } from "../container/control.ts";

export default defineCommand({
  meta: { name: "rm", description: "Remove one or more containers (minid rm [OPTIONS] CONTAINER [CONTAINER...])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Force the removal of a running container (uses SIGKILL)" },
    volumes: { type: "boolean", alias: "v", description: "Remove anonymous volumes associated with the container" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const engine = getEngine();
    // As Docker's CLI, -f makes a container that does not exist no error.
    const exists = (n: string) => {
      try {
        return Boolean(engine.containers.find(n));
      } catch (e) {
        return !/^No such container/.test((e as Error).message); // an ambiguous prefix stays an error
      }
    };
    const refs = a.force ? a.positionals.filter(exists) : a.positionals;
    if (a.force && a.positionals.length && !refs.length) return 0;
    return eachContainer(engine, refs, "rm", (st, ref) => {
      removeContainer(engine, st.id, { force: Boolean(a.force), volumes: Boolean(a.volumes) });
      out(`${ref}\n`);
    });
  },
});
