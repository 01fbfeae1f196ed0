import { defineCommand } from "citty";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "completion", description: "Generate the autocompletion script for bash, zsh or fish (minid completion bash|zsh|fish)" },
  args: {},
  async run({ args }) {
    const a = argsOf(args);
    const shell = a.positionals[0];
    if (a.positionals.length !== 1) throw new UserError(`"minid completion" requires exactly 1 argument: bash, zsh or fish.\nSee 'minid completion --help'.`);
    const { completionScript } = await import("../cli/completion.ts");
    // The command table arrives through the args (cli/main.ts), so this file imports no table.
    const script = await completionScript(shell!, (args as { commands?: any }).commands ?? {});
    if (script === undefined) throw new UserError(`unsupported shell "${shell}": use bash, zsh or fish`);
    out(script);
    return 0;
  },
});
