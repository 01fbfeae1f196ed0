// export → import, as root with the real binary.
import { describe, expect } from "bun:test";
import { join } from "node:path";
import { TestRoot } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { CHANGES, runtimeOnly, sh, treeOf, useImageRoot } from "../helpers/images.ts";

const it = requires("root");
const { r, work, ok, extract } = useImageRoot("export");

describe("export", () => {
  it("export → import round trip keeps the tree", () => {
    ok(["run", "--name", "exp", "busybox", "sh", "-c", CHANGES]);
    const file = join(work, "exp.tar");
    ok(["export", "exp", "-o", file]);
    const names = sh(`tar tf ${file}`).split("\n");
    expect(names.some((n) => n.includes(".wh."))).toBe(false);
    const id = ok(["import", file, "imported:1"]).stdout.trim();
    expect(id).toMatch(/^sha256:/);
    ok(["run", "--name", "imp", "imported:1", "true"]);
    const again = join(work, "imp.tar");
    // stdout when it is not a terminal
    const piped = Bun.spawnSync(["sh", "-c", `'${process.cwd()}/dist/minid' --root '${r.dir}' export imp > '${again}'`]);
    expect(piped.exitCode).toBe(0);
    const a = treeOf(extract(file, "exp"), runtimeOnly);
    const b = treeOf(extract(again, "imp"), runtimeOnly);
    expect([...b]).toEqual([...a]);
    expect(a.get("usr/suidbox")).toMatch(/ 4755 /);
    ok(["rm", "exp", "imp"]);
    expect(r.leakedMounts()).toEqual([]);
  });

  it("unknown container", () => {
    const res = r.run(["export", "-o", join(work, "none.tar"), "nosuch"]);
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe("minid: No such container: nosuch");
  });
});
