import { defineCommand } from "citty";
import { UserError } from "../util/errors.ts";

// `minid runtime …` is recognised by cli.ts before the CLI loads (runc's command line, its own
// global flags). Reaching this file means minid's own flags came first (`minid --root R
// runtime …`), which would leave it unclear whose --root is meant: say how to call it.
export default defineCommand({
  meta: { name: "runtime", description: "Act as an OCI runtime with runc's command line (minid runtime [--root DIR] COMMAND; also as minid-runtime)" },
  args: {},
  run() {
    throw new UserError("`runtime` must come first, before any minid flag: minid runtime [runtime flags] COMMAND (runc's flags: --root, --log, --log-format, --debug, --systemd-cgroup)", 1);
  },
});
