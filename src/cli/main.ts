// The CLI's own main over citty command definitions: global flags, lazy command loading,
// strict parsing, help, and one place that turns errors into Docker-style exit codes.
import type { CommandDef } from "citty";
import { parseArgv } from "./argv.ts";
import { losslessArgv } from "../util/argbytes.ts";
import { globals } from "./globals.ts";
import { log, setLogLevel } from "../util/log.ts";
import { UserError, FlagError, EXIT_ENGINE, EXIT_SIGPIPE, StdoutClosed, escapeControl } from "../util/errors.ts";
import { SyscallError } from "../linux/libc.ts";
import { out } from "./output.ts";
import { parseDuration, setRegistryTimeouts } from "../image/registry/timeouts.ts";
import pkg from "../../package.json" with { type: "json" };

type Loader = () => Promise<{ default: CommandDef<any>; stopAfter?: number; userErrorExit?: number }>;

export const COMMANDS: Record<string, Loader> = {
  run: () => import("../commands/run.ts"),
  ps: () => import("../commands/ps.ts"),
  rm: () => import("../commands/rm.ts"),
  exec: () => import("../commands/exec.ts"),
  logs: () => import("../commands/logs.ts"),
  start: () => import("../commands/start.ts"),
  stop: () => import("../commands/stop.ts"),
  restart: () => import("../commands/restart.ts"),
  kill: () => import("../commands/kill.ts"),
  wait: () => import("../commands/wait.ts"),
  attach: () => import("../commands/attach.ts"),
  inspect: () => import("../commands/inspect.ts"),
  container: () => import("../commands/container.ts"),
  "container-prune": () => import("../commands/prune.ts"),
  images: () => import("../commands/images.ts"),
  import: () => import("../commands/import.ts"),
  rmi: () => import("../commands/rmi.ts"),
  version: () => import("../commands/version.ts"),
  stats: () => import("../commands/stats.ts"),
  pull: () => import("../commands/pull.ts"),
  push: () => import("../commands/push.ts"),
  login: () => import("../commands/login.ts"),
  logout: () => import("../commands/logout.ts"),
  commit: () => import("../commands/commit.ts"),
  save: () => import("../commands/save.ts"),
  load: () => import("../commands/load.ts"),
  export: () => import("../commands/export.ts"),
  tag: () => import("../commands/tag.ts"),
  history: () => import("../commands/history.ts"),
  "image-inspect": () => import("../commands/image-inspect.ts"),
  build: () => import("../commands/build.ts"),
  completion: () => import("../commands/completion.ts"),
  // everyday-a: create, volumes, and the everyday container/system commands
  create: () => import("../commands/create.ts"),
  cp: () => import("../commands/cp.ts"),
  diff: () => import("../commands/diff.ts"),
  pause: () => import("../commands/pause.ts"),
  unpause: () => import("../commands/unpause.ts"),
  rename: () => import("../commands/rename.ts"),
  events: () => import("../commands/events.ts"),
  top: () => import("../commands/top.ts"),
  update: () => import("../commands/update.ts"),
  info: () => import("../commands/info.ts"),
  system: () => import("../commands/system.ts"),
  "system-df": () => import("../commands/system-df.ts"),
  "system-prune": () => import("../commands/system-prune.ts"),
  "image-prune": () => import("../commands/image-prune.ts"),
  volume: () => import("../commands/volume.ts"),
  "volume-create": () => import("../commands/volume-create.ts"),
  "volume-ls": () => import("../commands/volume-ls.ts"),
  "volume-inspect": () => import("../commands/volume-inspect.ts"),
  "volume-rm": () => import("../commands/volume-rm.ts"),
  "volume-prune": () => import("../commands/volume-prune.ts"),
  "system-restore": () => import("../commands/system-restore.ts"),
  "system-service-unit": () => import("../commands/system-service-unit.ts"),
  port: () => import("../commands/port.ts"),
  network: () => import("../commands/network.ts"),
  "network-create": () => import("../commands/network-create.ts"),
  "network-ls": () => import("../commands/network-ls.ts"),
  "network-inspect": () => import("../commands/network-inspect.ts"),
  "network-rm": () => import("../commands/network-rm.ts"),
  "network-prune": () => import("../commands/network-prune.ts"),
  "network-connect": () => import("../commands/network-connect.ts"),
  "network-disconnect": () => import("../commands/network-disconnect.ts"),
  runtime: () => import("../commands/runtime.ts"),
};

const NETWORK_ALIASES: Record<string, string> = {
  "network create": "network-create", "network ls": "network-ls", "network list": "network-ls", "network inspect": "network-inspect",
  "network rm": "network-rm", "network remove": "network-rm", "network prune": "network-prune", "network connect": "network-connect",
  "network disconnect": "network-disconnect",
};
const ALIASES: Record<string, string> = {
  ...NETWORK_ALIASES,
  // everyday-a
  "volume create": "volume-create", "volume ls": "volume-ls", "volume list": "volume-ls", "volume inspect": "volume-inspect",
  "system events": "events", "system info": "info", "system df": "system-df", "system prune": "system-prune",
  "image prune": "image-prune",
  "volume rm": "volume-rm", "volume remove": "volume-rm", "volume prune": "volume-prune",
 "container ls": "ps", "container list": "ps", "container ps": "ps", "container prune": "container-prune", "image ls": "images", "image list": "images", "image rm": "rmi", "image remove": "rmi", "image inspect": "image-inspect" };

