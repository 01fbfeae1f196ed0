import { defineCommand } from "citty";
import runCmd from "./run.ts";

/** Flags stop at the image, as for run. */
export const stopAfter = 1;

// `create` takes every flag `run` takes except the ones about the session it does not have.
const { detach: _d, "detach-keys": _k, "sig-proxy": _s, ...args } = (runCmd.args ?? {}) as Record<string, unknown>;

export default defineCommand({
  meta: { name: "create", description: "Create a new container (minid create [OPTIONS] IMAGE [COMMAND] [ARG...])" },
  args: args as any,
  run(ctx) {
    return runCmd.run!({ ...ctx, args: { ...ctx.args, createOnly: true } } as any);
  },
});
