// `minid run -v`: bind mounts and volumes, checked from inside the container.
import { describe, expect } from "bun:test";
import { readFileSync, existsSync, writeFileSync, mkdirSync, statSync, rmSync } from "node:fs";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root");
const { r, run } = useRunRoot("volumes");

describe("volumes", () => {
  it("rw volumes write through to the host immediately and survive; never into the layer", () => {
    const host = join(r.dir, "vol-rw");
    expect(existsSync(host)).toBe(false);
    const res = r.run(["run", "--name", "volrw", "-v", `${host}:/data`, "busybox", "sh", "-c", "echo hi > /data/f; cat /data/f"]);
    expect(res.code).toBe(0);
    expect(readFileSync(join(host, "f"), "utf8")).toBe("hi\n");
    expect(statSync(host).isDirectory()).toBe(true);
    const id = r.run(["ps", "-aq", "--no-trunc", "-f", "name=volrw"]).stdout.trim();
    const upper = join(r.dir, "containers", id, "upper");
    expect(existsSync(join(upper, "data", "f"))).toBe(false);
    r.run(["rm", "volrw"]);
    expect(readFileSync(join(host, "f"), "utf8")).toBe("hi\n");
  });

  it("ro volumes refuse writes with EROFS", () => {
    const host = join(r.dir, "vol-ro");
    mkdirSync(host);
    writeFileSync(join(host, "keep"), "orig");
    const res = run("-v", `${host}:/ro:ro`, "sh", "-c", "cat /ro/keep; echo x > /ro/keep 2>&1; echo x > /ro/new 2>&1; grep ' /ro ' /proc/self/mountinfo");
    expect(res.stdout).toContain("orig");
    expect(res.stderr).toContain("Read-only file system");
    expect(res.stdout).toMatch(/ \/ro ro,/);
    expect(readFileSync(join(host, "keep"), "utf8")).toBe("orig");
    expect(existsSync(join(host, "new"))).toBe(false);
  });

  it("a file can be bound onto a file, at a path created inside the rootfs", () => {
    const f = join(r.dir, "vol-file.txt");
    writeFileSync(f, "file-content\n");
    expect(run("-v", `${f}:/etc/passwd:ro`, "cat", "/etc/passwd").stdout).toBe("file-content\n");
    expect(run("-v", `${f}:/deep/new/place.txt`, "cat", "/deep/new/place.txt").stdout).toBe("file-content\n");
  });

  it("a symlink in the image never leads a volume target out of the rootfs", () => {
    const outside = join(r.dir, "escape-target");
    // Build an image whose /evil is an absolute symlink to a host path.
    const tarDir = join(r.dir, "evil-tree");
    mkdirSync(tarDir);
    const base = Bun.spawnSync(["tar", "-xzf", join(import.meta.dir, "..", "..", "images", "build", "busybox.tar.gz"), "-C", tarDir]);
    expect(base.exitCode).toBe(0);
    Bun.spawnSync(["ln", "-s", outside, join(tarDir, "evil")]);
    Bun.spawnSync(["ln", "-s", "../../../../../../..", join(tarDir, "climb")]);
    const tarFile = join(r.dir, "evil.tar");
    expect(Bun.spawnSync(["tar", "--numeric-owner", "-cf", tarFile, "-C", tarDir, "."]).exitCode).toBe(0);
    expect(r.run(["import", "-c", 'CMD ["sh"]', tarFile, "evil:1"]).code).toBe(0);
    const src = join(r.dir, "vol-src");
    mkdirSync(src);
    writeFileSync(join(src, "marker"), "m");
    const res = r.run(["run", "--rm", "-v", `${src}:/evil/sub`, "-v", `${src}:/climb${r.dir}/climbed`, "evil:1", "sh", "-c", "cat /evil/sub/marker; ls -d " + outside + "/sub"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("m");
    // The target was created inside the rootfs (where the symlink points when resolved there)…
    expect(res.stdout).toContain(`${outside}/sub`);
    // …and never on the host.
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(join(r.dir, "climbed"))).toBe(false);
    rmSync(tarDir, { recursive: true, force: true });
    r.run(["rmi", "evil:1"]);
  });

  // ("relative:/x" names a volume and "/onlyone" is an anonymous volume: named-volumes.test.ts)
  for (const spec of [":x", "/a:relative", "/a:/b:ro:x", "/a:/b:bad", "/a:/"]) {
    it(`bad spec ${JSON.stringify(spec)} fails with 125 and creates nothing`, () => {
      const before = r.run(["ps", "-aq"]).stdout;
      const res = r.run(["run", "--rm", "-v", spec, "busybox", "true"]);
      expect(res.code).toBe(125);
      expect(res.stderr).toMatch(/^minid: invalid (volume specification|mode|spec)/);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.run(["ps", "-aq"]).stdout).toBe(before);
      expect(existsSync("/a")).toBe(false);
    });
  }
});
