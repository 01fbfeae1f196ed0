// One gate for tests that need root or an outside tool (an "oracle"). A need that is missing
// skips the test, so a developer without podman sees "skip", never a silent pass; under CI
// (CI=true, where .ci/run installs every tool) a missing need fails the test instead, so a
// broken install step cannot hide behind skips.
import { test } from "bun:test";

type TestFn = (name: string, fn: () => unknown, timeout?: number) => void;

const cache = new Map<string, boolean>();

/** Whether one need is met: "root", or the name of a command on PATH. */
export function have(need: string): boolean {
  let v = cache.get(need);
  if (v === undefined) {
    v = need === "root" ? process.getuid?.() === 0 : Bun.spawnSync(["sh", "-c", `command -v '${need}'`]).exitCode === 0;
    cache.set(need, v);
  }
  return v;
}

/** The needs of the list that are missing on this machine. */
export function missing(...needs: string[]): string[] {
  return needs.filter((n) => !have(n));
}

/**
 * `test` when every need is met; otherwise `test.skip`, or under CI a test that fails saying
 * what is missing. Usage: `requires("root", "skopeo")("name", () => { … }, timeout)`.
 */
export function requires(...needs: string[]): TestFn {
  const lack = missing(...needs);
  if (!lack.length) return test as unknown as TestFn;
  if (process.env.CI === "true") {
    return (name, _fn, timeout) =>
      test(name, () => {
        throw new Error(`missing ${lack.join(", ")}: CI installs it (.ci/run), so its absence is a broken install step`);
      }, timeout);
  }
  return test.skip as unknown as TestFn;
}
