// kill -9 during commit: the store stays consistent, as root with the real binary.
import { describe, expect } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { TestRoot } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { checkConsistent, sh, useImageRoot } from "../helpers/images.ts";

const it = requires("root");
// Its tests make their own store; this builds the binary and cleans up after the file.
useImageRoot("image-crashes");

describe("concurrency and crashes (commit)", () => {
  it("kill -9 during commit leaves the store consistent; the next commit cleans up", async () => {
    const other = new TestRoot("images-killc");
    try {
      other.run(["run", "--name", "big", "busybox", "sh", "-c", "dd if=/dev/urandom of=/big bs=1M count=96 2>/dev/null"]);
      const before = sh(`cd '${other.dir}/image' && find . -path ./tmp -prune -o -print | sort`);
      for (const delay of [50, 150, 300]) {
        const p = Bun.spawn([join(process.cwd(), "dist/minid"), "--root", other.dir, "commit", "big", "big:1"], { stdout: "pipe", stderr: "pipe" });
        await Bun.sleep(delay);
        p.kill(9);
        await p.exited;
        checkConsistent(other.dir);
        if (other.run(["image", "inspect", "big:1"]).code === 0) other.run(["rmi", "big:1"]);
      }
      expect(other.run(["commit", "big", "big:2"]).code).toBe(0);
      expect(readdirSync(join(other.dir, "image", "tmp")).filter((n) => !n.startsWith("pin-"))).toEqual([]);
      expect(other.run(["run", "--rm", "big:2", "sh", "-c", "wc -c < /big"]).stdout.trim()).toBe(String(96 << 20));
      other.run(["rmi", "big:2"]);
      expect(sh(`cd '${other.dir}/image' && find . -path ./tmp -prune -o -print | sort`)).toBe(before);
      other.run(["rm", "big"]);
    } finally {
      other.cleanup();
    }
  });
});

describe("a damaged tag list", () => {
  it("is one line saying what to do (exit 1 / 125), never a parser's message alone; removing it recovers", () => {
    const t = new TestRoot("badtags");
    try {
      expect(t.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
      const file = join(t.dir, "image", "repositories.json");
      sh(`head -c 20 '${file}' > '${file}.x' && mv '${file}.x' '${file}'`);
      const ls = t.run(["images"]);
      expect(ls.code).toBe(1);
      expect(ls.stderr.trim().split("\n")).toHaveLength(1);
      expect(ls.stderr).toContain(`the tag list ${file} is corrupt`);
      expect(ls.stderr).toContain("remove it to start with no tags");
      const run = t.run(["run", "--rm", "busybox", "true"]);
      expect(run.code).toBe(125);
      sh(`echo '["not", "a", "map"]' > '${file}'`);
      expect(t.run(["images"]).stderr).toContain("is not a map of tags to image ids");
      sh(`rm '${file}'`);
      expect(t.run(["images", "-aq"]).stdout.trim()).not.toBe("");
      expect(t.run(["run", "--rm", "busybox", "echo", "ok"]).stdout).toBe("ok\n");
    } finally {
      t.cleanup();
    }
  });
});
