// A container must never get host files into what minid reads out of it (issue 15, point 2).
// The attack is real: a running container loops swapping a file for a symlink to a host file,
// and a directory for a symlink to a host directory, while export, commit and commit -o read
// its tree. The host file holds a secret; no tar, blob or layer minid writes may contain it.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, isRoot } from "../helpers/minid.ts";

const it = isRoot() ? test : test.skip;
const ROUNDS = Number(process.env.MINID_RACE_ROUNDS ?? 12);

/** Every regular file under dir whose bytes contain needle. */
function filesContaining(dir: string, needle: Buffer): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

/** Entry names and types of a tar, as busybox-free `tar -tvf` prints them. */
function tarListing(file: string): string {
  const r = Bun.spawnSync(["tar", "-tvf", file]);
  if (r.exitCode !== 0) throw new Error(`tar -tvf ${file}: ${r.stderr}`);
  return r.stdout.toString();
}

for (const driver of ["vfs", "overlay"]) {
  describe(`reading a ${driver} container never follows its symlinks onto the host`, () => {
    let r: TestRoot;
    let victim: string;
    let out: string;
    let secret: Buffer;
    beforeAll(() => {
      if (!isRoot()) return;
      ensureBuilt();
      r = new TestRoot(`race-${driver}`);
      victim = mkdtempSync("/tmp/minid-victim-");
      out = mkdtempSync("/tmp/minid-race-out-");
      // Same length as the container's decoys, so a read sized by the decoy's stat gets it all.
      secret = Buffer.from(`HOST-SECRET-${Math.random().toString(36).slice(2, 14).padEnd(12, "x")}`);
      writeFileSync(join(victim, "secret.txt"), secret);
      mkdirSync(join(victim, "sub"));
      writeFileSync(join(victim, "sub", "secret.txt"), secret);
    });
    afterAll(() => {
      r?.cleanup();
      if (victim) rmSync(victim, { recursive: true, force: true });
      if (out) rmSync(out, { recursive: true, force: true });
    });

    it("a static symlinked directory pointing out of the root is archived as the symlink only", () => {
      const d = ["--storage-driver", driver];
      const name = `static-${driver}`;
      const res = r.run([...d, "run", "--name", name, "busybox", "sh", "-c", `ln -s ${victim} /data && ln -s ${victim}/secret.txt /etc/secret`]);
      expect(res.stderr).toBe("");
      expect(res.code).toBe(0);
      const tar = join(out, "static.tar");
      expect(r.run(["export", "-o", tar, name]).code).toBe(0);
      const listing = tarListing(tar);
      expect(listing).toMatch(new RegExp(`^l.* data -> ${victim}$`, "m"));
      expect(listing).toMatch(new RegExp(`^l.* etc/secret -> ${victim}/secret.txt$`, "m"));
      expect(listing).not.toContain("data/");
      const img = r.run(["commit", "-o", join(out, "static-commit.tar"), name, `static-${driver}:1`]);
      expect(img.stderr).toBe("");
      expect(img.code).toBe(0);
      expect(filesContaining(out, secret)).toEqual([]);
      expect(filesContaining(join(r.dir, "image"), secret)).toEqual([]);
      expect(r.run(["rm", name]).code).toBe(0);
      expect(r.run(["rmi", `static-${driver}:1`]).code).toBe(0);
    });

    it("a container racing file/symlink and dir/symlink swaps never gets the host secret into a tar", async () => {
      const d = ["--storage-driver", driver];
      const name = `racer-${driver}`;
      const decoy = "d".repeat(secret.length);
      // /dd is, in turn, a directory (a 16 MB decoy "a.big", then a decoy "secret.txt") and a
      // symlink to the host directory holding the real secret.txt; /etc/secret is a decoy file
      // or a symlink to the host secret. A reader that lists /dd while it is a directory, is
      // busy with a.big while /dd turns into the symlink, and then opens "dd/secret.txt" by
      // path gets the host's file.
      const loop = [
        "mkdir /dd.dir; dd if=/dev/zero of=/dd.dir/a.big bs=1M count=16 2>/dev/null;",
        `printf ${decoy} > /dd.dir/secret.txt; ln -s ${victim} /dd.lnk; mv /dd.dir /dd;`,
        `printf ${decoy} > /etc/secret;`,
        "while :; do",
        `mv /dd /dd.dir; mv /dd.lnk /dd; ln -s ${victim}/secret.txt /etc/secret.l; mv /etc/secret.l /etc/secret; usleep 15000;`,
        `mv /dd /dd.lnk; mv /dd.dir /dd; printf ${decoy} > /etc/secret.f; mv /etc/secret.f /etc/secret; usleep 15000;`,
        "done",
      ].join(" ");
      const run = r.run([...d, "run", "-d", "--name", name, "busybox", "sh", "-c", loop]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      // The loop runs once its decoys exist.
      for (let i = 0; i < 100 && r.run(["exec", name, "test", "-e", "/etc/secret"]).code !== 0; i++) await Bun.sleep(100);
      const failures: string[] = [];
      let ok = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const tar = join(out, `export-${i}.tar`);
        const e = r.run(["export", "-o", tar, name]);
        if (e.code === 0) ok++;
        else failures.push(`export: ${e.stderr.trim()}`);
        if (i % 4 === 0) {
          const c = r.run(["commit", "-o", join(out, `commit-${i}.tar`), name, `race-${driver}:o${i}`]);
          if (c.code !== 0) failures.push(`commit -o: ${c.stderr.trim()}`);
          const c2 = r.run(["commit", name, `race-${driver}:c${i}`]);
          if (c2.code !== 0) failures.push(`commit: ${c2.stderr.trim()}`);
        }
      }
      // The race really ran: exports caught /dd both as the directory and as the symlink.
      const listings = Array.from({ length: ROUNDS }, (_, i) => join(out, `export-${i}.tar`))
        .filter((f) => Bun.file(f).size > 0)
        .map(tarListing);
      expect(listings.some((l) => /^l.* dd -> /m.test(l))).toBe(true);
      expect(listings.some((l) => / dd\/a\.big$/m.test(l))).toBe(true);
      const leaked = [...filesContaining(out, secret), ...filesContaining(join(r.dir, "image"), secret)];
      console.error(`${driver}: ${ok}/${ROUNDS} exports succeeded, ${leaked.length} files hold the host secret`);
      expect(leaked).toEqual([]);
      // Racing a live tree is no excuse to fail: entries that vanish are skipped, swapped ones
      // are archived as what they are now.
      expect(failures).toEqual([]);
      expect(r.run(["rm", "-f", name]).code).toBe(0);
    }, 300_000);
  });
}
