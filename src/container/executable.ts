// Finding the command a container (or an exec) runs, with Docker's answers when it cannot:
// 127 when it does not exist, 126 when it exists but cannot be executed. Used by init (for the
// container's command) and by exec; both call it with the container's root as their root.
import { statSync, type Stats } from "node:fs";
import { UserError, EXIT_CANNOT_EXEC, EXIT_NOT_FOUND } from "../util/errors.ts";

export class ExecError extends UserError {
  constructor(message: string, exitCode: number) {
    super(message, exitCode);
    this.name = "ExecError";
  }
}

/**
 * Resolve `cmd` as execve(2) would be asked to: a path, or the first match on $PATH. `stat`
 * looks a path up (from outside the container, oci-exec.ts passes one inside its root).
 */
export function findExecutable(cmd: string, env: string[], stat: (p: string) => Stats = statSync): string {
  if (cmd.includes("/")) {
    checkRunnable(cmd, cmd, stat);
    return cmd;
  }
  const pathVar = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? "";
  for (const dir of pathVar.split(":")) {
    const candidate = `${dir || "."}/${cmd}`;
    try {
      const st = stat(candidate);
      if (st.isFile() && st.mode & 0o111) return candidate;
    } catch {
      // keep looking
    }
  }
  throw new ExecError(`exec: "${cmd}": executable file not found in $PATH`, EXIT_NOT_FOUND);
}

function checkRunnable(path: string, cmd: string, stat: (p: string) => Stats): void {
  let st;
  try {
    st = stat(path);
  } catch {
    throw new ExecError(`exec: "${cmd}": stat ${path}: no such file or directory`, EXIT_NOT_FOUND);
  }
  if (st.isDirectory()) throw new ExecError(`exec: "${cmd}": is a directory`, EXIT_CANNOT_EXEC);
}

/** The error for a failed execve (a SyscallError, or a spawn error carrying an errno code). */
export function execFailure(cmd: string, e: unknown): ExecError {
  const code = (e as { code?: string } | undefined)?.code;
  if (code === "ENOENT") {
    return new ExecError(`exec: "${cmd}": no such file or directory (missing interpreter?)`, EXIT_NOT_FOUND);
  }
  if (code) {
    const why = code === "EACCES" ? "permission denied" : code === "ENOEXEC" ? "exec format error" : code;
    return new ExecError(`exec: "${cmd}": ${why}`, EXIT_CANNOT_EXEC);
  }
  return new ExecError(String(e instanceof Error ? e.message : e), EXIT_CANNOT_EXEC);
}
