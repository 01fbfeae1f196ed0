// The watcher's healthcheck loop (loaded only for a container that has one): every interval it
// runs the test through the exec path (`minid exec`, the same entry into the container as a
// user's exec, with its confinement), and keeps the result in health.json with Docker's rules:
// exit 0 is healthy; a failure counts only outside the start period (until the first
// success), `Retries` failures in a row make it unhealthy; the last five results are kept,
// each with at most 4 KiB of output; a check that outlives its timeout is killed and logged
// with exit code -1.
import { selfCommand } from "./self.ts";
import { writeJsonAtomic } from "../util/fs.ts";
import { nowRfc3339Nano } from "./logs.ts";
import {
  DEFAULT_INTERVAL_NS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_NS, MAX_LOG_ENTRIES, MAX_OUTPUT,
  healthCommand, healthFile, readHealth, type HealthConfig, type HealthResult, type HealthState,
} from "./health.ts";

function goDuration(ms: number): string {
  if (ms % 1000 === 0) {
    const s = ms / 1000;
    if (s % 60 === 0 && s >= 60) return s % 3600 === 0 ? `${s / 3600}h0m0s` : `${Math.floor(s / 60)}m${s % 60}s`;
    return `${s}s`;
  }
  return `${ms}ms`;
}

export class HealthRunner {
  private state: HealthState = { Status: "starting", FailingStreak: 0, Log: [] };
  private timer?: ReturnType<typeof setTimeout>;
  private current?: ReturnType<typeof Bun.spawn>;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly startPeriodMs: number;
  private readonly retries: number;
  private readonly startedAt = Date.now();

  constructor(
    private root: string,
    private id: string,
    private dir: string,
    private hc: HealthConfig,
    /** After each check (the watcher trims its memory once the spawn's garbage settles). */
    private afterProbe: () => void = () => {},
  ) {
    this.intervalMs = (hc.Interval || DEFAULT_INTERVAL_NS) / 1e6;
    this.timeoutMs = (hc.Timeout || DEFAULT_TIMEOUT_NS) / 1e6;
    this.startPeriodMs = (hc.StartPeriod || 0) / 1e6;
    this.retries = hc.Retries || DEFAULT_RETRIES;
  }

  start(): void {
    // As Docker's: each start begins "starting" with no failures, the old results kept.
    this.state.Log = readHealth(this.dir)?.Log ?? [];
    this.write();
    this.schedule();
  }

  /** The container exited: no more checks (one in flight is killed). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    try {
      this.current?.kill(9);
    } catch {}
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.probe().then(() => this.schedule()), this.intervalMs);
  }

  private async probe(): Promise<void> {
    const start = nowRfc3339Nano();
    const startMs = Date.now();
    const proc = (this.current = Bun.spawn([...selfCommand("--root"), this.root, "exec", this.id, ...healthCommand(this.hc)], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    }));
    let timedOut = false;
    const killer = setTimeout(() => {
      timedOut = true;
      try {
        proc.kill(15);
        setTimeout(() => {
          try {
            proc.kill(9);
          } catch {}
        }, 1000).unref();
      } catch {}
    }, this.timeoutMs);
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(killer);
    this.current = undefined;
    if (this.stopped) return;
    let output = (out + err).replace(/\r/g, "");
    if (output.length > MAX_OUTPUT) output = output.slice(0, MAX_OUTPUT);
    const result: HealthResult = timedOut
      ? { Start: start, End: nowRfc3339Nano(), ExitCode: -1, Output: `Health check exceeded timeout (${goDuration(this.timeoutMs)})` }
      : { Start: start, End: nowRfc3339Nano(), ExitCode: code ?? -1, Output: output };
    const s = this.state;
    if (result.ExitCode === 0) {
      s.Status = "healthy";
      s.FailingStreak = 0;
    } else if (!(s.Status === "starting" && startMs - this.startedAt < this.startPeriodMs)) {
      s.FailingStreak++;
      if (s.FailingStreak >= this.retries) s.Status = "unhealthy";
    }
    s.Log = [...s.Log, result].slice(-MAX_LOG_ENTRIES);
    this.write();
    this.afterProbe();
  }

  private write(): void {
    try {
      writeJsonAtomic(healthFile(this.dir), this.state);
    } catch {
      // a full disk: the next check tries again
    }
  }
}
