import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "events", description: "Get real time events from the server (minid events [OPTIONS])" },
  args: {
    filter: { type: "string", alias: "f", description: "Filter output based on conditions provided (container=, event=, image=, label=, type=, volume=)", multiple: true } as any,
    format: { type: "string", description: "Format the output using the given Go template" },
    since: { type: "string", description: "Show all events created since timestamp" },
    until: { type: "string", description: "Stream events until this timestamp" },
  },
  async run({ args }) {
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid events" accepts no arguments.\nSee 'minid events --help'.`);
    const q = await import("../events/query.ts");
    const j = await import("../events/journal.ts");
    const now = Date.now();
    const since = str(a.since) !== undefined ? q.parseEventTime(str(a.since)!, "--since", now) : undefined;
    const until = str(a.until) !== undefined ? q.parseEventTime(str(a.until)!, "--until", now) : undefined;
    const match = q.eventFilter(list(a.filter));
    const fmt = str(a.format);
    let print: (e: import("../events/query.ts").Event) => void;
    if (fmt === undefined || fmt === "") print = (e) => out(q.eventLine(e));
    else if (fmt === "{{json .}}" || fmt === "json") print = (e) => out(q.eventJson(e) + "\n");
    else {
      const { compile, run, asStruct } = await import("../cli/template.ts");
      const { UserError: UE } = await import("../util/errors.ts");
      let tpl;
      try {
        tpl = compile(fmt.replace(/\\t/g, "\t").replace(/\\n/g, "\n"));
      } catch (e) {
        throw new UE(`template parsing error: ${(e as Error).message}`);
      }
      print = (e) => out(run(tpl, asStruct(q.eventStruct(e), "events.Message") as any) + "\n");
    }
    const root = getEngine().root;
    const inRange = (e: import("../events/query.ts").Event) => (since === undefined || e.nano >= since) && (until === undefined || e.nano <= until);
    // The past (only when asked for with --since or --until, as Docker's), then what comes.
    const nowNano = BigInt(now) * 1_000_000n;
    if (since !== undefined || until !== undefined) {
      for (const e of j.readEvents(root)) if (e.nano <= nowNano && inRange(e) && match(e)) print(e);
    }
    if (until !== undefined && until <= nowNano) return 0;
    const deadline = until === undefined ? undefined : Number(until / 1_000_000n);
    await j.followEvents(
      root,
      (e) => {
        if (inRange(e) && match(e)) print(e);
      },
      () => deadline !== undefined && Date.now() > deadline,
    );
    return 0;
  },
});
