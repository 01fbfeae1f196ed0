import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "logout", description: "Log out from a registry (minid logout [SERVER]; default docker.io)" },
  args: {},
  async run({ args }) {
    const a = argsOf(args);
    const [server, extra] = a.positionals;
    if (extra) throw new UserError(`"minid logout" requires at most 1 argument: [SERVER]\nSee 'minid logout --help'.`);
    const { removeCredentials } = await import("../image/auth.ts");
    const { normalizeRegistry } = await import("../image/registry/endpoint.ts");
    const registry = normalizeRegistry(server ?? "docker.io");
    if (!registry) throw new UserError(`invalid registry name "${server}"`);
    if (removeCredentials(getEngine().root, registry)) out(`Removing login credentials for ${registry}\n`);
    else out(`Not logged in to ${registry}\n`);
    return 0;
  },
});
