import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

/** As `docker build`: a failure exits 1. */
export const userErrorExit = 1;

export default defineCommand({
  meta: { name: "build", description: "Build an image from a Dockerfile (minid build [OPTIONS] PATH | -)" },
  args: {
    tag: { type: "string", alias: "t", description: 'Name and optionally a tag in the "name:tag" format (repeatable)', multiple: true } as any,
    file: { type: "string", alias: "f", description: "Name of the Dockerfile (default: PATH/Dockerfile; - reads it from stdin)" },
    "build-arg": { type: "string", description: "Set build-time variables (repeatable)", multiple: true } as any,
    target: { type: "string", description: "Set the target build stage to build" },
    "no-cache": { type: "boolean", description: "Do not use cache when building the image" },
    quiet: { type: "boolean", alias: "q", description: "Suppress the build output and print image ID on success" },
    label: { type: "string", description: "Set metadata for an image (repeatable)", multiple: true } as any,
    iidfile: { type: "string", description: "Write the image ID to the file" },
    network: { type: "string", description: "Networking mode for the RUN instructions: default (the bridge) or none" },
    pull: { type: "boolean", description: "Always attempt to pull a newer version of the image" },
    secret: { type: "string", description: "Secret to expose to the build (id=ID,src=PATH or id=ID,env=VAR; repeatable)", multiple: true } as any,
    "tls-verify": { type: "boolean", description: "Require HTTPS and verify the certificate of registries FROM pulls from (--tls-verify=false: don't)" },
  },
  async run({ args }) {
    const a = argsOf(args);
    const [context, extra] = a.positionals;
    if (!context || extra) throw new UserError(`"minid build" requires exactly 1 argument.\nSee 'minid build --help'.`, 1);
    requireRoot();
    const { buildImage } = await import("../build/index.ts");
    const engine = getEngine();
    if (a["tls-verify"] !== undefined) engine.tlsVerify = Boolean(a["tls-verify"]);
    const id = await buildImage(engine, {
      context,
      file: str(a.file),
      tags: list(a.tag),
      buildArgs: list(a["build-arg"]),
      target: str(a.target),
      noCache: Boolean(a["no-cache"]),
      quiet: Boolean(a.quiet),
      labels: list(a.label),
      iidfile: str(a.iidfile),
      network: str(a.network),
      pull: Boolean(a.pull),
      secrets: list(a.secret),
    });
    out(`${id}\n`);
    return 0;
  },
});
