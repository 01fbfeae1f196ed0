// minid build against docker build: the same Dockerfiles and contexts through both engines
// (Debian's docker.io daemon, private to this file, its classic builder, which works offline
// on an image it already has), then the resulting file trees (paths, types, modes, owners,
// link targets, contents) and configs compared. Docker is the oracle for COPY/ADD directory
// semantics, ownership and metadata; a difference is a bug in minid.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, TestRoot, ensureBuilt } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { DOCKERD, startDockerd, type Dockerd } from "../helpers/dockerd.ts";
import { extract, runtimeOnly, sh, treeOf } from "../helpers/images.ts";

const it = requires("root", DOCKERD, "tar");
let d: Dockerd | undefined;
let r: TestRoot;
let work: string;

beforeAll(async () => {
  ensureBuilt();
  r = new TestRoot("bdock");
  work = mkdtempSync(join(tmpdir(), "minid-bdock-"));
});
afterAll(async () => {
  await d?.stop();
  r?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function daemon(): Promise<Dockerd> {
  if (!d) {
    d = await startDockerd();
    await d.loadMinidImage(BIN, r.dir);
  }
  return d;
}

function context(name: string, files: Record<string, string | { link: string } | { mode: number; text: string }>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    if (typeof c === "string") writeFileSync(join(dir, p), c);
    else if ("link" in c) symlinkSync(c.link, join(dir, p));
    else {
      writeFileSync(join(dir, p), c.text);
      chmodSync(join(dir, p), c.mode);
    }
  }
  return dir;
}

/** Everything but what each engine's runtime adds to a container it did not build. */
// (/etc/mtab is a link Docker's init layer puts in every container, not part of its image.)
const skip = (rel: string) => runtimeOnly(rel) || rel === ".dockerenv" || rel === "etc/mtab" || /^(proc|sys|dev)$/.test(rel);

const CONFIG_KEYS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal"] as const;

function pick(config: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) {
    let v = config[k];
    // Docker writes null and minid may omit: both mean "not set".
    if (v === null || v === undefined || v === "" || (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0)) v = undefined;
    out[k] = v;
  }
  return out;
}

/** Build `dir` with both engines; return both trees and configs. */
async function both(name: string, dir: string) {
  const dk = await daemon();
  const tag = `cmp-${name}:1`;
  const mine = r.run(["build", "-q", "-t", tag, dir]);
  if (mine.code !== 0) throw new Error(`minid build: ${mine.stderr}`);
  const theirs = await dk.docker(["build", "-q", "-t", tag, dir], { env: { DOCKER_BUILDKIT: "0" } });
  if (theirs.code !== 0) throw new Error(`docker build: ${theirs.stderr}`);

  const mtar = join(work, `${name}-minid.tar`);
  const dtar = join(work, `${name}-docker.tar`);
  const cname = `x-${name}`;
  // Created, never started, in both engines: what the image holds, no mountpoint a start makes.
  const mr = r.run(["create", "--name", cname, "--entrypoint", "", "-u", "0", tag, "true"]);
  if (mr.code !== 0) throw new Error(`minid create: ${mr.stderr}`);
  const me = r.run(["export", "-o", mtar, cname]);
  if (me.code !== 0) throw new Error(`minid export: ${me.stderr}`);
  r.run(["rm", "-f", cname]);
  const dc = await dk.docker(["create", "--name", cname, "--entrypoint", "", "-u", "0", tag, "true"]);
  if (dc.code !== 0) throw new Error(`docker create: ${dc.stderr}`);
  const de = await dk.docker(["export", "-o", dtar, cname]);
  if (de.code !== 0) throw new Error(`docker export: ${de.stderr}`);
  await dk.docker(["rm", "-f", cname]);

  const mConf = JSON.parse(r.run(["image", "inspect", tag]).stdout)[0].Config;
  const dConf = JSON.parse((await dk.docker(["image", "inspect", tag])).stdout)[0].Config;
  const mHist = JSON.parse(r.run(["image", "inspect", tag]).stdout)[0].RootFS.Layers.length;
  const dHist = JSON.parse((await dk.docker(["image", "inspect", tag])).stdout)[0].RootFS.Layers.length;
  const mt = treeOf(extract(work, mtar, `${name}-m`), skip);
  const dt = treeOf(extract(work, dtar, `${name}-d`), skip);
  return { mt, dt, mConf: pick(mConf), dConf: pick(dConf), mHist, dHist };
}

/** The entries that differ, as "path: minid | docker" lines (empty when the trees agree). */
function differences(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k);
    const y = b.get(k);
    // Directories' own modes and owners are compared too; only their sizes never are.
    if (x !== y) out.push(`${k}: ${x ?? "(absent)"} | ${y ?? "(absent)"}`);
  }
  return out.sort();
}