// Restart policies after a reboot (container/restore.ts).
Object.assign(ALIASES, { "system restore": "system-restore", "system service-unit": "system-service-unit" });
// Networks (network/).
Object.assign(ALIASES, {
  "network create": "network-create", "network ls": "network-ls", "network list": "network-ls", "network inspect": "network-inspect",
  "network rm": "network-rm", "network remove": "network-rm", "network prune": "network-prune", "network connect": "network-connect",
  "network disconnect": "network-disconnect",
});

const GLOBAL_HELP = `
Usage:  minid [OPTIONS] COMMAND

A self-contained container engine

Options:
      --root DIR              Where images and containers are kept (default /var/lib/minid, env MINID_ROOT)
      --storage-driver NAME   overlay (default), aufs or vfs (env MINID_STORAGE_DRIVER)
      --insecure-registry REG Allow plain http to this registry, and https without checking its
                              certificate (repeatable, env MINID_INSECURE_REGISTRIES)
      --tls-verify[=BOOL]     --tls-verify=false: don't check registry certificates, allow plain
                              http (default true; CAs from /etc/docker/certs.d/HOST:PORT and
                              <root>/certs.d/HOST:PORT)
      --registry-connect-timeout DURATION
                              Give up on a registry that sends no response headers for this long
                              (default 30s, env MINID_REGISTRY_CONNECT_TIMEOUT)
      --registry-idle-timeout DURATION
                              Give up on a transfer that sends nothing for this long; a layer
                              download resumes where it stopped (default 30s, env MINID_REGISTRY_IDLE_TIMEOUT)
      --bridge-name NAME      Interface of the default bridge network, when it is first made
                              (default minid0 for the default root, env MINID_BRIDGE)
      --bridge-subnet CIDR    Subnet of the default bridge network, when it is first made (default
                              172.17.0.0/16 or the next block no host route uses, env MINID_BRIDGE_SUBNET)
  -l, --log-level LEVEL       debug, info, warn or error (default info)
  -v, --version               Print version information and quit
  -h, --help                  Print usage

Commands:
  run         Create and run a new container from an image
  ps          List containers
  rm          Remove one or more containers
  exec        Execute a command in a running container
  logs        Fetch the logs of a container
  start       Start one or more stopped containers
  stop        Stop one or more running containers
  restart     Restart one or more containers
  kill        Kill one or more running containers
  wait        Block until one or more containers stop, then print their exit codes
  attach      Attach local standard input, output, and error streams to a running container
  inspect     Return low-level information on containers and images
  container   Manage containers (container prune, container ls, ...)
  images      List images
  import      Import a rootfs tarball as an image
  rmi         Remove one or more images
  stats       Display resource usage of containers
  version     Show the minid version
  pull        Download an image from a registry
  push        Upload an image to a registry
  login       Log in to a registry
  logout      Log out from a registry
  build       Build an image from a Dockerfile
  commit      Create a new image from a container's changes
  save        Save one or more images to a tar archive
  load        Load images from a tar archive or STDIN
  export      Export a container's filesystem as a tar archive
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  history     Show the history of an image
  completion  Generate the autocompletion script for bash, zsh or fish
  port        List port mappings or a specific mapping for the container
  create      Create a new container
  cp          Copy files/folders between a container and the local filesystem
  diff        Inspect changes to files or directories on a container's filesystem
  pause       Pause all processes within one or more containers
  unpause     Unpause all processes within one or more containers
  rename      Rename a container
  events      Get real time events from the server
  top         Display the running processes of a container
  update      Update configuration of one or more containers
  info        Display system-wide information
  system      Manage minid (system df, system prune, system info, system events)
  volume      Manage volumes
  network     Manage networks (create, ls, inspect, rm, prune, connect, disconnect)
  runtime     Act as an OCI runtime with runc's command line (also as minid-runtime)

Run 'minid COMMAND --help' for more information on a command.
`;

function boolFlag(v: string, flag: string): boolean {
  if (["true", "1", "t", "T", "TRUE", "True"].includes(v)) return true;
  if (["false", "0", "f", "F", "FALSE", "False"].includes(v)) return false;
  throw new UserError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}

