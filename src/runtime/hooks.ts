// Lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks"): each runs with the
// container's State on stdin, its own args and env, and an optional timeout. Callers decide
// what a failure means: prestart, createRuntime, createContainer and startContainer failures
// fail the operation; poststart and poststop failures are logged and the rest still run.
import type { Hook } from "./config.ts";

export function runHook(h: Hook, state: object): string | undefined {
  const args = h.args?.length ? h.args : [h.path];
  let r;
  try {
    r = Bun.spawnSync({
      cmd: [h.path, ...args.slice(1)],
      argv0: args[0],
      env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf("=") < 0 ? e.length : e.indexOf("=")), e.includes("=") ? e.slice(e.indexOf("=") + 1) : ""])),
      stdin: Buffer.from(JSON.stringify(state)),
      stdout: "pipe",
      stderr: "pipe",
      timeout: h.timeout ? h.timeout * 1000 : undefined,
    } as any);
  } catch (e) {
    return `error running hook ${h.path}: ${(e as Error).message}`;
  }
  if (r.exitCode === 0) return undefined;
  const out = `${r.stderr?.toString() ?? ""}${r.stdout?.toString() ?? ""}`.trim();
  if (r.exitCode === null) return `hook ${h.path} ${h.timeout ? `timed out after ${h.timeout}s` : `was killed (${r.signalCode})`}${out ? `: ${out}` : ""}`;
  return `error running hook ${h.path}: exit status ${r.exitCode}${out ? `, stdout/stderr: ${out}` : ""}`;
}

/** Run hooks in order; the first failure stops the list and is returned. */
export function runHooks(hooks: Hook[] | undefined, state: object): string | undefined {
  for (const h of hooks ?? []) {
    const err = runHook(h, state);
    if (err) return err;
  }
  return undefined;
}

/** Run every hook; failures are reported to `warn` and do not stop the others. */
export function runHooksWarn(hooks: Hook[] | undefined, state: object, warn: (m: string) => void): void {
  for (const h of hooks ?? []) {
    const err = runHook(h, state);
    if (err) warn(err);
  }
}
