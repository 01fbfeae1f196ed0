import { defineCommand } from "citty";
import { getEngine, globals } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import { log } from "../util/log.ts";

/** As `docker login`: a failure exits 1.*/
export const userErrorExit = 1;

export default defineCommand({
  meta: { name: "login", description: "Log in to a registry (minid login [OPTIONS] [SERVER]; default docker.io)" },
  args: {
    username: { type: "string", alias: "u", description: "Username" },
    password: { type: "string", alias: "p", description: "Password" },
    "password-stdin": { type: "boolean", description: "Take the password from stdin" },
    "tls-verify": { type: "boolean", description: "Require HTTPS and verify the registry's certificate (--tls-verify=false: don't; default true)" },
  },
  async run({ args }) {
    const a = argsOf(args);
    const [server, extra] = a.positionals;
    if (extra) throw new UserError(`"minid login" requires at most 1 argument: [SERVER]\nSee 'minid login --help'.`);
    let username = str(a.username);
    let password = str(a.password);
    const fromStdin = Boolean(a["password-stdin"]);
    if (fromStdin && password !== undefined) throw new UserError("--password and --password-stdin are mutually exclusive");
    if (fromStdin && !username) throw new UserError("must provide --username with --password-stdin");
    if (password !== undefined && !fromStdin) log.warn("using --password on the command line is insecure; use --password-stdin");
    const { login } = await import("../image/auth.ts");
    if (fromStdin) password = (await Bun.stdin.text()).replace(/\r?\n$/, "");
    await login(getEngine(), { server, username, password, insecure: globals.insecureRegistries, tlsVerify: a["tls-verify"] === undefined ? undefined : Boolean(a["tls-verify"]) });
    out("Login Succeeded\n");
    return 0;
  },
});