export async function main(argv: string[]): Promise<number> {
  // Docker's CLI exits 125 for an engine failure only on run/create/exec; a command may say
  // what its own failures exit with (pull/push/login: 1).
  let userErrorExit: number | undefined;
  try {
    // The words as the user typed them, bytes that are not UTF-8 included (util/argbytes.ts).
    argv = losslessArgv(argv);
    let i = 0;
    for (; i < argv.length; i++) {
      const a = argv[i]!;
      const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
      const value = () => {
        if (inline !== undefined) return inline;
        if (i + 1 >= argv.length) throw new UserError(`flag needs an argument: ${flag}`);
        return argv[++i]!;
      };
      if (flag === "--root") globals.root = value();
      else if (flag === "--storage-driver" || flag === "-s") globals.storageDriver = value();
      else if (flag === "--insecure-registry") globals.insecureRegistries.push(value());
      else if (flag === "--bridge-name") globals.bridgeName = value();
      else if (flag === "--bridge-subnet") globals.bridgeSubnet = value();
      else if (flag === "--tls-verify") globals.tlsVerify = inline === undefined ? true : boolFlag(inline, flag);
      else if (flag === "--registry-connect-timeout") setRegistryTimeouts({ connectMs: parseDuration(value(), flag) });
      else if (flag === "--registry-idle-timeout") setRegistryTimeouts({ idleMs: parseDuration(value(), flag) });
      else if (flag === "--log-level" || flag === "-l") setLogLevel((globals.logLevel = value()));
      else if (flag === "-D" || flag === "--debug") setLogLevel("debug");
      else if (flag === "--version" || flag === "-v") {
        out(`minid version ${pkg.version}\n`);
        return 0;
      } else if (flag === "--help" || flag === "-h") {
        out(GLOBAL_HELP);
        return 0;
      } else if (a.startsWith("-")) throw new UserError(`unknown flag: ${a}\nSee 'minid --help'.`);
      else break;
    }
    let name = argv[i];
    if (!name) {
      out(GLOBAL_HELP);
      return 0;
    }
    let rest = argv.slice(i + 1);
    const two = `${name} ${rest[0] ?? ""}`;
    if (ALIASES[two]) {
      name = ALIASES[two]!;
      rest = rest.slice(1);
    } else if ((name === "container" || name === "image") && rest[0] && COMMANDS[rest[0]]) {
      name = rest[0];
      rest = rest.slice(1);
    }
    const loader = COMMANDS[name];
    // cobra's unknown-command error: exit 1, as the Docker CLI's.
    if (!loader) throw new UserError(`'${name}' is not a minid command.\nSee 'minid --help'.`, 1);
    const mod = await loader();
    const cmd = mod.default;
    userErrorExit = mod.userErrorExit;
    // As in Docker, -h means help unless the command gives it a meaning (run/create -h is --hostname).
    const helpWords = hasShortFlag(cmd, "h") ? ["--help"] : ["--help", "-h"];
    const isHelp = (a: string) => helpWords.includes(a);
    if (rest.some(isHelp)) {
      // Only a help flag before the image/command counts (run busybox ls --help is the container's).
      const parsed = parseArgv(rest.filter((a) => !isHelp(a)), (cmd.args ?? {}) as any, name, mod.stopAfter);
      const helpIdx = rest.findIndex(isHelp);
      const firstRest = parsed.rest.length ? rest.length - parsed.rest.length : rest.length;
      if (mod.stopAfter === undefined || helpIdx < firstRest) {
        const { renderHelp } = await import("./help.ts");
        out(renderHelp(name, cmd));
        return 0;
      }
    }
    const parsed = parseArgv(rest, (cmd.args ?? {}) as any, name, mod.stopAfter);
    const args = { ...parsed.flags, _: [...parsed.positionals, ...parsed.rest], positionals: parsed.positionals, rest: parsed.rest };
    // `completion` describes every command: it gets the table from here rather than import it
    // (the table loads `completion` itself, which would close an import circle).
    if (name === "completion") Object.assign(args, { commands: COMMANDS });
    // Flag errors above exit 125 on every command (Docker's FlagErrorFunc); past them, only run
    // and create turn their own failures into 125, every other command exits 1.
    if (name !== "run" && name !== "create") userErrorExit ??= 1;
    const result = await cmd.run?.({ args, rawArgs: rest, cmd } as any);
    return typeof result === "number" ? result : 0;
  } catch (e) {
    if (e instanceof StdoutClosed) return EXIT_SIGPIPE;
    if (e instanceof UserError) {
      log.error(e.message);
      return userErrorExit !== undefined && e.exitCode === EXIT_ENGINE && !(e instanceof FlagError) ? userErrorExit : e.exitCode;
    }
    if (e instanceof SyscallError) {
      log.error(escapeControl(`${e.message}${hint(e)}`));
      return userErrorExit ?? EXIT_ENGINE;
    }
    log.error(e instanceof Error ? (globals.logLevel === "debug" ? e.stack : escapeControl(e.message)) : escapeControl(String(e)));
    return userErrorExit ?? EXIT_ENGINE;
  }
}

function hasShortFlag(cmd: CommandDef<any>, ch: string): boolean {
  return Object.values((cmd.args ?? {}) as Record<string, { alias?: string | string[] }>).some((d) =>
    Array.isArray(d.alias) ? d.alias.includes(ch) : d.alias === ch,
  );
}

function hint(e: SyscallError): string {
  if (e.code === "EPERM") return " (minid must run as root with CAP_SYS_ADMIN)";
  if (e.code === "ENOSPC") return " (the disk holding the minid root is full)";
  return "";
}
