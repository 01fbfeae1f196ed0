// A container may change, create and delete anything, including image directories; the
// image's files never change. Proven for every driver this kernel can run (overlay, vfs).
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { readdirSync, lstatSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { TestRoot, ensureBuilt, isRoot } from "../helpers/minid.ts";

const it = isRoot() ? test : test.skip;

/** A digest of a whole tree: names, types, modes, owners, sizes, link targets, contents. */
function treeDigest(dir: string): string {
  const h = createHash("sha256");
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      h.update(`${rel}/${name} ${st.mode} ${st.uid}:${st.gid} ${st.size} ${st.rdev}\n`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isFile()) h.update(readFileSync(p));
      else if (st.isDirectory()) walk(p, `${rel}/${name}`);
    }
  };
  walk(dir, "");
  return h.digest("hex");
}

const CHANGES = [
  "rm /bin/ls",
  "rm -rf /home",
  "echo intruder:x:0:0::/:/bin/sh >> /etc/passwd",
  "chmod 600 /etc/group",
  "mkdir -p /new/dir && echo created > /new/dir/file",
  "ln -s /etc/passwd /new/link",
  "mv /etc/shadow /etc/shadow.moved",
].join(" && ");

for (const driver of ["overlay", "vfs"]) {
  describe(`${driver} driver`, () => {
    let r: TestRoot;
    beforeAll(() => {
      if (!isRoot()) return;
      ensureBuilt();
      r = new TestRoot(`storage-${driver}`);
    });
    afterAll(() => r?.cleanup());

    it("container changes stay in the container; the image never changes", () => {
      const d = ["--storage-driver", driver];
      expect(r.run([...d, "run", "--rm", "busybox", "true"]).code).toBe(0);
      const layers = join(r.dir, "image", "layers");
      const [layer] = readdirSync(layers);
      const before = treeDigest(join(layers, layer!, "diff"));

      const res = r.run([...d, "run", "--name", "changer", "busybox", "sh", "-c", `${CHANGES} && busybox ls /bin/ls 2>&1; busybox ls /home 2>&1; tail -1 /etc/passwd; cat /new/dir/file; readlink /new/link; cat /etc/shadow.moved | cut -c1-5`]);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain("No such file or directory");
      expect(res.stdout).toContain("intruder:x:0:0::/:/bin/sh");
      expect(res.stdout).toContain("created\n/etc/passwd\nroot:\n");

      // The image layer is untouched…
      expect(treeDigest(join(layers, layer!, "diff"))).toBe(before);
      // …and a new container sees the original tree.
      const fresh = r.run([...d, "run", "--rm", "busybox", "sh", "-c", "ls /bin/ls && ls -d /home && grep -c intruder /etc/passwd; stat -c %a /etc/group; ls /new 2>&1; ls /etc/shadow"]);
      expect(fresh.stdout).toContain("/bin/ls\n/home\n0\n644\n");
      expect(fresh.stdout).toContain("ls: /new: No such file or directory");
      expect(fresh.stdout).toContain("/etc/shadow\n");

      // The exited container still has its changes (kept for commit) until rm.
      const again = r.run([...d, "ps", "-a", "--format", "json"]).stdout;
      expect(again).toContain('"Names":"changer"');
      expect(r.run(["rm", "changer"]).code).toBe(0);
    });
  });
}
