import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { log } from "../util/log.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "inspect", description: "Return low-level information on containers and images (minid inspect [OPTIONS] NAME|ID [NAME|ID...])" },
  args: {
    format: { type: "string", alias: "f", description: "Format output using a custom template: 'json' or a Go template ({{.State.Status}}, {{json .Config}})" },
    type: { type: "string", description: "Only inspect objects of this type: container, image or network" },
    size: { type: "boolean", alias: "s", description: "Accepted for compatibility (sizes are not computed)" },
  },
  async run({ args }) {
    const a = argsOf(args);
    if (!a.positionals.length) throw new UserError(`"minid inspect" requires at least 1 argument.\nSee 'minid inspect --help'.`);
    const type = str(a.type);
    if (type !== undefined && type !== "container" && type !== "image" && type !== "volume" && type !== "network") {
      throw new UserError(`"${type}" is not a valid value for --type`);
    }
    const fmt = str(a.format);
    const { inspectOutput } = await import("../cli/format.ts");
    if (fmt && fmt !== "json") await inspectOutput([], fmt); // a template that does not parse fails first
    const engine = getEngine();
    const docs: unknown[] = [];
    let failed = 0;
    for (const name of a.positionals) {
      try {
        docs.push(await inspectOne(engine, name, type));
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        failed++;
        log.error(e.message);
      }
    }
    const { text, errors } = await inspectOutput(docs as object[], fmt);
    out(text);
    for (const e of errors) log.error(e);
    return failed || errors.length ? 1 : 0;
  },
});

async function inspectOne(engine: ReturnType<typeof getEngine>, name: string, type: string | undefined): Promise<unknown> {
  if (type === "volume" || type === undefined) {
    const { volumes, inspectVolume } = await import("../volume/ops.ts");
    const v = type === "volume" || !engine.containers.matches(name) ? volumes(engine).get(name) : undefined;
    if (v && (type === "volume" || !engine.images.resolve(name))) return inspectVolume(engine, v);
    if (type === "volume") throw new UserError(`No such volume: ${name}`);
  }
  if (type !== "image" && type !== "network") {
    let st;
    try {
      st = engine.containers.find(name);
    } catch (e) {
      // an ambiguous prefix is an error; "no such container" may still be an image
      if (!(e instanceof UserError) || !/^No such container/.test(e.message) || type === "container") throw e;
    }
    if (st) {
      const { inspectContainer } = await import("../container/inspect.ts");
      return inspectContainer(engine, st);
    }
  }
  if (type !== "network") {
    try {
      const m = await import("../image/inspect.ts");
      const docs = m.inspectImage(engine, name) as unknown[];
      if (docs.length) return docs[0];
    } catch (e) {
      if (!(e instanceof UserError) || !/^No such image/.test(e.message)) throw e;
      if (type === "image") throw e;
    }
  }
  // Docker's inspect finds networks too (after containers and images).
  if (type === undefined || type === "network") {
    const { ensureDefaults } = await import("../network/networks.ts");
    const net = process.getuid?.() === 0 ? ensureDefaults(engine).find(name) : undefined;
    if (net) return (await import("../network/inspect.ts")).networkDoc(engine, net);
    if (type === "network") throw new UserError(`network ${name} not found`);
  }
  throw new UserError(`No such object: ${name}`);
}
