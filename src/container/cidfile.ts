// --cidfile: the container's id in a file, as Docker's CLI writes it. The file is claimed
// (created, exclusively) before the container exists, so two runs cannot share it; it receives
// the id once the container is created, and is removed again when the run fails.
import { closeSync, openSync, rmSync, writeSync, constants } from "node:fs";
import { UserError } from "../util/errors.ts";
import { O_CLOEXEC } from "../linux/libc.ts";

export interface Cidfile {
  write(id: string): void;
  abandon(): void;
}

export function claimCidfile(path: string | undefined): Cidfile {
  if (!path) return { write() {}, abandon() {} };
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_CLOEXEC, 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new UserError(`Container ID file found, make sure the other container isn't running or delete ${path}`);
    }
    throw new UserError(`failed to create the container ID file: ${(e as Error).message}`);
  }
  let written = false;
  return {
    write(id) {
      writeSync(fd, id);
      closeSync(fd);
      written = true;
    },
    abandon() {
      if (!written) closeSync(fd);
      rmSync(path, { force: true });
    },
  };
}
