import { defineCommand } from "citty";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { release } from "node:os";
import pkg from "../../package.json" with { type: "json" };

// Docker's VersionInfo shape for --format ({{.Client.Version}}, {{json .}}). minid has no
// daemon: the engine is this same binary, so Server describes it too.
function versionInfo() {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const client = { Version: pkg.version, ApiVersion: "1.43", DefaultAPIVersion: "1.43", GitCommit: "", GoVersion: `bun${Bun.version}`, Os: process.platform, Arch: arch, BuildTime: "", Context: "default" };
  const server = { Platform: { Name: "minid" }, Version: pkg.version, ApiVersion: "1.43", MinAPIVersion: "1.12", GitCommit: "", GoVersion: `bun${Bun.version}`, Os: process.platform, Arch: arch, KernelVersion: release(), BuildTime: "" };
  return { Client: client, Server: server };
}

export default defineCommand({
  meta: { name: "version", description: "Show the minid version information" },
  args: {
    format: { type: "string", alias: "f", description: "Format output using a custom template: 'json' or a Go template" },
  },
  async run({ args }) {
    const fmt = str(argsOf(args).format);
    if (fmt) {
      const { renderTemplate } = await import("../cli/template.ts");
      out(renderTemplate(fmt === "json" ? "{{json .}}" : fmt, versionInfo()) + "\n");
      return 0;
    }
    out(`minid version ${pkg.version}\nBun: ${Bun.version}\nOS/Arch: ${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}\n`);
    return 0;
  },
});
