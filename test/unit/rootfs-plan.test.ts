// The container's mount plan, call by call, without root: init's way into the container (its
// namespaces, the image's root, then the runtime-spec plan of runtime/rootfs.ts on the config
// spec/oci-config.ts makes) run against the recording fake kernel
// (test/helpers/fake-syscalls.ts). Paths in the views are host paths; after pivot_root "/"
// shows as the new root's host path (R).
import { describe, expect, test } from "bun:test";
import { FakeSyscalls, type Call } from "../helpers/fake-syscalls.ts";
import { enterContainer, enterWorkdir } from "../../src/container/init.ts";
import { applyProcessSecurity } from "../../src/container/security.ts";
import { buildFilter } from "../../src/linux/seccomp.ts";
import { kernelLastCap } from "../../src/linux/capabilities.ts";
import type { InitSpec } from "../../src/spec/init-spec.ts";
import { RuntimeError } from "../../src/runtime/errors.ts";
import { mountRootfs, enterRootfs } from "../../src/runtime/rootfs.ts";
import type { Config } from "../../src/runtime/config.ts";
import {
  SyscallError, makedev, realSyscalls, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP,
  PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS,
} from "../../src/linux/libc.ts";

const R = "/ctr/merged";
const MOUNTISH = ["mount", "umount2", "pivot_root", "chdir"];

