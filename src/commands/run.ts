import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError, signalNumber } from "../util/errors.ts";
import { RESOURCE_FLAGS, SECURITY_FLAGS, PORT_FLAGS, resourceOptions, securityOptions, portOptions } from "../cli/container-flags.ts";
import { NETWORK_FLAGS, networkOptions } from "../cli/network-flags.ts";
import { SERVICE_FLAGS, serviceOptions } from "../cli/service-flags.ts";

/** Flags stop at the image: everything after it is the container's command, verbatim. */
export const stopAfter = 1;

export default defineCommand({
  meta: { name: "run", description: "Create and run a new container from an image (minid run [OPTIONS] IMAGE [COMMAND] [ARG...])" },
  args: {
    image: { type: "positional", description: "Image to run", required: true },
    detach: { type: "boolean", alias: "d", description: "Run container in background and print container ID" },
    name: { type: "string", description: "Assign a name to the container" },
    env: { type: "string", alias: "e", description: "Set environment variables (repeatable)", multiple: true } as any,
    "env-file": { type: "string", description: "Read in a file of environment variables (repeatable)", multiple: true } as any,
    volume: { type: "string", alias: "v", description: "Bind mount a volume [HOST-DIR|NAME:]CONTAINER-DIR[:OPTIONS] (repeatable)", multiple: true } as any,
    tmpfs: { type: "string", description: "Mount a tmpfs directory (repeatable)", multiple: true } as any,
    workdir: { type: "string", alias: "w", description: "Working directory inside the container" },
    hostname: { type: "string", alias: "h", description: "Container host name" },
    entrypoint: { type: "string", description: "Overwrite the default ENTRYPOINT of the image" },
    user: { type: "string", alias: "u", description: "Username or UID (format: <name|uid>[:<group|gid>])" },
    rm: { type: "boolean", description: "Automatically remove the container when it exits" },
    interactive: { type: "boolean", alias: "i", description: "Keep STDIN open" },
    tty: { type: "boolean", alias: "t", description: "Allocate a pseudo-TTY" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)" },
    "sig-proxy": { type: "boolean", description: "Proxy received signals to the process (default true)" },
    "stop-signal": { type: "string", description: "Signal to stop the container (default SIGTERM or the image's StopSignal)" },
    "stop-timeout": { type: "string", description: "Timeout (in seconds) to stop a container (default 10)" },
    "read-only": { type: "boolean", description: "Mount the container's root filesystem as read only" },
    mount: { type: "string", description: "Attach a filesystem mount to the container (type=bind|volume|tmpfs,...; repeatable)", multiple: true } as any,
    "volumes-from": { type: "string", description: "Mount volumes from the specified container(s) (CONTAINER[:ro|rw]; repeatable)", multiple: true } as any,
    runtime: { type: "string", description: "OCI runtime to build the container with (runc, crun or a path; default minid's own)" },
    ...RESOURCE_FLAGS,
    ...SECURITY_FLAGS,
    ...NETWORK_FLAGS,
    ...PORT_FLAGS,
    ...SERVICE_FLAGS,
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const image = a.positionals[0];
    // cobra's argument-count errors exit 1, even on run.
    if (!image) throw new UserError(`"minid run" requires at least 1 argument.\nSee 'minid run --help'.`, 1);
    const stopSignal = str(a["stop-signal"]);
    if (stopSignal !== undefined && signalNumber(stopSignal) === undefined) throw new UserError(`invalid signal: ${stopSignal}`);
    const stopTimeout = str(a["stop-timeout"]);
    if (stopTimeout !== undefined && !/^-?\d+$/.test(stopTimeout)) {
      throw new UserError(`invalid argument "${stopTimeout}" for "--stop-timeout" flag: strconv.ParseInt: parsing "${stopTimeout}": invalid syntax`);
    }
    const { runContainer } = await import("../container/start.ts");
    // `create` is this command without the start (commands/create.ts).
    const createOnly = Boolean((args as { createOnly?: boolean }).createOnly);
    const detach = Boolean(a.detach) || createOnly;
    const service = serviceOptions(a);
    const { claimCidfile } = await import("../container/cidfile.ts");
    const cidfile = claimCidfile(service.cidfile);
    const { id, exitCode } = await runContainer(
      getEngine(),
      {
        image,
        cmd: a.rest,
        name: str(a.name),
        env: list(a.env),
        envFiles: list(a["env-file"]),
        workdir: str(a.workdir),
        hostname: str(a.hostname),
        entrypoint: str(a.entrypoint),
        user: str(a.user),
        volumes: list(a.volume),
        tmpfs: list(a.tmpfs),
        mounts: list(a.mount),
        volumesFrom: list(a["volumes-from"]),
        readOnly: Boolean(a["read-only"]),
        rm: Boolean(a.rm),
        interactive: Boolean(a.interactive),
        tty: Boolean(a.tty),
        resources: resourceOptions(a),
        security: securityOptions(a),
        network: { ...networkOptions(a), aliases: list(a["network-alias"]) },
        ports: portOptions(a),
        service,
        runtime: str(a.runtime),
        extra:
          stopSignal !== undefined || stopTimeout !== undefined
            ? { stopSignal, stopTimeout: stopTimeout === undefined ? undefined : Number(stopTimeout) }
            : undefined,
      },
      { detach, createOnly, detachKeys: str(a["detach-keys"]) || undefined, sigProxy: a["sig-proxy"] === false ? false : undefined, created: cidfile.write },
    ).catch((e) => {
      cidfile.abandon();
      throw e;
    });
    if (detach) out(`${id}\n`);
    return exitCode;
  },
});
