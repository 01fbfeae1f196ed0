// The everyday commands side by side with a real Docker daemon (Debian's docker.io 20.10,
// private to this file): the same commands in both engines, the outputs compared after
// replacing what must differ (ids, roots, the "Error response from daemon: " prefix).
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, BIN } from "../helpers/minid.ts";
import { requires, have } from "../helpers/requires.ts";
import { startDockerd, DOCKERD, type Dockerd } from "../helpers/dockerd.ts";

const it = requires("root", DOCKERD);
let d: Dockerd;
let r: TestRoot;

beforeAll(async () => {
  if (!have("root") || !have(DOCKERD)) return;
  ensureBuilt();
  r = new TestRoot("evdocker");
  d = await startDockerd();
  r.run(["images"]); // the built-in image, imported on first use
  r.run(["run", "--rm", "busybox", "true"]);
  await d.loadMinidImage(BIN, r.dir);
}, 120_000);

afterAll(async () => {
  await d?.stop();
  r?.cleanup();
});

/** One line of an error, as both engines word it. */
const errText = (s: string) =>
  s
    .split("\n")[0]!
    .replace(/^(minid: |Error response from daemon: |Error: )/, "")
    .replace(/[a-f0-9]{64}/g, "<id>");

async function both(args: string[], input?: string) {
  const m = r.run(args, input !== undefined ? { input } : {});
  const o = await d.docker(args, input !== undefined ? { input } : {});
  return { m, o };
}

