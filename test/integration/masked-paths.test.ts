// Every entry of the masked-path table, checked from inside: a masked file is the container's
// /dev/null (reads empty), a masked directory an empty read-only tmpfs. An entry this kernel
// does not have is reported as a skipped test naming it, never passed silently; --privileged
// masks nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { TestRoot, ensureBuilt } from "../helpers/minid.ts";
import { have, requires } from "../helpers/requires.ts";
import { MASKED_PATHS } from "../../src/container/options.ts";

const it = requires("root");
let r: TestRoot;

beforeAll(() => {
  if (!have("root")) return;
  ensureBuilt();
  r = new TestRoot("masked");
});
afterAll(() => r?.cleanup());

// Per path: "path kind=file|dir|absent bytes=N dev=maj:min mount=fstype,opts write=…".
const PROBE = String.raw`
for p in "$@"; do
  if [ -d "$p" ]; then k=dir; n=$(ls -A "$p" | wc -l); w=$(touch "$p/x" 2>/dev/null && echo written || echo refused)
  elif [ -e "$p" ]; then k=file; n=$(cat "$p" 2>/dev/null | wc -c); w=-
  else echo "$p kind=absent"; continue; fi
  m=$(awk -v p="$p" '$5 == p { o = $6; sub(/.* - /, ""); split($0, f, " "); fs = f[1] } END { print fs "," o }' /proc/self/mountinfo)
  echo "$p kind=$k bytes=$n dev=$(stat -c '%t:%T' "$p") mount=$m write=$w"
done
`;

let seen: Record<string, Record<string, string>> | undefined;
let seenPrivileged: Record<string, Record<string, string>> | undefined;
function facts(privileged: boolean): Record<string, Record<string, string>> {
  const cached = privileged ? seenPrivileged : seen;
  if (cached) return cached;
  const res = r.run(["run", "--rm", ...(privileged ? ["--privileged"] : []), "busybox", "sh", "-c", PROBE, "probe", ...MASKED_PATHS]);
  expect(res.code).toBe(0);
  const out: Record<string, Record<string, string>> = {};
  for (const line of res.stdout.trim().split("\n")) {
    const [path, ...kv] = line.split(" ");
    out[path!] = Object.fromEntries(kv.map((x) => x.split("=") as [string, string]));
  }
  if (privileged) seenPrivileged = out;
  else seen = out;
  return out;
}

describe("masked paths", () => {
  for (const p of MASKED_PATHS) {
    // /proc and /sys in the container are this kernel's: what the host lacks, the container lacks.
    if (!existsSync(p)) {
      test.skip(`${p}: not present on this host's kernel, cannot be checked here`, () => {});
      continue;
    }
    it(`${p} is masked`, () => {
      const f = facts(false)[p];
      expect(f).toBeDefined();
      if (f!.kind === "dir") {
        expect(`${p} ${f!.bytes} ${f!.write}`).toBe(`${p} 0 refused`);
        expect(f!.mount).toMatch(/^tmpfs,ro(,|$)/);
      } else {
        expect(f!.kind).toBe("file");
        expect(`${p} ${f!.bytes} ${f!.dev}`).toBe(`${p} 0 1:3`);
      }
    });
  }

  it("the host's own entries are not empty, so the masks above have something to hide", () => {
    // A sanity check of the probe itself: unmasked (--privileged) the same files read non-empty
    // or list entries where the kernel has any, and none is a mount.
    const f = facts(true);
    let nonEmpty = 0;
    for (const p of MASKED_PATHS) {
      if (!existsSync(p)) continue;
      expect(`${p} mount=${f[p]!.mount}`).toBe(`${p} mount=,`);
      expect(f[p]!.dev).not.toBe("1:3");
      if (Number(f[p]!.bytes) > 0) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(0);
  });
});
