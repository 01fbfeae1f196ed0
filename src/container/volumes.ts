// `-v HOST:CTR[:ro|rw]` parsing. Every check happens before anything is created, so a bad
// spec leaves no trace.
import { isAbsolute, normalize } from "node:path";
import { UserError } from "../util/errors.ts";
import type { MountSpec } from "../spec/init-spec.ts";
import { MS, parseTmpfsOptions } from "../linux/tmpfs-options.ts";

const MODES = new Set(["ro", "rw"]);

export function parseVolume(spec: string): MountSpec {
  const bad = (why: string): never => {
    throw new UserError(`invalid volume specification "${spec}": ${why}`);
  };
  const parts = spec.split(":");
  if (parts.length < 2) bad("expected HOST:CONTAINER[:ro|rw] (anonymous volumes are not supported)");
  if (parts.length > 3) bad("too many colons; expected HOST:CONTAINER[:ro|rw]");
  const [host, ctr, mode] = parts as [string, string, string | undefined];
  if (!host) bad("host path is empty");
  if (!ctr) bad("container path is empty");
  if (!isAbsolute(host)) bad(`host path "${host}" must be absolute (named volumes are not supported)`);
  if (!isAbsolute(ctr)) bad(`container path "${ctr}" must be absolute`);
  if (mode !== undefined && !MODES.has(mode)) bad(`mode "${mode}" must be ro or rw`);
  const destination = normalize(ctr).replace(/\/+$/, "") || "/";
  if (destination === "/") bad("cannot mount over the container's root directory");
  return { type: "bind", source: normalize(host), destination, readOnly: mode === "ro" };
}

export function parseTmpfs(spec: string): MountSpec {
  const [dest, opts] = spec.split(/:(.*)/s) as [string, string | undefined];
  if (!dest || !isAbsolute(dest)) throw new UserError(`invalid tmpfs specification "${spec}": path must be absolute`);
  // Checked here so a bad option fails before anything is created; init splits it again.
  const { flags } = parseTmpfsOptions(opts, "tmpfs");
  return { type: "tmpfs", source: "tmpfs", destination: normalize(dest), readOnly: (flags & MS.RDONLY) !== 0, options: opts ?? "" };
}