describe("minid and Docker agree", () => {
  it("volume create/inspect/rm and their errors", async () => {
    for (const args of [["volume", "create", "cmpv"], ["volume", "create", "--label", "a=b", "cmpl"]]) {
      const { m, o } = await both(args);
      expect(m.stdout).toBe(o.stdout);
    }
    const norm = (t: string) => JSON.parse(t).map((v: Record<string, unknown>) => ({ ...v, CreatedAt: "", Mountpoint: String(v.Mountpoint).replace(/^.*\/volumes\//, "") }));
    const { m, o } = await both(["volume", "inspect", "cmpv", "cmpl"]);
    expect(norm(m.stdout)).toEqual(norm(o.stdout));
    await both(["create", "--name", "cmpuser", "-v", "cmpv:/d", "busybox", "true"]);
    for (const args of [["volume", "rm", "cmpv"], ["volume", "rm", "nosuchvol"], ["volume", "create", "x"], ["volume", "create", "a b"], ["volume", "inspect", "nosuchvol"]]) {
      const { m, o } = await both(args);
      expect([m.code, errText(m.stderr)]).toEqual([o.code, errText(o.stderr)]);
    }
    expect((await both(["volume", "ls", "-q", "-f", "dangling=true"])).m.stdout).toBe("cmpl\n");
    await both(["rm", "cmpuser"]);
    await both(["volume", "rm", "cmpv", "cmpl"]);
  });

  it("inspect's Mounts, Binds and Volumes for every kind of mount", async () => {
    const h = join(r.dir, "cmp-h");
    mkdirSync(h, { recursive: true });
    const args = [
      "create", "--name", "cmpm", "-v", `${h}:/b1`, "-v", `${h}:/b2:ro,rslave`, "-v", "cnv:/v1", "-v", "cnv2:/v2:ro,nocopy", "-v", "/anon",
      "--mount", `type=bind,src=${h},dst=/m1`, "--mount", "type=volume,src=cnv3,dst=/m2", "--mount", "type=tmpfs,dst=/t1,tmpfs-size=1m",
      "--tmpfs", "/t2", "busybox", "true",
    ];
    await both(args);
    const view = async (fmt: string) => {
      const m = r.run(["inspect", "-f", fmt, "cmpm"]).stdout;
      const o = (await d.docker(["inspect", "-f", fmt, "cmpm"])).stdout;
      const clean = (t: string) => t.replace(/"Name":"[a-f0-9]{64}"/g, '"Name":"<anon>"').replace(/"Source":"[^"]*\/volumes\/[^/"]+\/_data"/g, '"Source":"<vol>"');
      return { m: clean(m), o: clean(o) };
    };
    const mounts = await view("{{json .Mounts}}");
    const byDest = (t: string) => (JSON.parse(t) as { Destination: string }[]).sort((a, b) => (a.Destination < b.Destination ? -1 : 1));
    expect(byDest(mounts.m)).toEqual(byDest(mounts.o));
    const binds = await view("{{json .HostConfig.Binds}}");
    expect((JSON.parse(binds.m) as string[]).sort()).toEqual((JSON.parse(binds.o) as string[]).sort());
    for (const f of ["{{json .HostConfig.Mounts}}", "{{json .Config.Volumes}}"]) {
      const v = await view(f);
      expect(JSON.parse(v.m)).toEqual(JSON.parse(v.o));
    }
    await both(["rm", "-v", "cmpm"]);
    await both(["volume", "rm", "cnv", "cnv2", "cnv3"]);
  });

  it("diff, cp and rename: same output and same errors", async () => {
    const script = "echo x > /etc/newf; echo y >> /etc/passwd; rm /bin/ls; mkdir -p /a/b; touch /a/b/c; rm -rf /home; ln -s /etc /lnk";
    await both(["run", "--name", "cmpd", "-v", "/anonv", "busybox", "sh", "-c", script]);
    const { m, o } = await both(["diff", "cmpd"]);
    const sorted = (t: string) => t.trim().split("\n").sort((a, b) => (a.slice(2) < b.slice(2) ? -1 : 1));
    expect(sorted(m.stdout)).toEqual(sorted(o.stdout));
    const tarList = async (src: string) => {
      const mm = Bun.spawnSync(["sh", "-c", `'${BIN}' --root '${r.dir}' cp '${src}' - | tar -tv --numeric-owner`]).stdout.toString();
      const oo = Bun.spawnSync(["sh", "-c", `docker -H '${d.host}' cp '${src}' - | tar -tv --numeric-owner`], { env: { PATH: "/usr/bin:/bin" } }).stdout.toString();
      return { mm, oo };
    };
    for (const src of ["cmpd:/etc/newf", "cmpd:/a", "cmpd:/a/.", "cmpd:/lnk"]) {
      const { mm, oo } = await tarList(src);
      // name, type and mode, owner, size (times differ: the files were made at different moments)
      const fields = (t: string) => t.trim().split("\n").map((l) => l.split(/\s+/).filter((_, i) => i !== 3 && i !== 4).join(" "));
      expect(fields(mm)).toEqual(fields(oo));
    }
    for (const args of [
      ["cp", "cmpd:/nosuch", "/tmp/x"], ["cp", "nosuchctr:/x", "/tmp/x"], ["cp", "/tmp/a", "/tmp/b"], ["cp", "cmpd:/a", "cmpd:/b"],
      ["cp", "cmpd:/a", join(r.dir, "cmp-h", "..", "evdocker-file")],
    ]) {
      const { m, o } = await both(args);
      expect([m.code, errText(m.stderr)]).toEqual([o.code, errText(o.stderr)]);
    }
    await both(["create", "--name", "cmpr2", "busybox", "true"]);
    for (const args of [["rename", "cmpd", "cmpr2"], ["rename", "cmpd", "cmpd"], ["rename", "cmpd", "a b"], ["rename", "nosuch", "x"]]) {
      const { m, o } = await both(args);
      expect([m.code, errText(m.stderr)]).toEqual([o.code, errText(o.stderr)]);
    }
    await both(["rm", "-v", "cmpd", "cmpr2"]);
  });

  it("pause, top, events: the same words", async () => {
    await both(["run", "-d", "--name", "cmpp", "busybox", "sleep", "300"]);
    const top = await both(["top", "cmpp"]);
    expect(top.m.stdout.split("\n")[0]).toBe(top.o.stdout.split("\n")[0]);
    await both(["pause", "cmpp"]);
    for (const args of [["exec", "cmpp", "true"], ["pause", "cmpp"], ["rm", "cmpp"], ["top", "cmpp", "-o", "comm"]]) {
      const { m, o } = await both(args);
      expect([m.code, errText(m.stderr)]).toEqual([o.code, errText(o.stderr)]);
    }
    const st = await both(["ps", "--format", "{{.State}} {{.Status}}", "-f", "name=cmpp"]);
    expect(st.m.stdout.replace(/Up .* \(/, "Up (")).toBe(st.o.stdout.replace(/Up .* \(/, "Up ("));
    await both(["unpause", "cmpp"]);
    const un = await both(["unpause", "cmpp"]);
    expect(errText(un.m.stderr)).toBe(errText(un.o.stderr));
    const since = String(Math.floor(Date.now() / 1000) - 30);
    await both(["rm", "-f", "cmpp"]);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const ev = await both(["events", "--since", since, "--until", until, "-f", "container=cmpp", "--format", "{{.Type}} {{.Action}}"]);
    // Docker adds exec_* events for the refused exec; the life of the container is the same
    const life = (t: string) => t.trim().split("\n").filter((l) => !l.includes("exec_"));
    expect(life(ev.m.stdout)).toEqual(life(ev.o.stdout));
  }, 60_000);
});