describe("build compared with docker build", () => {
  it("COPY and ADD: files, directories, globs, symlinks, --chown, tars, WORKDIR, USER, multi-stage", async () => {
    const dir = context("copy", {
      "a.txt": "a\n",
      "b.txt": "b\n",
      "exe.sh": { mode: 0o755, text: "#!/bin/sh\necho hi\n" },
      "secret.txt": { mode: 0o600, text: "s\n" },
      "dir/one": "1\n",
      "dir/sub/two": "2\n",
      "dir/link": { link: "one" },
      "dir/abs": { link: "/etc/passwd" },
      "skip.me": "x\n",
      "keep/yes": "y\n",
      "keep/no.log": "n\n",
      ".dockerignore": "skip.me\nkeep/*.log\n",
    });
    sh(`mkdir -p '${dir}/tarsrc/t/u' && echo t > '${dir}/tarsrc/t/u/f' && ln -s f '${dir}/tarsrc/t/u/l' && ` +
      `tar -C '${dir}/tarsrc' --owner=7 --group=8 -cf '${dir}/plain.tar' t && tar -C '${dir}/tarsrc' -czf '${dir}/gz.tar.gz' t && rm -r '${dir}/tarsrc'`);
    writeFileSync(join(dir, "Dockerfile"), [
      "FROM busybox AS base",
      "RUN mkdir -p /made/x && echo base > /made/x/f && echo app:x:1234:1234::/home/app:/bin/sh >> /etc/passwd",
      "FROM busybox",
      "ENV DEST=/dst",
      "COPY a.txt $DEST/",
      "COPY a.txt /renamed.txt",
      "COPY *.txt /globbed/",
      "COPY dir /copied-dir-contents",
      "COPY dir /existing/dir/",
      "COPY dir/ /trailing/",
      "COPY exe.sh secret.txt /modes/",
      "COPY --chown=1234:5678 dir /owned",
      "COPY --chown=1:1 a.txt /owned-file",
      "COPY keep /keep",
      "COPY . /whole",
      "ADD plain.tar /tars/plain/",
      "ADD gz.tar.gz /tars/gz",
      "ADD a.txt /added.txt",
      "COPY --from=base /made /from-stage",
      "COPY --from=base /etc/passwd /from-stage-passwd",
      "WORKDIR /w/deep",
      "RUN touch here && mkdir -p /var/empty-made",
      "USER 1234:5678",
      "WORKDIR /as-user",
      "USER root",
      "RUN rm /globbed/b.txt && rm -r /whole/dir/sub",
      'LABEL a=1 b="two words"',
      "EXPOSE 80 53/udp",
      "VOLUME /vol",
      "STOPSIGNAL SIGTERM",
      'ENTRYPOINT ["/bin/sh", "-c"]',
      'CMD ["echo hi"]',
    ].join("\n") + "\n");
    const { mt, dt, mConf, dConf, mHist, dHist } = await both("copy", dir);
    // The one known difference: BuildKit (Docker 23+'s builder) creates a WORKDIR with the
    // current USER as owner; this daemon's classic builder makes it root's. minid follows
    // BuildKit, what today's `docker build` does.
    expect(differences(mt, dt)).toEqual(["as-user: dir 755 1234:5678 | dir 755 0:0"]);
    expect(mConf).toEqual(dConf);
    expect(mHist).toBe(dHist);
  }, 240_000);

  it("ENV, ARG and substitution; RUN in shell and exec form; SHELL; ONBUILD kept", async () => {
    const dir = context("env", {});
    writeFileSync(join(dir, "Dockerfile"), [
      "ARG V=1.0",
      "FROM busybox",
      "ARG V",
      "ARG W=w-default",
      "ENV A=a B=\"b c\" C=${V}-x D=${W:-none} E=${UNSET:-dflt} F=${A:+alt}",
      "ENV G $A/$B",
      "RUN echo \"$A|$B|$C|$D|$E|$F|$G|$V|$W\" > /shell-form",
      'RUN ["/bin/sh", "-c", "echo exec-$A > /exec-form"]',
      'SHELL ["/bin/sh", "-ec"]',
      "RUN echo shell-changed > /shell-changed",
      "ONBUILD RUN echo child",
      "WORKDIR $A/$W",
    ].join("\n") + "\n");
    const { mt, dt, mConf, dConf } = await both("env", dir);
    expect(differences(mt, dt)).toEqual([]);
    expect(mConf).toEqual(dConf);
  }, 240_000);
});
