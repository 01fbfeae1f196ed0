// The container's /sys/fs/cgroup is read-only: neither the container's own process nor an
// exec'd one can raise its limits, move itself, or make a sub-cgroup. Checked for every v1
// hierarchy the host has, and for a v2 view in a private mount
// namespace with cgroup2 mounted over /sys/fs/cgroup.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, cgroupDirsOf, minidCommand } from "../helpers/minid.ts";
import { have, requires } from "../helpers/requires.ts";

const it = requires("root");
let r: TestRoot;

beforeAll(() => {
  if (!have("root")) return;
  ensureBuilt();
  r = new TestRoot("cgro");
});
afterAll(() => r?.cleanup());

// One line per cgroup directory visible in the container: "dir procs=… mkdir=… [pids=…]".
const WRITES = String.raw`
for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
  [ -d "$d" ] && [ ! -L "$d" ] && [ -e "$d/cgroup.procs" ] || continue
  procs=$( (echo $$ > "$d/cgroup.procs") 2>/dev/null && echo written || echo refused)
  mk=$(mkdir "$d/escape" 2>/dev/null && echo made || echo refused)
  pm=""; [ -e "$d/pids.max" ] && pm=" pids=$( (echo max > "$d/pids.max") 2>/dev/null && echo written || echo refused) now=$(cat "$d/pids.max")"
  echo "$d procs=$procs mkdir=$mk$pm"
done
`;

function lines(out: string): string[] {
  return out.trim().split("\n").filter(Boolean);
}

describe("read-only cgroup filesystem (v1 view)", () => {
  let id = "";
  beforeAll(() => {
    if (!have("root")) return;
    const res = r.run(["run", "-d", "--name", "ro", "--pids-limit", "50", "busybox", "sleep", "600"]);
    id = res.stdout.trim();
  });

  function expectAllRefused(out: string) {
    const got = lines(out);
    // Every hierarchy the host mounts shows up (pids among them), and each refuses all writes.
    expect(got.some((l) => l.startsWith("/sys/fs/cgroup/pids "))).toBe(true);
    expect(got.length).toBeGreaterThanOrEqual(cgroupDirsOf(id).length);
    for (const l of got) {
      const [dir] = l.split(" ");
      const want = `${dir} procs=refused mkdir=refused${l.includes(" pids=") ? " pids=refused now=50" : ""}`;
      expect(l).toBe(want);
    }
  }

  it("the container's process cannot write its cgroups", () => {
    expectAllRefused(r.run(["run", "--rm", "--pids-limit", "50", "busybox", "sh", "-c", WRITES]).stdout);
  });

  it("the tmpfs holding the hierarchies is read-only too", () => {
    const res = r.run(["exec", "ro", "sh", "-c", "mkdir /sys/fs/cgroup/planted 2>/dev/null && echo made || echo refused; ln -s pids /sys/fs/cgroup/alias 2>/dev/null && echo linked || echo refused"]);
    expect(res.stdout).toBe("refused\nrefused\n");
  });

  it("an exec'd process cannot either; the host's pids.max is unchanged", () => {
    const res = r.run(["exec", "ro", "sh", "-c", WRITES]);
    expect(res.code).toBe(0);
    expectAllRefused(res.stdout);
    const pids = cgroupDirsOf(id).find((d) => d.includes("/pids/"))!;
    expect(readFileSync(join(pids, "pids.max"), "utf8").trim()).toBe("50");
  });

  it("the mounts say ro", () => {
    const res = r.run(["exec", "ro", "sh", "-c", "awk '$5 ~ \"^/sys/fs/cgroup(/|$)\" {print $5, $6}' /proc/self/mountinfo"]);
    const got = lines(res.stdout);
    expect(got.length).toBeGreaterThan(0);
    for (const l of got) expect(l).toMatch(/ ro(,|$)/);
  });
});

describe("read-only cgroup filesystem (v2 view)", () => {
  it("cgroup.procs, cgroup.subtree_control and mkdir are refused", () => {
    const cmd = [...minidCommand(), "--root", r.dir, "run", "--rm", "busybox", "sh", "-c",
      `${WRITES}\necho "subtree=$( (echo +hugetlb > /sys/fs/cgroup/cgroup.subtree_control) 2>/dev/null && echo written || echo refused)"; grep ' /sys/fs/cgroup ' /proc/self/mountinfo | cut -d' ' -f6,9`]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const res = Bun.spawnSync(["unshare", "-m", "sh", "-c", `mount --make-rprivate / && umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && ${cmd}`]);
    const got = lines(res.stdout.toString());
    expect(res.exitCode).toBe(0);
    expect(got).toEqual(["/sys/fs/cgroup procs=refused mkdir=refused", "subtree=refused", expect.stringMatching(/^ro,\S* cgroup2$/) as unknown as string]);
  });
});
