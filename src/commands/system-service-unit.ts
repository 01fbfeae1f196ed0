import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: {
    name: "system service-unit",
    description: "Print a systemd unit that runs 'minid system restore' at boot (minid system service-unit)",
  },
  args: {},
  async run({ args }) {
    if (argsOf(args).positionals.length) throw new UserError(`"minid system service-unit" accepts no arguments.\nSee 'minid system service-unit --help'.`);
    const { serviceUnit } = await import("../container/restore.ts");
    out(serviceUnit(getEngine()));
    return 0;
  },
});
