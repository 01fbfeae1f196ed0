import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "commit", description: "Create a new image from a container's changes (minid commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]])" },
  args: {
    author: { type: "string", alias: "a", description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    change: { type: "string", alias: "c", description: "Apply Dockerfile instruction to the created image (repeatable)", multiple: true } as any,
    message: { type: "string", alias: "m", description: "Commit message" },
    pause: { type: "boolean", alias: "p", description: "Pause container during commit (default true)" },
    output: { type: "string", alias: "o", description: "Also write the new image as a tar archive (docker save format) to FILE" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const [container, reference, extra] = a.positionals;
    if (!container || extra) throw new UserError(`"minid commit" requires at least 1 and at most 2 arguments.\nSee 'minid commit --help'.`);
    const engine = getEngine();
    const output = str(a.output);
    if (output === "-") {
      const { checkStdoutNotTerminal } = await import("../image/archive.ts");
      checkStdoutNotTerminal("save");
    }
    const opts = { container, reference, message: str(a.message), author: str(a.author), changes: list(a.change), pause: a.pause !== false };
    const img = output
      ? await (await import("../image/save.ts")).commitAndSave(engine, opts, output)
      : await (await import("../image/commit.ts")).commitContainer(engine, opts);
    // With the archive on stdout, the id goes to stderr so the tar stays clean.
    if (output === "-") {
      process.stderr.write(`${img.id}\n`);
      return 0;
    }
    out(`${img.id}\n`);
    {
      const { recordEvent } = await import("../events/journal.ts");
      const st = engine.containers.find(container);
      recordEvent(engine.root, {
        Type: "container", Action: "commit", id: st.id,
        attributes: { comment: str(a.message) ?? "", image: st.image, imageID: img.id, imageRef: reference ?? "", name: st.name },
      });
    }
    return 0;
  },
});
