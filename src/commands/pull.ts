import { defineCommand } from "citty";
import { getEngine, globals } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

/** As `docker pull`: a failure exits 1.*/
export const userErrorExit = 1;

export default defineCommand({
  meta: { name: "pull", description: "Download an image from a registry (minid pull [OPTIONS] NAME[:TAG|@DIGEST])" },
  args: {
    quiet: { type: "boolean", alias: "q", description: "Suppress verbose output" },
    platform: { type: "string", description: "Pull this platform from a multi-platform image (default: the host's, linux/amd64)" },
    "tls-verify": { type: "boolean", description: "Require HTTPS and verify the registry's certificate (--tls-verify=false: don't; default true)" },
  },
  async run({ args }) {
    const a = argsOf(args);
    const [name, extra] = a.positionals;
    if (!name || extra) throw new UserError(`"minid pull" requires exactly 1 argument: NAME[:TAG|@DIGEST]\nSee 'minid pull --help'.`);
    requireRoot();
    const { pullImage } = await import("../image/pull.ts");
    const { parsePlatform } = await import("../image/registry/manifest.ts");
    const platform = str(a.platform) ? parsePlatform(str(a.platform)!) : undefined;
    const engine = getEngine();
    const { tlsSettings } = await import("../image/registry/tls.ts");
    const tls = a["tls-verify"] === undefined ? undefined : tlsSettings(engine.root, Boolean(a["tls-verify"]));
    const res = await pullImage(engine, { reference: name, quiet: Boolean(a.quiet), platform, insecure: globals.insecureRegistries, tls });
    out(`${res.fullName}\n`);
    const { recordEvent } = await import("../events/journal.ts");
    recordEvent(getEngine().root, { Type: "image", Action: "pull", id: res.fullName, attributes: { name: res.fullName } });
    return 0;
  },
});