/** A host with one container's merged root (a busybox-like image) and its engine-side files. */
function world(): FakeSyscalls {
  return new FakeSyscalls()
    .file("/etc/shadow", "the host's")
    .dir(`${R}/bin`)
    .file(`${R}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n")
    .dir("/ctr/layers/l/1")
    .dir("/ctr/vfs/c1/bin")
    .dir("/vol/data")
    .file("/vol/data/hello", "hi")
    .file("/vol/cfg.json", "{}")
    .file("/ctr/hosts")
    .file("/ctr/hostname")
    .file("/proc/self/cgroup", "12:cpu,cpuacct:/minid/c1\n4:memory:/minid/c1\n1:name=systemd:/minid/c1\n0::/minid/c1\n")
    .onMount("proc", ["kcore", "keys", "acpi/", "sys/", "sysrq-trigger", "bus/"])
    .onMount("sysfs", ["firmware/", "kernel/"]);
}

/** The same host with the unified cgroup hierarchy only. */
const v2World = () => world().file("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids").file("/sys/fs/cgroup/minid/c1/cgroup.procs");

function spec(over: Partial<InitSpec> = {}): InitSpec {
  return {
    id: "c1",
    rootfs: {
      driver: "overlay", target: R, fstype: "overlay", source: "overlay",
      data: "lowerdir=l/1,upperdir=/ctr/diff,workdir=/ctr/work", cwd: "/ctr/layers",
    },
    readonlyRootfs: false,
    mounts: [],
    etcFiles: [],
    hostname: "c1",
    args: ["sh"],
    env: [],
    cwd: "/",
    tty: false,
    maskedPaths: [],
    readonlyPaths: [],
    ...over,
  };
}

/** The mounts every container gets, in order, between its root and its own mounts. */
const KERNEL_FS = (sysFlags = "ro,nosuid,nodev,noexec") => [
  `mount proc ${R}/proc proc nosuid,nodev,noexec`,
  `mount tmpfs ${R}/dev tmpfs nosuid,strictatime mode=755,size=65536k`,
  `mount devpts ${R}/dev/pts devpts nosuid,noexec newinstance,ptmxmode=0666,mode=0620,gid=5`,
  `mount shm ${R}/dev/shm tmpfs nosuid,nodev,noexec mode=1777,size=65536k`,
  `mount mqueue ${R}/dev/mqueue mqueue nosuid,nodev,noexec`,
  `mount sysfs ${R}/sys sysfs ${sysFlags}`,
];

const PIVOT = [`chdir ${R}`, `pivot_root ${R} ${R}`, `umount2 ${R} 2`, `chdir ${R}`];

/** The mount-ish views once inside the new root (after the pivot's detach and chdir). */
function insideMounts(f: FakeSyscalls): string[] {
  const v = f.views(...MOUNTISH);
  return v.slice(v.indexOf(`umount2 ${R} 2`) + 2);
}

/** The mount-ish views between the kernel filesystems and the pivot. */
function ownMounts(f: FakeSyscalls): string[] {
  const v = f.views(...MOUNTISH);
  const start = v.indexOf(`mount sysfs ${R}/sys sysfs ro,nosuid,nodev,noexec`);
  const end = v.indexOf(`chdir ${R}`);
  expect(start).toBeGreaterThan(0);
  return v.slice(start + 1, end);
}

describe("root filesystem", () => {
  test("overlay: private propagation, overlay from the layer directory, kernel filesystems, pivot", () => {
    const f = world();
    enterContainer(spec(), f);
    expect(f.views(...MOUNTISH)).toEqual([
      "mount - / - rec,private",
      "chdir /ctr/layers",
      `mount overlay ${R} overlay 0 lowerdir=l/1,upperdir=/ctr/diff,workdir=/ctr/work`,
      "chdir /",
      ...KERNEL_FS(),
      ...PIVOT,
    ]);
    expect(f.openFds()).toEqual([]);
  });

  test("/dev holds exactly the standard nodes, world read-writable, and the usual links", () => {
    const f = world();
    enterContainer(spec(), f);
    expect(f.views("mknodat", "chmod")).toEqual(
      [["null", "1:3"], ["zero", "1:5"], ["full", "1:7"], ["random", "1:8"], ["urandom", "1:9"], ["tty", "5:0"]].flatMap(
        ([n, d]) => [`mknodat ${R}/dev/${n} 20666 ${d}`, `chmod ${R}/dev/${n} 666`],
      ),
    );
    expect(f.views("symlinkat")).toEqual([
      `symlinkat ${R}/dev/fd -> /proc/self/fd`,
      `symlinkat ${R}/dev/stdin -> /proc/self/fd/0`,
      `symlinkat ${R}/dev/stdout -> /proc/self/fd/1`,
      `symlinkat ${R}/dev/stderr -> /proc/self/fd/2`,
      `symlinkat ${R}/dev/ptmx -> pts/ptmx`,
    ]);
    // Every node root:root, as Docker makes them, made in the fresh /dev before anything else
    // is mounted; no /dev/core, even where the host has a /proc/kcore (a bundle's gets one, as runc's).
    expect(f.views("fchownat")).toEqual(["null", "zero", "full", "random", "urandom", "tty"].map((n) => `fchownat ${R}/dev/${n} 0:0`));
    const v = f.views("mount", "mknodat");
    expect(v.indexOf(`mknodat ${R}/dev/null 20666 1:3`)).toBe(v.findIndex((x) => x.startsWith(`mount tmpfs ${R}/dev `)) + 1);
    const g = world().file("/proc/kcore");
    enterContainer(spec(), g);
    expect(g.views("symlinkat").filter((x) => x.includes("core"))).toEqual([]);
  });

  test("vfs: the container's directory is bound recursively, no layer directory", () => {
    const f = world();
    enterContainer(spec({ rootfs: { driver: "vfs", target: R, fstype: "", source: "/ctr/vfs/c1", data: "" } }), f);
    expect(f.views(...MOUNTISH).slice(0, 3)).toEqual([
      "mount - / - rec,private",
      `mount /ctr/vfs/c1 ${R} - bind,rec`,
      "chdir /",
    ]);
    // The bind shows the directory's tree at the target, where the kernel filesystems go.
    expect(f.tree.get(`${R}/bin`)?.kind).toBe("dir");
    expect(f.views(...MOUNTISH).slice(3)).toEqual([...KERNEL_FS(), ...PIVOT]);
  });

  test("volumes: rw is one recursive private bind; ro adds a read-only remount of the same path", () => {
    const f = world();
    enterContainer(spec({
      mounts: [
        { source: "/vol/data", destination: "/data", readOnly: false, type: "bind" },
        { source: "/vol/cfg.json", destination: "/etc/app/cfg.json", readOnly: true, type: "bind" },
      ],
    }), f);
    expect(ownMounts(f)).toEqual([
      `mount /vol/data ${R}/data - bind,rec`,
      `mount - ${R}/data - rec,private`,
      `mount /vol/cfg.json ${R}/etc/app/cfg.json - bind,rec`,
      `mount - ${R}/etc/app/cfg.json - ro,remount,bind`,
      `mount - ${R}/etc/app/cfg.json - rec,private`,
    ]);
    // The missing mount points were made inside the root: a directory, and a file's parents.
    expect(f.views("mkdirat").filter((v) => !v.includes("/proc") && !v.includes("/dev") && !v.includes("/sys"))).toEqual([
      `mkdirat ${R}/data 755`,
      `mkdirat ${R}/etc/app 755`,
    ]);
    expect(f.tree.get(`${R}/data/hello`)?.content).toBe("hi");
    expect(f.openFds()).toEqual([]);
  });

  test("the engine's /etc files are bound, and skipped when the image has no place for them", () => {
    const f = world().file(`${R}/etc`, "not a directory");
    f.tree.delete(`${R}/etc/passwd`);
    enterContainer(spec({
      etcFiles: [
        { source: "/ctr/hosts", destination: "/etc/hosts" },
        { source: "/ctr/missing", destination: "/etc/resolv.conf" },
      ],
    }), f);
    expect(ownMounts(f)).toEqual([]);

    const g = world();
    enterContainer(spec({ etcFiles: [{ source: "/ctr/hosts", destination: "/etc/hosts" }, { source: "/ctr/hostname", destination: "/etc/hostname" }] }), g);
    expect(ownMounts(g)).toEqual([
      `mount /ctr/hosts ${R}/etc/hosts - bind,rec`,
      `mount - ${R}/etc/hosts - rec,private`,
      `mount /ctr/hostname ${R}/etc/hostname - bind,rec`,
      `mount - ${R}/etc/hostname - rec,private`,
    ]);
  });

  test("a volume's destination is resolved inside the root, through the image's symlinks", () => {
    // /data -> /etc and /link -> /made/here (dangling) in the image: both must land under R.
    const f = world().symlink(`${R}/data`, "/etc").symlink(`${R}/link`, "/made/here");
    enterContainer(spec({
      mounts: [
        { source: "/vol/data", destination: "/data", readOnly: false, type: "bind" },
        { source: "/vol/data", destination: "/link/sub", readOnly: false, type: "bind" },
      ],
    }), f);
    expect(ownMounts(f)).toEqual([
      `mount /vol/data ${R}/etc - bind,rec`,
      `mount - ${R}/etc - rec,private`,
      `mount /vol/data ${R}/made/here/sub - bind,rec`,
      `mount - ${R}/made/here/sub - rec,private`,
    ]);
    expect(f.tree.has("/made")).toBe(false);
    expect([...f.tree.keys()].filter((k) => k.startsWith("/etc"))).toEqual(["/etc", "/etc/shadow"]);
  });

  test("a directory volume onto a file in the image is a clear error", () => {
    const f = world();
    expect(() => enterContainer(spec({ mounts: [{ source: "/vol/data", destination: "/etc/passwd", readOnly: false, type: "bind" }] }), f))
      .toThrow("cannot mount directory /vol/data onto /etc/passwd: not a directory in the container");
    expect(f.views("pivot_root")).toEqual([]);
    expect(f.openFds()).toEqual([]);
  });

  test("tmpfs mounts: Docker's noexec,nosuid,nodev and mode 1777 by default; flag words are flags, the rest data", () => {
    const f = world();
    enterContainer(spec({
      mounts: [
        { source: "", destination: "/scratch", readOnly: false, type: "tmpfs" },
        { source: "", destination: "/run/x", readOnly: false, type: "tmpfs", options: "size=1m,exec,mode=700" },
        { source: "", destination: "/ro", readOnly: true, type: "tmpfs" },
      ],
    }), f);
    expect(ownMounts(f)).toEqual([
      `mount tmpfs ${R}/scratch tmpfs nosuid,nodev,noexec mode=1777`,
      `mount tmpfs ${R}/run/x tmpfs nosuid,nodev size=1m,mode=700`,
      `mount tmpfs ${R}/ro tmpfs ro,nosuid,nodev,noexec mode=1777`,
    ]);
  });

  test("masked paths: files get /dev/null, directories an empty read-only tmpfs; missing ones are skipped", () => {
    const f = world();
    enterContainer(spec({
      maskedPaths: ["/proc/kcore", "/proc/acpi", "/proc/asound", "/sys/firmware"],
      readonlyPaths: ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq"],
    }), f);
    expect(ownMounts(f)).toEqual([]);
    expect(insideMounts(f)).toEqual([
      `mount ${R}/dev/null ${R}/proc/kcore - bind`,
      `mount tmpfs ${R}/proc/acpi tmpfs ro,nosuid,nodev,noexec size=0`,
      `mount tmpfs ${R}/sys/firmware tmpfs ro,nosuid,nodev,noexec size=0`,
      `mount ${R}/proc/sys ${R}/proc/sys - bind,rec`,
      `mount - ${R}/proc/sys - ro,nosuid,nodev,noexec,remount,bind,rec`,
      `mount ${R}/proc/sysrq-trigger ${R}/proc/sysrq-trigger - bind,rec`,
      `mount - ${R}/proc/sysrq-trigger - ro,nosuid,nodev,noexec,remount,bind,rec`,
    ]);
    expect(f.openFds()).toEqual([]);
  });

  test("masking refuses a /dev/null that is not the null device", () => {
    // --device /dev/zero:/dev/null would otherwise be bound over every masked file.
    const f = world();
    const zero = { host: "/dev/zero", container: "/dev/null", permissions: "rwm", type: "c" as const, major: 1, minor: 5, mode: 0o666, uid: 0, gid: 0 };
    expect(() => enterContainer(spec({ runOptions: { devices: [zero] }, maskedPaths: ["/proc/kcore"] }), f))
      .toThrow("refusing to mask paths: /dev/null in the container is not the null device");
    expect(f.views("mount").some((v) => v.includes("/proc/kcore"))).toBe(false);
    expect(makedev(1, 3)).toBe(259);
    // A volume over /dev/null is refused by the same check.
    const g = world();
    expect(() => enterContainer(spec({ mounts: [{ source: "/vol/cfg.json", destination: "/dev/null", readOnly: false, type: "bind" }], maskedPaths: ["/proc/kcore"] }), g))
      .toThrow("refusing to mask paths: /dev/null in the container is not the null device");
    expect(g.views("mount").some((v) => v.includes("/proc/kcore"))).toBe(false);
  });

  test("--read-only: the root is remounted read-only after the pivot, as the last step", () => {
    const f = world();
    enterContainer(spec({ readonlyRootfs: true }), f);
    const v = f.views(...MOUNTISH);
    expect(v.slice(-5)).toEqual([...PIVOT, `mount - ${R} - ro,remount,bind,rec`]);
    expect(f.calls.at(-1)!.args).toEqual([null, "/", null, expect.any(Number), null]);
  });

  test("cgroups v1: a tmpfs with one directory per hierarchy, read-only, joint ones linked", () => {
    const f = world().file("/sys/fs/cgroup/cpu/minid/c1/tasks");
    enterContainer(spec({ cgroupProcs: ["/sys/fs/cgroup/cpu/minid/c1/cgroup.procs"], cgroupVersion: "v1" }), f);
    expect(ownMounts(f)).toEqual([
      `mount tmpfs ${R}/sys/fs/cgroup tmpfs nosuid,nodev,noexec,relatime mode=755`,
      `mount cgroup ${R}/sys/fs/cgroup/cpu,cpuacct cgroup ro,nosuid,nodev,noexec,relatime cpu,cpuacct`,
      `mount cgroup ${R}/sys/fs/cgroup/memory cgroup ro,nosuid,nodev,noexec,relatime memory`,
      `mount cgroup ${R}/sys/fs/cgroup/systemd cgroup ro,nosuid,nodev,noexec,relatime none,name=systemd`,
      // The hybrid's unified hierarchy is not shown, as under Docker.
      `mount - ${R}/sys/fs/cgroup - ro,nosuid,nodev,noexec,remount,bind`,
    ]);
    expect(f.views("symlinkat").filter((v) => v.includes("cgroup"))).toEqual([
      `symlinkat ${R}/sys/fs/cgroup/cpu -> cpu,cpuacct`,
      `symlinkat ${R}/sys/fs/cgroup/cpuacct -> cpu,cpuacct`,
    ]);
  });

  test("cgroups v2: one cgroup2 mount", () => {
    const f = v2World();
    enterContainer(spec({ cgroupProcs: ["/sys/fs/cgroup/minid/c1/cgroup.procs"], cgroupVersion: "v2" }), f);
    expect(ownMounts(f)).toEqual([`mount cgroup2 ${R}/sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime`]);
  });

  test("--privileged: sysfs and cgroups writable, nothing masked or read-only", () => {
    const f = v2World();
    enterContainer(spec({ privileged: true, cgroupProcs: ["/sys/fs/cgroup/minid/c1/cgroup.procs"], cgroupVersion: "v2" }), f);
    expect(f.views(...MOUNTISH)).toEqual([
      "mount - / - rec,private",
      "chdir /ctr/layers",
      `mount overlay ${R} overlay 0 lowerdir=l/1,upperdir=/ctr/diff,workdir=/ctr/work`,
      "chdir /",
      ...KERNEL_FS("nosuid,nodev,noexec"),
      `mount cgroup2 ${R}/sys/fs/cgroup cgroup2 nosuid,nodev,noexec,relatime`,
      ...PIVOT,
    ]);
  });
});

describe("a bundle's root (minid-runtime create)", () => {
  test("slave while building, the root bound onto itself, the config's mounts; its propagation set once inside", () => {
    const f = world();
    const config = { root: { path: R }, mounts: [{ destination: "/proc", type: "proc", source: "proc" }], linux: { rootfsPropagation: "slave" } } as Config;
    enterRootfs(config, R, mountRootfs(config, R, "/bundle", f), false, f);
    expect(f.views(...MOUNTISH)).toEqual([
      "mount - / - rec,slave",
      `mount ${R} ${R} - bind,rec`,
      `mount proc ${R}/proc proc 0`,
      ...PIVOT,
      `mount - ${R} - slave`,
    ]);
    // The default devices, each replacing whatever the image had at its path.
    expect(f.views("unlinkat").length).toBe(6);
    expect(f.openFds()).toEqual([]);
  });

  test("shared: the host's peer groups are kept while building, only the mount holding the root is made private", () => {
    const f = world().file("/proc/self/mountinfo", `22 1 8:1 / / rw - ext4 /dev/sda rw\n30 22 8:2 / ${R.split("/").slice(0, 2).join("/")} rw shared:3 - ext4 /dev/sdb rw\n`);
    const config = { root: { path: R }, mounts: [{ destination: "/proc", type: "proc", source: "proc" }], linux: { rootfsPropagation: "shared" } } as Config;
    enterRootfs(config, R, mountRootfs(config, R, "/bundle", f), false, f);
    expect(f.views(...MOUNTISH)).toEqual([
      "mount - / - shared",
      `mount - ${R.split("/").slice(0, 2).join("/")} - private`,
      `mount ${R} ${R} - bind,rec`,
      `mount proc ${R}/proc proc 0`,
      ...PIVOT,
      `mount - ${R} - shared`,
    ]);
    // The default devices, each replacing whatever the image had at its path.
    expect(f.views("unlinkat").length).toBe(6);
    expect(f.openFds()).toEqual([]);
  });
});

describe("idmapped and recursive mount attributes", () => {
  test("an idmapped bind attaches the tree create made, then its remount; r* words go on the whole subtree", () => {
    const f = world().dir(`${R}/data`).dir(`${R}/ro`);
    const tree = f.openTree(-100, "/vol/data", 1);
    const config = {
      root: { path: R },
      mounts: [
        { destination: "/proc", type: "proc", source: "proc" },
        { destination: "/data", type: "bind", source: "/vol/data", options: ["rbind", "ro", "idmap"] },
        { destination: "/ro", type: "bind", source: "/vol/data", options: ["rbind", "rro", "rnosuid", "rsuid", "rnoatime", "rnodev"] },
      ],
      linux: { rootfsPropagation: "slave" },
    } as Config;
    enterRootfs(config, R, mountRootfs(config, R, "/bundle", f, { trees: new Map([[1, tree]]) }), false, f);
    expect(f.views(...MOUNTISH, "move_mount", "mount_setattr")).toEqual([
      "mount - / - rec,slave",
      `mount ${R} ${R} - bind,rec`,
      `mount proc ${R}/proc proc 0`,
      `move_mount tree:/vol/data ${R}/data`,
      `mount - ${R}/data - ro,remount,bind`,
      `mount /vol/data ${R}/ro - bind,rec`,
      // RDONLY|NODEV|NOATIME set; NOSUID cleared (rsuid came last); the whole atime field cleared
      `mount_setattr ${R}/ro recursive set=0x15 clr=0x72`,
      ...PIVOT,
      `mount - ${R} - slave`,
    ]);
    f.close(tree);
    expect(f.openFds()).toEqual([]);
  });
});

describe("a call failing half-way", () => {
  const v1World = () => world().file("/sys/fs/cgroup/cpu/minid/c1/tasks");
  const full = () => spec({
    readonlyRootfs: true,
    cgroupProcs: ["/sys/fs/cgroup/cpu/minid/c1/cgroup.procs"],
    cgroupVersion: "v1",
    // (etcFiles are left out: binding them is best effort by design, see the test above.)
    mounts: [
      { source: "/vol/data", destination: "/data", readOnly: true, type: "bind" },
      { source: "", destination: "/scratch", readOnly: false, type: "tmpfs" },
    ],
    maskedPaths: ["/proc/kcore", "/proc/acpi"],
    readonlyPaths: ["/proc/sys"],
  });

  test("the error names the call and the path in the container; nothing after it but closing fds", () => {
    const f = v1World().failWhen((c) => c.name === "mount" && c.view.includes("devpts"), "EPERM");
    let err: unknown;
    try {
      enterContainer(full(), f);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe(`error mounting "devpts" to rootfs at "/dev/pts": mount(devpts): EPERM`);
    const i = f.calls.findIndex((c) => c.failed);
    // /dev/pts's fd, the root's fd.
    expect(f.calls.slice(i + 1).map((c) => c.view)).toEqual([`close ${R}/dev/pts`, `close ${R}`]);
    expect(f.openFds()).toEqual([]);
  });

  test("a failing overlay mount stops before anything is mounted into the container", () => {
    const f = v1World().failWhen((c) => c.name === "mount" && c.args[2] === "overlay", "EINVAL");
    expect(() => enterContainer(full(), f)).toThrow(`mount(overlay) ${R}: EINVAL`);
    expect(f.views("mount")).toEqual(["mount - / - rec,private", `mount overlay ${R} overlay 0 lowerdir=l/1,upperdir=/ctr/diff,workdir=/ctr/work`]);
  });

  test("a failing read-only remount of a volume leaves the volume writable and stops", () => {
    // EPERM is retried once with the source's locked flags (mount(2)): both refused here.
    const f = v1World().failWhen((c) => c.name === "mount" && c.view === `mount - ${R}/data - ro,remount,bind`, "EPERM", true);
    expect(() => enterContainer(full(), f)).toThrow(`error mounting "/vol/data" to rootfs at "/data": mount: EPERM`);
    expect(f.views("mount").filter((v) => v.includes(`${R}/data `))).toEqual([
      `mount /vol/data ${R}/data - bind,rec`, `mount - ${R}/data - ro,remount,bind`, `mount - ${R}/data - ro,remount,bind`,
    ]);
    expect(f.views("pivot_root")).toEqual([]);
  });

  // Every call of a full plan in turn: it fails, the failure surfaces, no further step is
  // taken, and no fd stays open. The failures the plan tolerates by design: the readlink
  // probe for a dangling symlink (ENOENT means "a plain missing directory"), the optional
  // mqueue mount, the unlink of a device node that is not there yet, and the stat probes of
  // the host (is cgroup v2 unified? is there a /proc/kcore?).
  test("at every step", () => {
    const total = (() => {
      const f = v1World();
      enterContainer(full(), f);
      return f.calls.length;
    })();
    expect(total).toBeGreaterThan(100);
    let tolerated = 0;
    for (let n = 1; n <= total; n++) {
      const f = v1World().failAt(n, "EIO");
      let err: unknown;
      try {
        enterContainer(full(), f);
      } catch (e) {
        err = e;
      }
      const failed = f.calls[n - 1]!;
      const label = `call ${n}: ${failed.view}`;
      expect(f.openFds(), label).toEqual([]);
      const probe = failed.name === "stat" && /^stat (\/sys\/fs\/cgroup\/cgroup\.controllers|\/proc\/kcore)$/.test(failed.view);
      if (failed.name === "readlink" || failed.view.startsWith("mount mqueue") || failed.name === "close" || failed.name === "unlinkat" || probe) {
        // close(2) failing is ignored by the real binding too (it returns nothing).
        tolerated++;
        continue;
      }
      expect(err, label).toBeInstanceOf(Error);
      expect((err as Error).message, label).toMatch(/EIO/);
      const after = f.calls.slice(n).filter((c: Call) => c.name !== "close");
      expect(after.map((c) => c.view), label).toEqual([]);
    }
    expect(tolerated).toBeGreaterThan(0);
  });
});

describe("init's way in", () => {
  test("dumpable off, cgroups joined, namespaces entered, hostname, loopback, then the root", () => {
    const f = world().file("/sys/fs/cgroup/cpu/minid/c1/tasks").file("/sys/fs/cgroup/memory/minid/c1/tasks");
    enterContainer(spec({
      hostname: "web1",
      cgroupProcs: ["/sys/fs/cgroup/cpu/minid/c1/cgroup.procs", "/sys/fs/cgroup/memory/minid/c1/cgroup.procs"],
    }), f);
    const v = f.views();
    expect(v.slice(0, 7)).toEqual([
      `prctl ${PR_SET_DUMPABLE} 0`,
      `writeFile /sys/fs/cgroup/cpu/minid/c1/tasks "0"`,
      `writeFile /sys/fs/cgroup/memory/minid/c1/tasks "0"`,
      `unshare 0x${(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP).toString(16)}`,
      "sethostname web1",
      "interfaceUp lo",
      "mount - / - rec,private",
    ]);
    // The root is built and entered (its fd, opened again inside for the masks, closed last).
    expect(v.indexOf(`pivot_root ${R} ${R}`)).toBeGreaterThan(7);
    expect(v.at(-1)).toBe(`close ${R}`);
  });

  test("Docker's network sysctls are written after the network namespace exists, before the root; a missing one is skipped", () => {
    const f = world().file("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    enterContainer(spec({ sysctls: { "net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.no_such_knob": "1" } }), f);
    const v = f.views();
    const at = (p: string) => v.findIndex((x) => x.startsWith(p));
    expect(v[at("interfaceUp lo") + 1]).toBe(`writeFile /proc/sys/net/ipv4/ip_unprivileged_port_start "0"`);
    expect(at("writeFile /proc/sys/net/ipv4/ip_unprivileged_port_start")).toBeLessThan(at("mount - / - rec,private"));
    expect(at("unshare")).toBeLessThan(at("writeFile /proc/sys/net"));
  });

  test("with a terminal: its mount is taken before leaving the host's mount namespace, attached after the pivot", () => {
    const f = world();
    enterContainer(spec({ tty: true }), f);
    const v = f.views("open_tree", "unshare", "pivot_root", "openat", "move_mount", "close");
    const at = (p: string) => v.findIndex((x) => x.startsWith(p));
    expect(v[0]).toBe("open_tree /dev/pts/0");
    expect(at("unshare")).toBe(1);
    expect(v.slice(at("pivot_root") + 1)).toEqual([
      `openat ${R}`,
      `close ${R}`,
      `openat ${R}/dev/console`,
      `close ${R}/dev/console`,
      `move_mount tree:/dev/pts/0 ${R}/dev/console`,
      "close tree:/dev/pts/0",
    ]);
    expect(f.tree.get(`${R}/dev/console`)?.kind).toBe("file");
    expect(f.openFds()).toEqual([]);
  });

  test("cgroups v2: the whole process joins through cgroup.procs (v1 has init's thread join through tasks)", () => {
    const f = world().file("/sys/fs/cgroup/minid/c1/cgroup.procs");
    enterContainer(spec({ cgroupProcs: ["/sys/fs/cgroup/minid/c1/cgroup.procs"], cgroupVersion: "v2" }), f);
    expect(f.views("writeFile")).toEqual([`writeFile /sys/fs/cgroup/minid/c1/cgroup.procs "0"`]);
  });

  test("without cgroups there is no cgroup namespace", () => {
    const f = world();
    enterContainer(spec(), f);
    expect(f.views("unshare")).toEqual([`unshare 0x${(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET).toString(16)}`]);
  });

  test("a failing unshare stops init before any mount", () => {
    const f = world().failWhen((c) => c.name === "unshare", "EPERM");
    expect(() => enterContainer(spec(), f)).toThrow("unshare: EPERM");
    expect(f.views("mount", "sethostname")).toEqual([]);
  });

  test("a missing working directory is created inside the container, as Docker does", () => {
    const f = world();
    enterContainer(spec(), f);
    const before = f.calls.length;
    enterWorkdir("/srv/app", f);
    expect(f.calls.slice(before).filter((c) => c.name === "chdir" || c.name === "mkdirat").map((c) => c.view)).toEqual([
      `chdir ${R}/srv/app`,
      `mkdirat ${R}/srv 755`,
      `mkdirat ${R}/srv/app 755`,
      `chdir ${R}/srv/app`,
    ]);
    expect(f.cwd).toBe("/srv/app");
    expect(f.openFds()).toEqual([]);
  });

  test("a working directory that is a file is an error naming it", () => {
    const f = world();
    enterContainer(spec(), f);
    expect(() => enterWorkdir("/etc/passwd", f)).toThrow("cannot enter working directory /etc/passwd: chdir /etc/passwd: ENOTDIR");
  });
});

describe("init's confinement, right before exec", () => {
  const PR_SET_KEEPCAPS = 8;
  const PR_CAP_AMBIENT = 47;
  const CAPS = [0, 1, 5, 6, 7]; // chown, dac_override, kill, setgid, setuid
  const user = { uid: 1000, gid: 1000, additionalGids: [10], name: "app", home: "/home/app" };
  /** The calls with the bounding-set drops folded into one line. */
  const steps = (f: FakeSyscalls) => {
    const out: string[] = [];
    for (const c of f.calls) {
      const v = c.name === "prctl" && c.args[0] === PR_CAPBSET_DROP ? "drop bounding caps" : c.view;
      if (out.at(-1) !== v) out.push(v);
    }
    return out;
  };
  const mask = (caps: number[]) => caps.reduce((m, c) => m | (1n << BigInt(c)), 0n).toString(16);

  test("default: seccomp first (it needs CAP_SYS_ADMIN without no_new_privs), bounding set, user, then the sets", () => {
    const f = new FakeSyscalls();
    applyProcessSecurity(spec({ capabilities: CAPS, seccomp: true }), user, f);
    expect(steps(f)).toEqual([
      `seccomp ${buildFilter(CAPS).length} instructions`,
      "capget",
      "drop bounding caps",
      `prctl ${PR_SET_KEEPCAPS} 1`,
      "setgroups 10",
      "setgid 1000",
      "setuid 1000",
      `prctl ${PR_SET_KEEPCAPS} 0`,
      `prctl ${PR_CAP_AMBIENT} 4`,
      `capset e=${mask(CAPS)} p=${mask(CAPS)} i=0`,
    ]);
    // Every capability but the kept ones leaves the bounding set.
    const dropped = f.calls.filter((c) => c.name === "prctl" && c.args[0] === PR_CAPBSET_DROP).map((c) => c.args[1]);
    expect(dropped).toEqual([...Array(kernelLastCap() + 1).keys()].filter((c) => !CAPS.includes(c)));
  });

  test("no-new-privileges: the sets first, then no_new_privs, then seccomp (no CAP_SYS_ADMIN needed)", () => {
    const f = new FakeSyscalls();
    applyProcessSecurity(spec({ capabilities: CAPS, seccomp: true, noNewPrivileges: true }), undefined, f);
    expect(steps(f)).toEqual([
      "capget",
      "drop bounding caps",
      `prctl ${PR_CAP_AMBIENT} 4`,
      `capset e=${mask(CAPS)} p=${mask(CAPS)} i=0`,
      `prctl ${PR_SET_NO_NEW_PRIVS} 1`,
      `seccomp ${buildFilter(CAPS).length} instructions`,
    ]);
  });

  test("a capability minid lacks is an error, unless privileged (then it is skipped)", () => {
    const f = new FakeSyscalls();
    f.caps = { effective: 1n, permitted: 1n, inheritable: 0n }; // only CAP_CHOWN
    expect(() => applyProcessSecurity(spec({ capabilities: [0, 21] }), undefined, f)).toThrow("cannot grant CAP_SYS_ADMIN: minid itself does not hold it");
    expect(f.views("capset")).toEqual([]);
    const g = new FakeSyscalls();
    g.caps = { effective: 1n, permitted: 1n, inheritable: 0n };
    applyProcessSecurity(spec({ capabilities: [0, 21], privileged: true }), undefined, g);
    expect(g.views("capset")).toEqual(["capset e=1 p=1 i=0"]);
  });

  test("a failing seccomp load stops before any capability is touched", () => {
    const f = new FakeSyscalls().failWhen((c) => c.name === "seccompFilter", "EINVAL");
    expect(() => applyProcessSecurity(spec({ capabilities: CAPS, seccomp: true }), user, f)).toThrow("prctl: EINVAL");
    expect(f.calls.map((c) => c.name)).toEqual(["seccompFilter"]);
  });
});

describe("realSyscalls, the production side of the seam", () => {
  test("stat reports kinds and device numbers as the fake does; errors carry the code", () => {
    expect(realSyscalls.stat("/dev/null")).toEqual({ kind: "char", rdev: makedev(1, 3) });
    expect(realSyscalls.stat("/").kind).toBe("dir");
    expect(realSyscalls.stat("/proc/self/exe").kind).toBe("file"); // followed, as stat(2) does
    expect(realSyscalls.readlink("/proc/self/fd/0").length).toBeGreaterThan(0);
    expect(() => realSyscalls.stat("/nonexistent/minid")).toThrow(expect.objectContaining({ code: "ENOENT" }));
    expect(() => realSyscalls.openat2(-100, "nonexistent/minid", 0, 0)).toThrow("openat2 nonexistent/minid: ENOENT");
  });
});
