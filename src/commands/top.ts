import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { tabwrite } from "../cli/format.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

/** Everything after the container is ps's options. */
export const stopAfter = 1;

export default defineCommand({
  meta: { name: "top", description: "Display the running processes of a container (minid top CONTAINER [ps OPTIONS])" },
  args: {},
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const ref = a.positionals[0];
    if (!ref) throw new UserError(`"minid top" requires at least 1 argument.\nSee 'minid top --help'.`);
    const engine = getEngine();
    const { topContainer } = await import("../container/top.ts");
    const st = engine.containers.find(ref);
    const list = await topContainer(engine, st, a.rest);
    const { recordEvent } = await import("../events/journal.ts");
    recordEvent(engine.root, { Type: "container", Action: "top", id: st.id, attributes: { image: st.image, name: st.name } });
    // Docker's CLI: a tabwriter 20 wide with 3 spaces of padding.
    out(tabwrite([list.Titles, ...list.Processes].map((r) => r.join("\t")).join("\n") + "\n", 20, 3));
    return 0;
  },
});
