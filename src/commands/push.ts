import { defineCommand } from "citty";
import { getEngine, globals } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

/** As `docker push`: a failure exits 1.*/
export const userErrorExit = 1;

export default defineCommand({
  meta: { name: "push", description: "Upload an image to the registry its name points at (minid push [OPTIONS] NAME[:TAG])" },
  args: {
    quiet: { type: "boolean", alias: "q", description: "Suppress verbose output" },
    "compression-format": { type: "string", description: "Compress layers with gzip (default) or zstd" },
    "compression-level": { type: "string", description: "Compression level (gzip 1-9, default 6; zstd 1-19, default 3)" },
    "tls-verify": { type: "boolean", description: "Require HTTPS and verify the registry's certificate (--tls-verify=false: don't; default true)" },
  },
  async run({ args }) {
    const a = argsOf(args);
    const [name, extra] = a.positionals;
    if (!name || extra) throw new UserError(`"minid push" requires exactly 1 argument: NAME[:TAG]\nSee 'minid push --help'.`);
    requireRoot();
    const { pushImage } = await import("../image/push.ts");
    const { parseCompressionFormat } = await import("../image/layer-compress.ts");
    const { tlsSettings } = await import("../image/registry/tls.ts");
    const engine = getEngine();
    const level = str(a["compression-level"]);
    if (level !== undefined && !/^-?\d+$/.test(level)) throw new UserError(`invalid argument "${level}" for "--compression-level" flag: not a number`);
    const res = await pushImage(engine, {
      reference: name,
      quiet: Boolean(a.quiet),
      insecure: globals.insecureRegistries,
      compressionFormat: parseCompressionFormat(str(a["compression-format"])),
      compressionLevel: level === undefined ? undefined : Number(level),
      tls: a["tls-verify"] === undefined ? undefined : tlsSettings(engine.root, Boolean(a["tls-verify"])),
    });
    out(`${res.tag}: digest: ${res.digest} size: ${res.size}\n`);
    return 0;
  },
});
