import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "rename", description: "Rename a container (minid rename CONTAINER NEW_NAME)" },
  args: {},
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 2) throw new UserError(`"minid rename" requires exactly 2 arguments.\nSee 'minid rename --help'.`);
    const engine = getEngine();
    const [ref, name] = a.positionals as [string, string];
    const st = engine.containers.find(ref);
    if (st.broken) throw new UserError(`container ${st.id} has an unreadable record (${st.broken}): remove it with minid rm -f`);
    engine.containers.rename(st.id, name.replace(/^\//, ""));
    const { recordEvent } = await import("../events/journal.ts");
    recordEvent(engine.root, { Type: "container", Action: "rename", id: st.id, attributes: { name: name.replace(/^\//, ""), oldName: `/${st.name}`, image: st.image } });
    return 0;
  },
});
