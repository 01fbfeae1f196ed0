import { defineCommand } from "citty";
import { out } from "../cli/output.ts";
import pkg from "../../package.json" with { type: "json" };

export default defineCommand({
  meta: { name: "version", description: "Show the minid version information" },
  args: {},
  run() {
    out(`minid version ${pkg.version}\nBun: ${Bun.version}\nOS/Arch: ${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}\n`);
    return 0;
  },
});
