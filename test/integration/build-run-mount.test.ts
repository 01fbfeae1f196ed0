// minid build: RUN --mount (bind, cache, tmpfs, secret), shebang heredocs, ADD of xz/bzip2
// tars, and --pull against a loopback registry. Effects are checked inside the built image
// (what a layer holds) and on the host (what must not change).
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestRoot } from "../helpers/minid.ts";
import { useBuildRoot } from "../helpers/build.ts";
import { requires } from "../helpers/requires.ts";
import { sh } from "../helpers/images.ts";

const it = requires("root");
const { r, work, context, build, runIn, assertClean } = useBuildRoot("brm");

describe("RUN --mount", () => {
  it("type=bind reads the context read-only, keys the cache on the files' content, commits nothing of them", () => {
    const dir = context("bind", {
      "data/f": "one\n",
      "data/g": "gee\n",
      Dockerfile: [
        "FROM busybox",
        "RUN --mount=type=bind,source=data,target=/mnt cat /mnt/f /mnt/g > /out && ! touch /mnt/new 2>/dev/null",
        "RUN --mount=target=/ctx ls /ctx | sort > /ls",
      ].join("\n") + "\n",
    });
    build(dir, ["-t", "bind:1"]);
    expect(runIn("bind:1", "cat /out; ls -A /mnt; cat /ls")).toBe("one\ngee\nDockerfile\ndata\n");
    // Same content: cached. A changed file behind the mount: the step runs again.
    expect(build(dir, ["-t", "bind:1"]).stderr).toContain("Using cache");
    writeFileSync(join(dir, "data/f"), "two\n");
    const again = build(dir, ["-t", "bind:2"]);
    expect(again.stderr.split("\n").filter((l) => l.includes("Using cache")).length).toBe(0);
    expect(runIn("bind:2", "cat /out")).toBe("two\ngee\n");
    assertClean();
  }, 120_000);

  it("type=bind,rw lets the step write; the writes are thrown away and the context is untouched", () => {
    const dir = context("bindrw", {
      "d/f": "orig\n",
      Dockerfile: "FROM busybox\nRUN --mount=type=bind,source=d,target=/w,rw echo changed > /w/f && echo new > /w/n && cat /w/f > /seen\n",
    });
    build(dir, ["-t", "bindrw:1"]);
    expect(runIn("bindrw:1", "cat /seen; test -e /w/n && echo committed; true")).toBe("changed\n");
    expect(readFileSync(join(dir, "d/f"), "utf8")).toBe("orig\n");
    expect(existsSync(join(dir, "d/n"))).toBe(false);
    assertClean();
  }, 120_000);

  it("type=bind,from= mounts another stage's files", () => {
    const dir = context("bindfrom", {
      Dockerfile: [
        "FROM busybox AS tools",
        "RUN mkdir -p /opt/t && echo 'echo from-tools' > /opt/t/run.sh",
        "FROM busybox",
        "RUN --mount=type=bind,from=tools,source=/opt/t,target=/t sh /t/run.sh > /out",
      ].join("\n") + "\n",
    });
    build(dir, ["-t", "bindfrom:1"]);
    expect(runIn("bindfrom:1", "cat /out; ls -A /t 2>/dev/null; test -e /opt/t && echo leaked || true")).toBe("from-tools\n");
    assertClean();
  }, 120_000);

  it("type=cache keeps its content across builds (even --no-cache) and out of the image; mode/uid/gid apply", () => {
    const dir = context("cache", {
      Dockerfile: [
        "FROM busybox",
        "RUN --mount=type=cache,target=/var/cache/x,uid=123,gid=45,mode=0750 echo run >> /var/cache/x/log && wc -l < /var/cache/x/log > /count && stat -c '%u:%g %a' /var/cache/x > /owner",
      ].join("\n") + "\n",
    });
    build(dir, ["-t", "cache:1"]);
    expect(runIn("cache:1", "cat /count /owner; ls -A /var/cache/x 2>/dev/null; true")).toBe("1\n123:45 750\n");
    build(dir, ["--no-cache", "-t", "cache:2"]);
    expect(runIn("cache:2", "cat /count")).toBe("2\n");
    assertClean();
  }, 120_000);

  it("type=tmpfs is a tmpfs of the given size that leaves nothing in the layer", () => {
    const dir = context("tmpfs", {
      Dockerfile: "FROM busybox\nRUN --mount=type=tmpfs,target=/scratch,size=4m grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4 > /m && echo x > /scratch/f\n",
    });
    build(dir, ["-t", "tmpfs:1"]);
    const m = runIn("tmpfs:1", "cat /m; ls -A /scratch 2>/dev/null; true");
    expect(m).toMatch(/^tmpfs rw,.*size=4096k/);
    expect(m.trim().split("\n").length).toBe(1);
    assertClean();
  }, 120_000);

  it("type=secret: readable in the step, never in the image, the cache key or history; required and missing fails", () => {
    const secret = join(work, "token");
    writeFileSync(secret, "zq9-hidden-bytes\n");
    const dir = context("secret", {
      Dockerfile: [
        "FROM busybox",
        "RUN --mount=type=secret,id=tok test \"$(wc -c < /run/secrets/tok)\" -eq 17 && ! (echo x >> /run/secrets/tok) 2>/dev/null && stat -c %a /run/secrets/tok > /mode",
        "RUN --mount=type=secret,id=env,target=/e,required=true,mode=0444 cat /e > /dev/null",
      ].join("\n") + "\n",
    });
    build(dir, ["-t", "secret:1", "--secret", `id=tok,src=${secret}`, "--secret", "id=env,env=MY_SECRET"], { MY_SECRET: "from-env" });
    expect(runIn("secret:1", "cat /mode; cat /run/secrets/tok 2>/dev/null; cat /e 2>/dev/null; true")).toBe("400\n");
    const save = r.run(["save", "-o", join(work, "secret.tar"), "secret:1"]);
    expect(save.code).toBe(0);
    expect(sh(`tar -xOf '${join(work, "secret.tar")}' | grep -ac zq9-hidden || true`).trim()).toBe("0");
    const hist = r.run(["history", "--no-trunc", "secret:1"]).stdout;
    expect(hist).not.toContain("zq9-hidden");
    // Without the required one: exit 1 naming the line, nothing left behind.
    const bad = r.run(["build", "--no-cache", "--secret", `id=tok,src=${secret}`, dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Dockerfile:3");
    expect(bad.stderr).toContain("secret env not found");
    const missingFile = r.run(["build", "--secret", "id=tok,src=/nonexistent/file", dir]);
    expect(missingFile.code).toBe(1);
    expect(missingFile.stderr).toContain("cannot read /nonexistent/file");
    assertClean();
  }, 120_000);

  it("bad mount specs are one-line Dockerfile errors", () => {
    for (const [spec, msg] of [
      ["type=nfs,target=/x", 'unsupported mount type "nfs"'],
      ["type=bind", "target is required"],
      ["type=cache,target=/c,bogus=1", "unexpected key 'bogus'"],
      ["type=bind,source=nope,target=/n", '"/nope": not found'],
    ] as const) {
      const dir = context(`bad-${spec.replace(/\W/g, "")}`, { Dockerfile: `FROM busybox\nRUN --mount=${spec} true\n` });
      const res = r.run(["build", dir]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("Dockerfile:2");
      expect(res.stderr).toContain(msg);
    }
    assertClean();
  }, 120_000);
});

describe("more of the Dockerfile language", () => {
  it("a RUN heredoc starting with #! runs with its own interpreter and is not committed", () => {
    const dir = context("shebang", {
      Dockerfile: [
        "FROM busybox",
        "ARG WHO=world",
        "RUN <<EOF",
        "#!/bin/awk -f",
        'BEGIN { print "awk says hi" > "/from-awk" }',
        "EOF",
        "RUN <<'EOT'",
        "#!/bin/sh -e",
        "echo \"$0 $WHO\" > /from-sh",
        "EOT",
      ].join("\n") + "\n",
    });
    build(dir, ["-t", "shebang:1"]);
    expect(runIn("shebang:1", "cat /from-awk /from-sh; ls -A /dev/pipes 2>/dev/null; true")).toBe("awk says hi\n/dev/pipes/EOT world\n");
    assertClean();
  }, 120_000);

  it("COPY --parents keeps source paths (from the root or from a /./ pivot); --exclude filters", () => {
    const dir = context("parents", {
      "x/a.txt": "xa\n",
      "y/a.txt": "ya\n",
      "x/y/b.txt": "xyb\n",
      "x/y/c.md": "xyc\n",
      "logs/keep.txt": "k\n",
      "logs/drop.log": "d\n",
      "logs/sub/deep.log": "d\n",
      "logs/sub/ok": "ok\n",
      "top.log": "t\n",
      "top.txt": "t\n",
      Dockerfile: [
        "FROM busybox",
        "COPY x/a.txt y/a.txt /plain/",
        "COPY --parents x/a.txt y/a.txt /parents/",
        "COPY --parents ./x/./y/*.txt /pivot/",
        "COPY --parents x/y /dirs/",
        "COPY --exclude=*.log --exclude=sub/ok logs /ex/",
        "COPY --exclude=*.log top.* /ex-top/",
      ].join("\n") + "\n",
    });
    build(dir, ["-t", "parents:1"]);
    const tree = runIn("parents:1", "cd / && find plain parents pivot dirs ex ex-top | sort; cat /plain/a.txt");
    expect(tree).toBe([
      "dirs", "dirs/x", "dirs/x/y", "dirs/x/y/b.txt", "dirs/x/y/c.md",
      "ex", "ex-top", "ex-top/top.txt", "ex/keep.txt", "ex/sub", "ex/sub/deep.log", // `*.log` is one component, as in .dockerignore
      "parents", "parents/x", "parents/x/a.txt", "parents/y", "parents/y/a.txt",
      "pivot", "pivot/y", "pivot/y/b.txt",
      "plain", "plain/a.txt", "ya",
    ].join("\n") + "\n");
    assertClean();
  }, 120_000);

  requires("root", "git")("ADD of a Git repository (git daemon on 127.0.0.1): ref, subdir, no .git unless --keep-git-dir, cached on the commit", async () => {
    const repo = join(work, "repos", "proj.git");
    const src = join(work, "gitsrc");
    mkdirSync(join(src, "sub"), { recursive: true });
    writeFileSync(join(src, "README"), "v1\n");
    writeFileSync(join(src, "sub", "run.sh"), "#!/bin/sh\necho run\n");
    const g = `git -C '${src}' -c user.email=t@t -c user.name=t`;
    sh(`chmod 755 '${src}/sub/run.sh' && ln -s README '${src}/link' && git init -q -b main '${src}' && ${g} add -A && ${g} commit -qm one && ${g} tag v1 && ` +
      `echo v2 > '${src}/README' && ${g} commit -qam two && git clone -q --bare '${src}' '${repo}'`);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const daemon = Bun.spawn(["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", `--port=${port}`, `--base-path=${join(work, "repos")}`, join(work, "repos")], { stdout: "ignore", stderr: "pipe" });
    try {
      const url = `git://127.0.0.1:${port}/proj.git`;
      for (let i = 0; i < 50 && Bun.spawnSync(["git", "ls-remote", url]).exitCode !== 0; i++) await Bun.sleep(100);
      const dir = context("gitadd", {
        Dockerfile: [
          "FROM busybox",
          `ADD ${url} /head/`,
          `ADD ${url}#v1 /v1/`,
          `ADD ${url}#main:sub /only-sub/`,
          `ADD --keep-git-dir=true ${url}#v1 /with-git/`,
        ].join("\n") + "\n",
      });
      build(dir, ["-t", "git:1"]);
      expect(runIn("git:1", "cat /head/README /v1/README; readlink /v1/link; ls -A /only-sub; stat -c '%a %u' /only-sub/run.sh; test -e /head/.git && echo has-git; test -d /with-git/.git && echo kept")).toBe(
        "v2\nv1\nREADME\nrun.sh\n755 0\nkept\n",
      );
      // Nothing changed upstream: every step from cache. A new commit on main: rebuilt.
      expect(build(dir, ["-t", "git:1"]).stderr.split("\n").filter((l) => l.includes("Using cache")).length).toBe(4);
      sh(`echo v3 > '${src}/README' && ${g} commit -qam three && git -C '${src}' push -q '${repo}' main`);
      build(dir, ["-t", "git:2"]);
      expect(runIn("git:2", "cat /head/README /v1/README")).toBe("v3\nv1\n");
      const bad = r.run(["build", context("gitbad", { Dockerfile: `FROM busybox\nADD ${url}#nosuchref /x/\n` })]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("Dockerfile:2");
      expect(bad.stderr).toContain("failed to fetch");
      assertClean();
    } finally {
      daemon.kill();
      await daemon.exited;
    }
  }, 120_000);

  it("builds on the vfs driver too: COPY into the full copy, RUN, the same files as on overlay", () => {
    const dir = context("vfs", {
      "f.txt": "f\n",
      "d/g": "g\n",
      Dockerfile: "FROM busybox\nCOPY f.txt /f\nCOPY d /d/\nWORKDIR /w\nRUN rm /bin/vi && echo r > r\n",
    });
    const env = { MINID_STORAGE_DRIVER: "vfs" };
    const vr = new TestRoot("brm-vfs");
    try {
      const res = vr.run(["build", "-t", "v:1", dir], { env });
      expect(res.code).toBe(0);
      const out = vr.run(["run", "--rm", "v:1", "sh", "-c", "cat /f /d/g /w/r; test -e /bin/vi && echo vi-back; true"], { env });
      expect(out.stdout).toBe("f\ng\nr\n");
      expect(vr.leakedMounts()).toEqual([]);
    } finally {
      vr.cleanup();
    }
  }, 120_000);

  requires("root", "docker-registry")("--pull fetches the FROM image again; without it the local one is used", async () => {
    const { startRegistry } = await import("./registry-fixtures.ts");
    const reg = await startRegistry();
    try {
      const base = `${reg.host}/pulltest/base:1`;
      const v = (n: string) => context(`pull-v${n}`, { Dockerfile: `FROM busybox\nRUN echo ${n} > /marker\n` });
      build(v("1"), ["-t", base]);
      expect(r.run(["push", base]).code).toBe(0);
      const dir = context("pull-use", { Dockerfile: `FROM ${base}\nRUN cat /marker > /seen\n` });
      build(dir, ["-t", "pulled:1"]);
      expect(runIn("pulled:1", "cat /seen")).toBe("1\n");
      // The registry moves on; this store's copy of the tag does not.
      build(v("2"), ["-t", base]);
      expect(r.run(["push", base]).code).toBe(0);
      build(v("1"), ["-t", base]);
      build(dir, ["-t", "pulled:2"]);
      expect(runIn("pulled:2", "cat /seen")).toBe("1\n");
      const res = build(dir, ["--pull", "-t", "pulled:3"]);
      expect(res.stderr).not.toContain("Using cache");
      expect(runIn("pulled:3", "cat /seen")).toBe("2\n");
      // --pull of an image no registry has: exit 1, nothing tagged.
      const bad = r.run(["build", "--pull", "-t", "never:1", context("pull-bad", { Dockerfile: `FROM ${reg.host}/nosuch/image:1\n` })]);
      expect(bad.code).toBe(1);
      expect(r.run(["image", "inspect", "never:1"]).code).not.toBe(0);
      assertClean();
    } finally {
      await reg.stop();
    }
  }, 120_000);

  it("ADD extracts xz and bzip2 tars (owners and symlinks as in the tar)", () => {
    const dir = join(work, "xz");
    mkdirSync(join(dir, "src/t"), { recursive: true });
    writeFileSync(join(dir, "src/t/f"), "packed\n");
    sh(`cd '${dir}/src' && ln -s f t/l && tar --owner=5 --group=6 -cJf ../a.tar.xz t && tar --owner=7 --group=8 -cjf ../b.tar.bz2 t && cd .. && rm -r src`);
    writeFileSync(join(dir, "Dockerfile"), "FROM busybox\nADD a.tar.xz /xz/\nADD b.tar.bz2 /bz/\n");
    build(dir, ["-t", "xz:1"]);
    expect(runIn("xz:1", "cat /xz/t/f /bz/t/f; stat -c '%n %u:%g' /xz/t/f /xz/t/l /bz/t/l; readlink /bz/t/l")).toBe(
      "packed\npacked\n/xz/t/f 5:6\n/xz/t/l 5:6\n/bz/t/l 7:8\nf\n",
    );
    assertClean();
  }, 120_000);
});
