// minid build end to end, as root, with the real binary, offline on busybox: every
// instruction, COPY/ADD semantics, .dockerignore, multi-stage, the layer cache, history,
// errors that leave nothing behind (a failing RUN, Ctrl-C during RUN), and skopeo/umoci
// reading what build made.
import { describe, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useBuildRoot } from "../helpers/build.ts";

const it = requires("root");
const { r, work, ok, context, build, inspectConfig, runIn, assertClean } = useBuildRoot("build");

describe("build", () => {
  it("every metadata instruction lands in the config; RUN sees env, args, user, workdir and shell", () => {
    const dir = context("meta", {
      Dockerfile: [
        "# syntax=docker/dockerfile:1",
        "ARG TAG=latest",
        "FROM busybox:${TAG}",
        "ARG WHO=world",
        'ENV GREETING="hello" \\',
        "    EMPTY=",
        "ENV LEGACY value with spaces",
        "LABEL org.test.a=1 \"org.test.b\"='two words'",
        "EXPOSE 8080 53/udp",
        "VOLUME /data",
        "STOPSIGNAL SIGQUIT",
        "HEALTHCHECK --interval=5s --retries=2 CMD true",
        "WORKDIR /srv",
        "WORKDIR sub",
        "RUN echo \"$GREETING $WHO $(pwd) $(id -u)\" > /srv/sub/out",
        'SHELL ["/bin/sh", "-ec"]',
        "RUN echo \"${GREETING:+set}\" > /srv/sub/shell",
        "RUN echo app:x:1234:1234::/home/app:/bin/sh >> /etc/passwd && echo app:x:1234: >> /etc/group",
        "USER app",
        "RUN id -un > /tmp/user",
        'ENTRYPOINT ["/bin/echo"]',
        'CMD ["default"]',
      ].join("\n"),
    });
    const res = build(dir, ["-t", "meta:1", "--build-arg", "WHO=tests"]);
    expect(res.stdout.trim()).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(res.stderr).toContain("syntax directive (docker/dockerfile:1) is ignored");
    expect(res.stderr).toContain("STEP 1/19: FROM busybox:${TAG}");
    const cfg = inspectConfig("meta:1");
    expect(cfg.Env).toEqual([
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "GREETING=hello",
      "EMPTY=",
      "LEGACY=value with spaces",
    ]);
    expect(cfg.Labels).toEqual({ "org.test.a": "1", "org.test.b": "two words" });
    expect(cfg.ExposedPorts).toEqual({ "8080/tcp": {}, "53/udp": {} });
    expect(cfg.Volumes).toEqual({ "/data": {} });
    expect(cfg.StopSignal).toBe("SIGQUIT");
    expect(cfg.Healthcheck).toEqual({ Test: ["CMD-SHELL", "true"], Interval: 5e9, Retries: 2 });
    expect(cfg.WorkingDir).toBe("/srv/sub");
    expect(cfg.User).toBe("app");
    expect(cfg.Entrypoint).toEqual(["/bin/echo"]);
    expect(cfg.Cmd).toEqual(["default"]);
    // ARGs are not part of the image's env.
    expect(cfg.Env.some((e: string) => e.startsWith("WHO="))).toBe(false);
    expect(runIn("meta:1", "cat /srv/sub/out /srv/sub/shell /tmp/user")).toBe("hello tests /srv/sub 0\nset\napp\n");
    expect(ok(["run", "--rm", "meta:1"]).stdout).toBe("default\n");
    assertClean();
  });

  it("history: one entry per step, Docker's created_by, empty layers for metadata", () => {
    const dir = context("hist", { Dockerfile: "FROM busybox\nENV A=1\nRUN echo x > /x\nCOPY Dockerfile /\nCMD [\"sh\"]\n" });
    build(dir, ["-t", "hist"]);
    const img = JSON.parse(ok(["image", "inspect", "hist"]).stdout)[0];
    expect(img.RootFS.Layers.length).toBe(3); // busybox + RUN + COPY
    const { stdout } = ok(["history", "--no-trunc", "--format", "json", "hist"]);
    const lines = stdout.trim().split("\n").map((l) => { const h = JSON.parse(l); return `${h.CreatedBy}|${h.Size}`; });
    expect(lines.slice(0, 4).map((l) => l.split("|")[0])).toEqual([
      '/bin/sh -c #(nop)  CMD ["sh"]',
      expect.stringMatching(/^\/bin\/sh -c #\(nop\) COPY file:[a-f0-9]{64} in \/ $/),
      "/bin/sh -c echo x > /x",
      "/bin/sh -c #(nop)  ENV A=1",
    ]);
    expect(lines[0]!.split("|")[1]).toBe("0B");
    // The steps' images are intermediate: hidden from `images` as Docker's, shown with -a.
    const id = JSON.parse(ok(["image", "inspect", "hist"]).stdout)[0].Id.slice(7, 19);
    const listed = ok(["images", "-q"]).stdout.trim().split("\n");
    const all = ok(["images", "-a", "-q"]).stdout.trim().split("\n");
    expect(listed).toContain(id);
    expect(all.length).toBeGreaterThanOrEqual(listed.length + 3); // ENV, RUN, COPY steps
  });

  it("COPY: files, directory contents, globs, destination rules, --chown/--chmod, heredocs", () => {
    const dir = context("copy", {
      "a.txt": "a\n",
      "b.txt": "b\n",
      "dir/x": "x\n",
      "dir/nested/y": "y\n",
      Dockerfile: [
        "FROM busybox",
        "ENV NAME=world",
        "COPY a.txt /one",
        "COPY a.txt /two/",
        "COPY dir /three",
        "COPY *.txt /four/",
        "RUN mkdir /five",
        "COPY a.txt /five",
        "WORKDIR /w",
        "COPY b.txt rel",
        "COPY --chown=1234:5678 --chmod=640 a.txt /owned",
        "RUN echo named:x:4321:4321::/:/bin/sh >> /etc/passwd",
        "COPY --chown=named dir /named",
        "COPY <<EOF /here.txt",
        "hello ${NAME}",
        "EOF",
        'COPY <<"EOF" /quoted.txt',
        "hello ${NAME}",
        "EOF",
      ].join("\n"),
    });
    build(dir, ["-t", "copy"]);
    const out = runIn(
      "copy",
      "cat /one /two/a.txt /three/x /three/nested/y /four/a.txt /four/b.txt /five/a.txt /w/rel; " +
        "stat -c '%u:%g %a' /owned /named /named/x; cat /here.txt /quoted.txt; test -e /three/dir && echo WRONG; true",
    );
    expect(out).toBe("a\na\nx\ny\na\nb\na\nb\n1234:5678 640\n4321:4321 755\n4321:4321 644\nhello world\nhello ${NAME}\n");
  });

  it("a COPY layer's tree (the adopted upper directory) is exactly what its tar unpacks to", async () => {
    const dir = context("adopt", { "f/a.txt": "a\n", "f/sub/b": "b\n", "g.txt": "g\n" });
    writeFileSync(join(dir, "Dockerfile"), "FROM busybox\nWORKDIR /app\nCOPY f /app/f\nCOPY --chmod=600 g.txt /etc/\nRUN rm /app/f/a.txt\nCOPY g.txt /app/f/a.txt\n");
    build(dir, ["-t", "adopt"]);
    const img = JSON.parse(ok(["image", "inspect", "adopt"]).stdout)[0];
    const { applyLayer } = await import("../../src/image/layer-apply.ts");
    const { llistxattr, lgetxattr } = await import("../../src/linux/libc.ts");
    const describe = (root: string): string[] => {
      const out: string[] = [];
      const walk = (p: string, rel: string) => {
        const st = require("node:fs").lstatSync(p);
        const xattrs = llistxattr(p).sort().map((n: string) => `${n}=${lgetxattr(p, n)?.toString("hex")}`);
        const content = st.isFile() ? readFileSync(p, "utf8") : st.isSymbolicLink() ? require("node:fs").readlinkSync(p) : "";
        out.push(`${rel} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.rdev} ${Math.floor(st.mtimeMs / 1000)} ${xattrs.join(",")} ${content}`);
        if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n), `${rel}/${n}`);
      };
      walk(root, "");
      return out;
    };
    const layers: string[] = img.RootFS.Layers.slice(1); // past busybox: WORKDIR, COPY, COPY, RUN, COPY
    expect(layers.length).toBe(5);
    let compared = 0;
    for (const diffId of layers) {
      const hex = diffId.slice(7);
      const rec = JSON.parse(readFileSync(join(r.dir, "image", "layers", hex, "layer.json"), "utf8"));
      const stored = join(r.dir, "image", "layers", hex, "diff");
      if (!existsSync(stored)) continue; // not unpacked yet (the last step's)
      const fresh = join(work, `unpack-${hex}`);
      await applyLayer(join(r.dir, "image", "blobs", "sha256", rec.digest.slice(7)), fresh);
      expect(describe(stored).slice(1)).toEqual(describe(fresh).slice(1));
      compared++;
    }
    expect(compared).toBe(5);
    expect(runIn("adopt", "cat /app/f/a.txt /app/f/sub/b; stat -c %a /etc/g.txt")).toBe("g\nb\n600\n");
  });

  it("COPY into an image's symlink stays inside the image", () => {
    const outside = join(work, "outside-target");
    mkdirSync(outside, { recursive: true });
    const dir = context("symlink", { "f.txt": "f\n", Dockerfile: `FROM busybox\nRUN ln -s ${outside} /esc\nCOPY f.txt /esc/\n` });
    build(dir, ["-t", "symlink"]);
    expect(readdirSync(outside)).toEqual([]);
    expect(runIn("symlink", `cat ${outside}/f.txt`)).toBe("f\n");
  });

  it("ADD extracts a local tar and downloads a URL from 127.0.0.1", async () => {
    const dir = context("add", { "t/in/file": "tarred\n" });
    Bun.spawnSync(["tar", "czf", join(dir, "a.tgz"), "-C", join(dir, "t"), "in"]);
    Bun.spawnSync(["tar", "cf", join(dir, "b.tar"), "-C", join(dir, "t"), "in"]);
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response("downloaded\n", { headers: { "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT" } }),
    });
    const sum = "sha256:" + new Bun.CryptoHasher("sha256").update("downloaded\n").digest("hex");
    try {
      const bad = join(work, "add-bad");
      mkdirSync(bad, { recursive: true });
      writeFileSync(join(bad, "Dockerfile"), `FROM busybox\nADD --checksum=sha256:${"0".repeat(64)} http://127.0.0.1:${server.port}/x /x\n`);
      const badChild = Bun.spawn([...(await import("../helpers/minid.ts")).minidCommand(), "--root", r.dir, "build", bad], { stdout: "pipe", stderr: "pipe" });
      expect(await badChild.exited).toBe(1);
      expect(await new Response(badChild.stderr).text()).toContain("Dockerfile:2: ADD --checksum=");
      writeFileSync(
        join(dir, "Dockerfile"),
        `FROM busybox\nADD a.tgz /gz/\nADD b.tar /plain\nADD http://127.0.0.1:${server.port}/files/remote.txt /dl/\nADD --checksum=${sum} http://127.0.0.1:${server.port}/x /named\n`,
      );
      const child = Bun.spawn([...(await import("../helpers/minid.ts")).minidCommand(), "--root", r.dir, "build", "-t", "add", dir], { stdout: "pipe", stderr: "pipe" });
      const code = await child.exited;
      expect(code).toBe(0);
    } finally {
      server.stop(true);
    }
    const out = runIn("add", "cat /gz/in/file /plain/in/file /dl/remote.txt /named; stat -c '%a %Y' /dl/remote.txt");
    expect(out).toBe("tarred\ntarred\ndownloaded\ndownloaded\n600 1445412480\n");
  });

  it(".dockerignore with exceptions; Dockerfile.dockerignore wins", () => {
    const dir = context("ignore", {
      "keep.txt": "k",
      "drop.log": "d",
      "logs/a.log": "a",
      "logs/important.log": "i",
      ".dockerignore": "*.log\nlogs\n!logs/important.log\n",
      Dockerfile: "FROM busybox\nCOPY . /ctx/\n",
      "other.Dockerfile": "FROM busybox\nCOPY . /ctx/\n",
      "other.Dockerfile.dockerignore": "keep.txt\n",
    });
    build(dir, ["-t", "ign"]);
    expect(runIn("ign", "cd /ctx && find . -type f | sort")).toBe("./.dockerignore\n./Dockerfile\n./keep.txt\n./logs/important.log\n./other.Dockerfile\n./other.Dockerfile.dockerignore\n");
    build(dir, ["-t", "ign2", "-f", join(dir, "other.Dockerfile")]);
    const files = runIn("ign2", "cd /ctx && find . -type f | sort");
    expect(files).not.toContain("keep.txt");
    expect(files).toContain("./drop.log");
  });

  it("multi-stage: COPY --from a stage (by name and index), FROM a stage, --target, unneeded stages skipped", () => {
    const dir = context("multi", {
      Dockerfile: [
        "FROM busybox AS builder",
        "RUN mkdir /out && echo built > /out/artifact && chown 7:8 /out/artifact",
        "FROM busybox AS broken",
        "RUN exit 3",
        "FROM builder AS derived",
        "RUN echo derived > /out/second",
        "FROM scratch",
        "COPY --from=builder /out/artifact /artifact",
        "COPY --from=0 /bin/busybox /bin/busybox",
        "COPY --from=derived /out/second /second",
        'ENTRYPOINT ["/bin/busybox"]',
      ].join("\n"),
    });
    const res = build(dir, ["-t", "multi"]);
    expect(res.stderr).not.toContain("exit 3");
    expect(ok(["run", "--rm", "multi", "cat", "/artifact", "/second"]).stdout).toBe("built\nderived\n");
    expect(ok(["run", "--rm", "multi", "stat", "-c", "%u:%g", "/artifact"]).stdout).toBe("7:8\n"); // --from keeps owners
    build(dir, ["-t", "multi-target", "--target", "derived"]);
    expect(runIn("multi-target", "cat /out/artifact /out/second")).toBe("built\nderived\n");
    const bad = r.run(["build", "--target", "broken", dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Dockerfile:4: RUN exit 3: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3");
    assertClean();
  });

  it("ONBUILD triggers are stored, then run in a child build and cleared", () => {
    const dir = context("onbuild", { "f.txt": "from child context\n", Dockerfile: "FROM busybox\nONBUILD COPY f.txt /onbuild.txt\nONBUILD RUN echo ran > /ran\n" });
    build(dir, ["-t", "onbase"]);
    expect(inspectConfig("onbase").OnBuild).toEqual(["COPY f.txt /onbuild.txt", "RUN echo ran > /ran"]);
    writeFileSync(join(dir, "Child"), "FROM onbase\n");
    build(dir, ["-t", "onchild", "-f", join(dir, "Child")]);
    expect(runIn("onchild", "cat /onbuild.txt /ran")).toBe("from child context\nran\n");
    expect(inspectConfig("onchild").OnBuild).toBeNull();
  });

  it("the layer cache: a rebuild uses it, a changed file rebuilds from its COPY, a changed ARG from the RUN that sees it, --no-cache none", () => {
    const dir = context("cache", {
      "one.txt": "1",
      "two.txt": "2",
      Dockerfile: "FROM busybox\nCOPY one.txt /\nARG V=a\nRUN echo $V > /v\nCOPY two.txt /\nRUN cat /v /two.txt\n",
    });
    const first = build(dir, ["-t", "cache"]);
    const again = build(dir, ["-t", "cache"]);
    expect(again.stdout).toBe(first.stdout);
    expect(again.stderr.match(/Using cache/g)?.length).toBe(5);
    writeFileSync(join(dir, "two.txt"), "22");
    const changed = build(dir, ["-t", "cache"]);
    expect(changed.stderr.match(/Using cache/g)?.length).toBe(3);
    expect(changed.stderr).toContain("a\n22");
    const arg = build(dir, ["-t", "cache", "--build-arg", "V=b"]);
    expect(arg.stderr.match(/Using cache/g)?.length).toBe(2); // COPY one.txt, ARG
    const none = build(dir, ["--no-cache"]);
    expect(none.stderr).not.toContain("Using cache");
    expect(none.stdout).not.toBe(changed.stdout);
  });

  it("-q prints only the id; --iidfile; --label; Dockerfile on stdin; a tar context on stdin", () => {
    const dir = context("quiet", { "f.txt": "f\n", Dockerfile: "FROM busybox\nRUN echo noisy\nCOPY f.txt /\n" });
    const q = ok(["build", "-q", "--no-cache", "--iidfile", join(work, "iid"), "--label", "k=v", "-t", "quiet", dir]);
    expect(q.stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);
    expect(q.stderr).toBe("");
    expect(readFileSync(join(work, "iid"), "utf8")).toBe(q.stdout.trim());
    expect(inspectConfig("quiet").Labels).toEqual({ k: "v" });
    const stdinDf = ok(["build", "-t", "stdin-df", "-f", "-", dir], { input: "FROM busybox\nCOPY f.txt /g.txt\n" });
    expect(stdinDf.code).toBe(0);
    expect(runIn("stdin-df", "cat /g.txt")).toBe("f\n");
    const tar = Bun.spawnSync(["tar", "cf", "-", "-C", dir, "."]).stdout;
    ok(["build", "-t", "stdin-tar", "-"], { input: tar });
    expect(runIn("stdin-tar", "cat /f.txt")).toBe("f\n");
    ok(["build", "-t", "stdin-only", "-"], { input: "FROM busybox\nRUN echo only > /o\n" });
    expect(runIn("stdin-only", "cat /o")).toBe("only\n");
  });

  it("errors name the line and instruction, exit 1, and leave no container, mount, scratch or tag", () => {
    const cases: [string, string][] = [
      ["FROM busybox\nRUN echo ok\nRUN false\n", 'Dockerfile:3: RUN false: process "/bin/sh -c false" did not complete successfully: exit code: 1'],
      ["FROM busybox\nBOGUS x\n", "Dockerfile:2: unknown instruction: BOGUS"],
      ["FROM busybox\nCOPY missing.txt /\n", 'Dockerfile:2: COPY missing.txt /: "/missing.txt": not found'],
      ["FROM busybox\nCOPY a b c\n", "the destination must be a directory and end with a /"],
      ["FROM busybox\nENV X=${Y:?Y is required}\n", "Dockerfile:2: ENV X=${Y:?Y is required}: Y: Y is required"],
      ["FROM busybox\nRUN --mount=type=cache,target=/x false\n", 'Dockerfile:2: RUN --mount=type=cache,target=/x false: process "/bin/sh -c false" did not complete successfully'],
    ];
    for (const [df, msg] of cases) {
      const dir = context(`err${cases.findIndex((c) => c[0] === df)}`, { a: "a", b: "b", Dockerfile: df });
      const res = r.run(["build", "-t", "never:tagged", dir]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`minid: `);
      expect(res.stderr).toContain(msg);
      expect(res.stdout).toBe("");
      assertClean();
    }
    expect(r.run(["image", "inspect", "never:tagged"]).code).not.toBe(0);
  });

  it("Ctrl-C during RUN stops the build and cleans up", async () => {
    const dir = context("sigint", { Dockerfile: "FROM busybox\nRUN echo started; sleep 61\n" });
    const child = r.spawn(["build", "-t", "interrupted", dir]);
    // Wait until the RUN's output shows that the container runs.
    const reader = child.stderr.getReader();
    let seen = "";
    // The output line, not the STEP line that quotes the command.
    while (!seen.includes("\nstarted\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    expect(seen).toContain("\nstarted\n");
    child.kill("SIGINT");
    expect(await child.exited).toBe(130);
    // The RUN's command went with the build (its container is gone, not waited out).
    expect(Bun.spawnSync(["pgrep", "-f", "sleep 61"]).exitCode).toBe(1);
    assertClean();
    expect(r.run(["image", "inspect", "interrupted"]).code).not.toBe(0);
  });

  requires("root", "skopeo", "umoci")("skopeo and umoci read a built image: same config and files", () => {
    const dir = context("oci", { "f.txt": "oci\n", Dockerfile: "FROM busybox\nCOPY --chmod=600 f.txt /f.txt\nRUN ln -s f.txt /link\nENV K=v\nCMD [\"cat\", \"/f.txt\"]\n" });
    build(dir, ["-t", "oci:1"]);
    const file = join(work, "oci.tar");
    ok(["save", "-o", file, "oci:1"]);
    const insp = JSON.parse(Bun.spawnSync(["skopeo", "inspect", "--config", `docker-archive:${file}`]).stdout.toString());
    expect(insp.config.Cmd).toEqual(["cat", "/f.txt"]);
    expect(insp.config.Env).toContain("K=v");
    const oci = join(work, "oci-layout");
    expect(Bun.spawnSync(["skopeo", "copy", "-q", `docker-archive:${file}`, `oci:${oci}:v1`]).exitCode).toBe(0);
    const bundle = join(work, "bundle");
    expect(Bun.spawnSync(["umoci", "raw", "unpack", "--image", `${oci}:v1`, bundle]).exitCode).toBe(0);
    expect(readFileSync(join(bundle, "f.txt"), "utf8")).toBe("oci\n");
    expect((require("node:fs").statSync(join(bundle, "f.txt")).mode & 0o777).toString(8)).toBe("600");
    expect(require("node:fs").readlinkSync(join(bundle, "link"))).toBe("f.txt");
  });
});

void symlinkSync;
