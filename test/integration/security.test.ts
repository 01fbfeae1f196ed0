// The hardened default, checked from inside the container with busybox (in the spirit of the
// OCI runtime-tools validation checks): a checker script prints facts, a table says what each
// must be, for the default and for each opt-out.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt, hostMountsMentioning, cgroupDirsOf } from "../helpers/minid.ts";
import { have, requires } from "../helpers/requires.ts";
import { MASKED_PATHS, READONLY_PATHS } from "../../src/container/options.ts";
import { EPERM, PROBED, buildProbe, parseProbe } from "../helpers/syscall-probe.ts";

const it = requires("root");
let r: TestRoot;

beforeAll(() => {
  if (!have("root")) return;
  ensureBuilt();
  r = new TestRoot("security");
});
afterAll(() => r?.cleanup());

// Each line: key=value. Failures print the error text so the table can say what it must be.
const CHECKER = String.raw`
st() { grep "^$1:" /proc/self/status | cut -f2; }
echo "capbnd=$(st CapBnd)"; echo "capprm=$(st CapPrm)"; echo "capeff=$(st CapEff)"; echo "capamb=$(st CapAmb)"; echo "capinh=$(st CapInh)"
echo "nnp=$(st NoNewPrivs)"
echo "seccomp=$(st Seccomp)"
echo "userns=$(unshare -U true 2>/dev/null && echo created || echo denied)"
echo "keys=$(cat /proc/keys 2>&1 | wc -c)"
echo "interrupts=$(cat /proc/interrupts 2>&1 | wc -c)"
echo "masks=$(for p in ${MASKED_PATHS.join(" ")}; do awk -v p="$p" '$5 == p' /proc/self/mountinfo; done | wc -l)"
echo "timer_list=$(cat /proc/timer_list 2>&1 | wc -c)"
echo "firmware=$(ls /sys/firmware 2>&1 | wc -l)"
echo "procsys=$( (echo x > /proc/sys/kernel/domainname) 2>&1 | grep -o 'Read-only' || echo writable)"
for p in ${READONLY_PATHS.join(" ")}; do echo "ro_$(basename $p | tr - _)=$(awk -v p="$p" '$5 == p {print $6}' /proc/self/mountinfo | tail -1 | cut -d, -f1)"; done
echo "dev=$(ls /dev | sort | tr '\n' ',')"
echo "fds=$(ls /proc/self/fd | tr '\n' ',')"
echo "mknod=$(mknod /tmp/blk b 7 0 2>&1 && echo created)"
echo "blkread=$(head -c1 /tmp/blk >/dev/null 2>&1 && echo readable || echo denied)"
echo "mount=$(mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null && echo mounted || echo denied)"
echo "sethostname=$(hostname changed 2>/dev/null && echo changed || echo denied)"
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G | tr ' ' ',')"
echo "rootwrite=$(touch /rootfile 2>/dev/null && echo ok || echo denied)"
`;

function check(...flags: string[]): Record<string, string> {
  const res = r.run(["run", "--rm", ...flags, "busybox", "sh", "-c", CHECKER]);
  expect(res.code).toBe(0);
  const out: Record<string, string> = {};
  for (const line of res.stdout.trim().split("\n")) {
    for (const m of line.matchAll(/(\w+)=(\S*)/g)) out[m[1]!] = m[2]!;
  }
  return out;
}

const DOCKER_DEFAULT_CAPS = "00000000a80425fb";
// Docker's /dev (no /dev/core).
const DEV = "fd,full,mqueue,null,ptmx,pts,random,shm,stderr,stdin,stdout,tty,urandom,zero,";

describe("default confinement", () => {
  it("matches the expected table", () => {
    const got = check();
    const expected: Record<string, string> = {
      capbnd: DOCKER_DEFAULT_CAPS,
      capprm: DOCKER_DEFAULT_CAPS,
      capeff: DOCKER_DEFAULT_CAPS,
      capamb: "0000000000000000",
      capinh: "0000000000000000",
      // Off, as Docker's default: setuid programs work (runtime-defaults.test.ts runs one).
      nnp: "0",
      seccomp: "2",
      userns: "denied",
      keys: "0",
      interrupts: "0",
      // One mount per masked path this kernel has (masked-paths.test.ts checks each).
      masks: String(MASKED_PATHS.filter((p) => existsSync(p)).length),
      timer_list: "0",
      firmware: "0",
      procsys: "Read-only",
      // Every read-only path this kernel has (this one lacks /proc/sysrq-trigger).
      ...Object.fromEntries(READONLY_PATHS.filter((p) => existsSync(p)).map((p) => [`ro_${p.split("/").pop()!.replace(/-/g, "_")}`, "ro"])),
      dev: DEV,
      // 0-2 and ls's own directory fd: nothing of the host's.
      fds: "0,1,2,3,",
      // CAP_MKNOD is a default capability (as in Docker); the devices cgroup denies using it.
      mknod: "created",
      blkread: "denied",
      mount: "denied",
      sethostname: "denied",
      uid: "0",
      // root with its groups from the image's /etc/group (wheel), as under Docker
      groups: "0,10",
      rootwrite: "ok",
    };
    for (const [k, v] of Object.entries(expected)) expect(`${k}=${got[k]}`).toBe(`${k}=${v}`);
  });
});

