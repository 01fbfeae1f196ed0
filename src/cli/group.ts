// A management group (`minid container`, `network`, `volume`, `system`) typed alone: Docker
// prints the group's help; a word main did not route to a subcommand is not one of its commands.
import { defineCommand } from "citty";
import { out } from "./output.ts";
import { UserError } from "../util/errors.ts";

export function groupCommand(name: string, description: string, help: string) {
  return defineCommand({
    meta: { name, description },
    args: {},
    run({ args }) {
      const rest = (args as { positionals?: string[] }).positionals ?? [];
      if (rest.length) throw new UserError(`'${rest[0]}' is not a minid ${name} command.\nSee 'minid ${name} --help'.`);
      out(help);
      return 0;
    },
  });
}
