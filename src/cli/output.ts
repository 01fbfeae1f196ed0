// A command's data on stdout (human messages go to stderr through util/log.ts). Synchronous,
// looping over short writes (a pipe may take the text in pieces), so all of it is out before
// the command returns and the process exits.
import { writeSync } from "node:fs";
import { stdoutWriteError } from "../util/errors.ts";

export function out(text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(1, buf, off);
  } catch (e) {
    throw stdoutWriteError(1, e);
  }
}
