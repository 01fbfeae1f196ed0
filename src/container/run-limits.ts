// What init sets on its own process right before the command (after the root is built, before
// the confinement drops the capabilities it takes): --ulimit and --oom-score-adj. Both are
// inherited through execve, and by the --init reaper's child.
import { writeFileSync } from "node:fs";
import type { Ulimit } from "../spec/init-spec.ts";
import { RLIMITS } from "./run-options.ts";
import { getRlimit, setRlimit, SyscallError } from "../linux/libc.ts";
import { UserError } from "../util/errors.ts";

const fmt = (n: number) => (n < 0 ? "unlimited" : String(n));

export function applyUlimits(ulimits: Ulimit[]): void {
  for (const u of ulimits) {
    const res = RLIMITS[u.name]!;
    try {
      const v = (n: number) => (n < 0 ? 0xffffffffffffffffn : BigInt(n));
      setRlimit(res, v(u.soft), v(u.hard));
    } catch (e) {
      if (!(e instanceof SyscallError) || e.code !== "EPERM") throw e;
      const [, hard] = getRlimit(res);
      throw new UserError(
        `cannot set ulimit ${u.name}=${fmt(u.soft)}:${fmt(u.hard)}: raising the hard limit above ${fmt(hard)} needs CAP_SYS_RESOURCE, which this minid does not have; ask for at most ${fmt(hard)}`,
      );
    }
  }
}

export function applyOomScoreAdj(n: number): void {
  try {
    writeFileSync("/proc/self/oom_score_adj", String(n));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") {
      throw new UserError(`cannot set --oom-score-adj ${n}: lowering the OOM score needs CAP_SYS_RESOURCE, which this minid does not have`);
    }
    throw e;
  }
}
