import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { parseReference } from "../image/reference.ts";

export default defineCommand({
  meta: { name: "tag", description: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE (minid tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG])" },
  args: {},
  run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 2) throw new UserError(`"minid tag" requires exactly 2 arguments.\nSee 'minid tag --help'.`);
    const [source, target] = a.positionals as [string, string];
    const store = getEngine().images;
    const img = store.resolve(source);
    if (!img) throw new UserError(`No such image: ${source}`);
    const ref = parseReference(target);
    if (ref.digest) throw new UserError(`refusing to create a tag with a digest reference: ${target}`);
    store.setTag(ref, img.id);
    const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
    recordEvent(getEngine().root, { Type: "image", Action: "tag", id: img.id, attributes: { name: target.includes(":") ? target : `${target}:latest` } });
    return 0;
  },
});