describe("opt-outs and options", () => {
  it("--cap-drop and --cap-add", () => {
    expect(check("--cap-drop", "ALL").capeff).toBe("0000000000000000");
    expect(check("--cap-drop", "ALL").capbnd).toBe("0000000000000000");
    // CHOWN is bit 0
    expect(check("--cap-drop", "chown").capeff).toBe("00000000a80425fa");
    const sysadmin = check("--cap-add", "SYS_ADMIN");
    expect(sysadmin.capeff).toBe("00000000a82425fb");
    expect(sysadmin.sethostname).toBe("changed");
    expect(sysadmin.mount).toBe("mounted");
  });
  it("--privileged: every capability minid holds, nothing masked", () => {
    const p = check("--privileged");
    const ownCaps = /CapEff:\s*(\w+)/.exec(readFileSync("/proc/self/status", "utf8"))![1];
    expect(p.capeff).toBe(ownCaps);
    expect(p.masks).toBe("0");
    expect(Number(p.interrupts)).toBeGreaterThan(0);
    expect(p.procsys).toBe("writable");
    expect(p.mount).toBe("mounted");
  });
  it("--security-opt seccomp=unconfined, and --privileged, drop the filter", () => {
    const u = check("--security-opt", "seccomp=unconfined");
    expect(u.seccomp).toBe("0");
    expect(u.userns).toBe("created");
    expect(check("--privileged").seccomp).toBe("0");
    // Without no_new_privs the filter still loads (while init holds CAP_SYS_ADMIN).
    expect(check("--security-opt", "no-new-privileges=false").seccomp).toBe("2");
  });
  it("--security-opt no-new-privileges=false", () => {
    expect(check("--security-opt", "no-new-privileges=false").nnp).toBe("0");
    expect(check("--security-opt", "no-new-privileges").nnp).toBe("1");
    expect(check("--security-opt", "no-new-privileges=true").nnp).toBe("1");
    // With no_new_privs the filter is loaded after it, without CAP_SYS_ADMIN.
    expect(check("--security-opt", "no-new-privileges").seccomp).toBe("2");
  });
  it("--user resolves names, numbers and groups from the image", () => {
    const nobody = check("-u", "nobody");
    expect(nobody.uid).toBe("65534");
    expect(nobody.gid).toBe("65534");
    expect(nobody.capeff).toBe("0000000000000000");
    expect(nobody.rootwrite).toBe("denied");
    const num = check("--user", "1234:50");
    expect(num.uid).toBe("1234");
    expect(num.gid).toBe("50");
    const named = check("-u", "operator:staff");
    expect(named.uid).toBe("37");
    expect(named.gid).toBe("50");
    const home = r.run(["run", "--rm", "-u", "nobody", "busybox", "sh", "-c", "echo $HOME"]);
    expect(home.stdout).toBe("/home\n");
  });
  it("an unknown user is one clear line and exit 125", () => {
    const res = r.run(["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain("nosuchuser");
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
  });
  it("--read-only root with a writable --tmpfs", () => {
    const res = r.run(["run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /x 2>&1; touch /scratch/y && echo tmpfs-ok; grep ' / ' /proc/self/mountinfo"]);
    expect(res.stdout + res.stderr).toContain("Read-only file system");
    expect(res.stdout).toContain("tmpfs-ok");
    expect(res.stdout).toMatch(/ \/ ro,/);
  });
  it("bad capability and security-opt values", () => {
    const cap = r.run(["run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true"]);
    expect(cap.code).toBe(125);
    expect(cap.stderr).toContain("NOT_A_CAP");
    const so = r.run(["run", "--rm", "--security-opt", "apparmor=x", "busybox", "true"]);
    expect(so.code).toBe(125);
    expect(so.stderr).toContain("security-opt");
  });
});

describe("seccomp, probed with raw system calls", () => {
  requires("root", "gcc")("bpf, keyctl and the rest of the probed deny list are refused; unconfined they reach the kernel", () => {
    const probe = buildProbe(join(r.dir, "probe"));
    const nrs = Object.values(PROBED).map(String);
    const run = (...flags: string[]) => {
      const res = r.run(["run", "--rm", ...flags, "-v", `${probe}:/probe:ro`, "busybox", "/probe", ...nrs]);
      expect(res.code).toBe(0);
      return parseProbe(res.stdout);
    };
    const confined = run();
    const unconfined = run("--security-opt", "seccomp=unconfined");
    for (const [name, nr] of Object.entries(PROBED)) {
      expect(`${name}=${confined[nr]}`).toBe(`${name}=${EPERM}`);
      // Same capabilities without the filter: the kernel answers otherwise, so the EPERM above
      // is the filter's.
      expect(`${name}=${unconfined[nr] === EPERM ? "EPERM" : "other"}`).toBe(`${name}=other`);
    }
  });
});

describe("hostile images", () => {
  function importTree(name: string, mutate: (dir: string) => void): void {
    const dir = join(r.dir, `tree-${name}`);
    mkdirSync(dir);
    expect(Bun.spawnSync(["tar", "-xzf", join(import.meta.dir, "..", "..", "images", "build", "busybox.tar.gz"), "-C", dir]).exitCode).toBe(0);
    mutate(dir);
    const tar = join(r.dir, `${name}.tar`);
    expect(Bun.spawnSync(["tar", "--numeric-owner", "-cf", tar, "-C", dir, "."]).exitCode).toBe(0);
    rmSync(dir, { recursive: true, force: true });
    expect(r.run(["import", "-c", 'CMD ["sh"]', tar, `${name}:1`]).code).toBe(0);
  }

  it("a symlinked mask target (/proc -> elsewhere) never masks or mounts on the host", () => {
    const hostTarget = join(r.dir, "proc-escape");
    importTree("symproc", (dir) => {
      rmSync(join(dir, "proc"), { recursive: true });
      Bun.spawnSync(["ln", "-s", hostTarget, join(dir, "proc")]);
    });
    const res = r.run(["run", "--rm", "symproc:1", "sh", "-c", "cat /proc/keys | wc -c; cat /proc/1/cmdline | tr '\\0' ' '"]);
    expect(res.code).toBe(0);
    expect(res.stdout.split("\n")[0]).toBe("0");
    expect(existsSync(hostTarget)).toBe(false);
    expect(hostMountsMentioning(hostTarget)).toEqual([]);
  });

  it("a symlinked /dev/null stand-in is never used as the mask source", () => {
    // /dev is a fresh tmpfs built by minid, so an image's /dev content cannot interfere.
    importTree("devnull", (dir) => {
      mkdirSync(join(dir, "dev"), { recursive: true });
      writeFileSync(join(dir, "dev", "null"), "not a device");
    });
    const res = r.run(["run", "--rm", "devnull:1", "sh", "-c", "stat -c '%F %t,%T' /dev/null; cat /proc/keys | wc -c"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe("character special file 1,3\n0\n");
  });
});

describe("cleanup", () => {
  it("rm removes every cgroup of a stopped and of a running (rm -f) container, in every hierarchy", () => {
    // Not --rm: these containers are removed by rm itself, which is what is checked.
    const exited = r.run(["run", "-d", "--name", "cl-exited", "busybox", "true"]).stdout.trim();
    const running = r.run(["run", "-d", "--name", "cl-running", "--cap-add", "SYS_ADMIN", "busybox", "sleep", "600"]).stdout.trim();
    const priv = r.run(["run", "-d", "--name", "cl-priv", "--privileged", "busybox", "sleep", "600"]).stdout.trim();
    for (const id of [exited, running, priv]) expect(id).toMatch(/^[0-9a-f]{64}$/);
    // While running, each has a directory in every hierarchy (so the checks below can fail).
    const hierarchies = cgroupDirsOf(running).length;
    expect(hierarchies).toBeGreaterThan(1);
    expect(cgroupDirsOf(priv).length).toBe(hierarchies);
    expect(r.run(["wait", "cl-exited"]).stdout.trim()).toBe("0");
    expect(r.run(["rm", "cl-exited"]).code).toBe(0);
    expect(r.run(["rm", "-f", "cl-running", "cl-priv"]).code).toBe(0);
    for (const id of [exited, running, priv]) expect(`${id}: ${cgroupDirsOf(id).join(" ")}`).toBe(`${id}: `);
    expect(r.containerIds()).not.toContain(running);
    expect(hostMountsMentioning(running)).toEqual([]);
  });
});
