// run's service flags, checked from inside the container or on disk: labels, --ulimit,
// --device (+ the v1 devices cgroup), --device-cgroup-rule, --sysctl, --shm-size,
// --ipc/--pid/--uts, --cidfile, -a, --log-driver/--log-opt, --oom-score-adj, --pull, --platform.
import { describe, expect } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { it, useLifecycleRoot } from "../helpers/lifecycle.ts";
import { cgroupDirsOf } from "../helpers/minid.ts";

const { r, state, idOf } = useLifecycleRoot("runopts");
const run = (...args: string[]) => r.run(["run", "--rm", ...args]);
/** A bad flag: exit 125, one line saying what, nothing created. */
function refused(args: string[], msg: string, code = 125) {
  const before = r.run(["ps", "-aq"]).stdout;
  const res = r.run(["run", ...args]);
  expect(res.stderr).toContain(msg);
  expect(res.stderr.trim().split("\n")).toHaveLength(1);
  expect(res.code).toBe(code);
  expect(r.run(["ps", "-aq"]).stdout).toBe(before);
}

describe("labels", () => {
  it("-l, --label-file and the image's labels, in inspect and filters", () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-labels-"));
    try {
      writeFileSync(join(dir, "labels"), "# a comment\n\nteam=core\nfrom.file=yes\n");
      // An image with a label of its own (commit -c LABEL).
      r.run(["run", "--name", "lblsrc", "busybox", "true"]);
      expect(r.run(["commit", "-c", "LABEL tier=db", "-c", "LABEL team=image", "lblsrc", "lbl:1"]).code).toBe(0);
      r.run(["run", "-d", "--name", "lbl", "-l", "app=web", "--label", "empty", "--label-file", join(dir, "labels"), "lbl:1", "sleep", "100"]);
      expect(state("lbl").Config.Labels).toEqual({ tier: "db", team: "core", "from.file": "yes", app: "web", empty: "" });
      const names = (f: string[]) => r.run(["ps", "-a", ...f.flatMap((x) => ["-f", x]), "--format", "{{.Names}}"]).stdout.trim().split("\n").filter(Boolean);
      expect(names(["label=app=web"])).toEqual(["lbl"]);
      expect(names(["label=app=web", "label=tier"])).toEqual(["lbl"]);
      expect(names(["label=app=db"])).toEqual([]);
      expect(names(["label=empty"])).toEqual(["lbl"]);
      expect(r.run(["images", "-f", "label=tier=db", "--format", "{{.Repository}}:{{.Tag}}"]).stdout).toBe("lbl:1\n");
      expect(r.run(["images", "-f", "label=tier=web", "-q"]).stdout).toBe("");
      expect(r.run(["images", "-f", "bogus=1"]).code).toBe(1);
      refused(["-l", "=v", "busybox", "true"], "invalid label '=v': empty name");
      refused(["--label-file", join(dir, "nope"), "busybox", "true"], "no such file or directory");
    } finally {
      r.run(["rm", "-f", "lbl", "lblsrc"]);
      r.run(["rmi", "lbl:1"]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("limits and kernel settings", () => {
  it("--ulimit: the limits inside; above the hard limit is refused with a clear line", () => {
    const res = run("--ulimit", "nofile=100:200", "--ulimit", "nproc=50", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; grep 'Max open files' /proc/1/limits");
    expect(res.stdout.split("\n").slice(0, 3)).toEqual(["100", "200", "50"]);
    expect(res.stdout).toMatch(/Max open files\s+100\s+200/);
    // exec'd processes get them too (as with runc's exec).
    r.run(["run", "-d", "--name", "ul", "--ulimit", "nofile=123:456", "busybox", "sleep", "100"]);
    expect(r.run(["exec", "ul", "sh", "-c", "ulimit -n; ulimit -Hn"]).stdout).toBe("123\n456\n");
    r.run(["rm", "-f", "ul"]);
    const hard = Number(Bun.spawnSync(["sh", "-c", "ulimit -Hn"]).stdout.toString());
    const over = run("--ulimit", `nofile=${hard + 1}:${hard + 1}`, "busybox", "true");
    expect(over.code).toBe(125);
    expect(over.stderr).toContain("needs CAP_SYS_RESOURCE");
    refused(["--ulimit", "bogus=1", "busybox", "true"], "invalid ulimit type: bogus");
    refused(["--ulimit", "nofile=5:2", "busybox", "true"], "soft limit must be less than or equal to hard limit");
  });

  it("--sysctl: namespaced ones land in the container's namespaces only; others are refused", () => {
    const hostShmmax = readFileSync("/proc/sys/kernel/shmmax", "utf8");
    const res = run("--sysctl", "kernel.shmmax=123456789", "--sysctl", "net.ipv4.ip_local_port_range=40000 40100", "busybox", "sh", "-c", "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_local_port_range");
    expect(res.stdout.replace(/\s+/g, " ").trim()).toBe("123456789 40000 40100");
    expect(readFileSync("/proc/sys/kernel/shmmax", "utf8")).toBe(hostShmmax);
    // Never written anywhere (the name does not even exist): refused before anything runs.
    refused(["--sysctl", "vm.minid_nonexistent=1", "busybox", "true"], `sysctl "vm.minid_nonexistent" is not in a separate kernel namespace`);
    refused(["--ipc", "host", "--sysctl", "kernel.shmmax=1", "busybox", "true"], "not allowed in host IPC namespace");
  });

  it("--shm-size sizes /dev/shm; --oom-score-adj is the command's", () => {
    expect(run("--shm-size", "8m", "busybox", "sh", "-c", "df -k /dev/shm | tail -1").stdout).toMatch(/^shm\s+8192\s/);
    expect(run("busybox", "sh", "-c", "df -k /dev/shm | tail -1").stdout).toMatch(/^shm\s+65536\s/);
    expect(run("--oom-score-adj", "500", "busybox", "cat", "/proc/1/oom_score_adj").stdout).toBe("500\n");
    // 0 is the default, as in Docker; a negative size is refused.
    expect(run("--shm-size", "0", "busybox", "sh", "-c", "df -k /dev/shm | tail -1").stdout).toMatch(/^shm\s+65536\s/);
    refused(["--shm-size", "-1", "busybox", "true"], "invalid size");
    refused(["--oom-score-adj", "2000", "busybox", "true"], "range for oom score adj is [-1000, 1000]");
  });
});

describe("devices", () => {
  it("--device makes the node; the devices cgroup (v1) allows it with the permissions asked", () => {
    r.run(["run", "-d", "--name", "dev", "--device", "/dev/fuse:/dev/myfuse:r", "--device-cgroup-rule", "c 1:11 r", "busybox", "sleep", "100"]);
    try {
      expect(r.run(["exec", "dev", "ls", "-l", "/dev/myfuse"]).stdout).toMatch(/^crw-------\s+1 root\s+root\s+10,\s+229 /);
      // Read-only: opening it for writing is refused by the cgroup.
      expect(r.run(["exec", "dev", "sh", "-c", "exec 3>/dev/myfuse"]).stderr).toContain("Operation not permitted");
      const devicesDir = cgroupDirsOf(idOf("dev")).find((d) => d.includes("/devices/"));
      if (devicesDir) {
        const list = readFileSync(join(devicesDir, "devices.list"), "utf8");
        expect(list).toContain("c 10:229 r\n");
        expect(list).toContain("c 1:11 r\n");
      }
    } finally {
      r.run(["rm", "-f", "dev"]);
    }
    // Without --device, a node the container makes itself cannot be opened.
    expect(run("busybox", "sh", "-c", "mknod /dev/f c 10 229 && exec 3</dev/f").stderr).toContain("Operation not permitted");
    // 127: Docker's CLI answers any "no such file or directory" so.
    refused(["--device", "/dev/nonexistent-minid", "busybox", "true"], "no such file or directory", 127);
    refused(["--device-cgroup-rule", "x 1:2 r", "busybox", "true"], "invalid device cgroup format");
  });
});

describe("/dev and volumes under it", () => {
  it("a node asked under a directory bound from the host is made in the container's /dev, never in the host's directory; -v /dev:/dev runs", () => {
    const host = mkdtempSync(join(tmpdir(), "minid-devdir-"));
    try {
      writeFileSync(join(host, "from-host"), "");
      const res = run("-v", `${host}:/dev/snd`, "--device", "/dev/null:/dev/snd/null2", "busybox", "ls", "/dev/snd");
      expect(res.code).toBe(0);
      // The bind shadows the directory the node was made in, as it did under minid's own plan.
      expect(res.stdout).toBe("from-host\n");
      expect(readdirSync(host)).toEqual(["from-host"]);
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
    // The host's /dev, read-only: no node is made in it (runc skips them for a bound /dev too).
    const dev = run("-v", "/dev:/dev:ro", "busybox", "sh", "-c", "test -c /dev/null && echo ok");
    expect(`${dev.code} ${dev.stdout}${dev.stderr}`).toBe("0 ok\n");
  });
});

describe("namespaces shared with the host or another container", () => {
  it("--ipc host|container:, --pid host|container:, --uts host", () => {
    r.run(["run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "100"]);
    r.run(["run", "-d", "--name", "private", "busybox", "sleep", "100"]);
    try {
      // As Docker's: only a shareable IPC namespace can be joined.
      refused(["--ipc", "container:private", "busybox", "true"], "non-shareable IPC (hint: use IpcMode:shareable for the donor container)");
      expect(state("donor").HostConfig.IpcMode).toBe("shareable");
      const donorIpc = r.run(["exec", "donor", "readlink", "/proc/self/ns/ipc"]).stdout;
      expect(run("--ipc", "container:donor", "busybox", "readlink", "/proc/self/ns/ipc").stdout).toBe(donorIpc);
      // The donor's /dev/shm is shared both ways (POSIX shared memory lives there), as Docker's.
      r.run(["exec", "donor", "sh", "-c", "echo from-donor > /dev/shm/seg"]);
      expect(run("--ipc", "container:donor", "busybox", "sh", "-c", "cat /dev/shm/seg; echo from-joiner > /dev/shm/back").stdout).toBe("from-donor\n");
      expect(r.run(["exec", "donor", "cat", "/dev/shm/back"]).stdout).toBe("from-joiner\n");
      expect(run("busybox", "ls", "/dev/shm").stdout).toBe("");
      expect(run("busybox", "readlink", "/proc/self/ns/ipc").stdout).not.toBe(donorIpc);
      expect(run("--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc").stdout.trim()).toBe(readlinkSync("/proc/self/ns/ipc"));
      // The donor's sleep is PID 1 of the namespace we join.
      expect(run("--pid", "container:donor", "busybox", "cat", "/proc/1/cmdline").stdout).toBe("sleep\u0000100\u0000");
      expect(run("--pid", "host", "busybox", "readlink", "/proc/self/ns/pid").stdout.trim()).toBe(readlinkSync("/proc/self/ns/pid"));
      expect(run("--uts", "host", "busybox", "hostname").stdout.trim()).toBe(hostname());
      refused(["--uts", "host", "--hostname", "x", "busybox", "true"], "conflicting options: hostname and the UTS mode");
      refused(["--pid", "container:nosuch", "busybox", "true"], "No such container: nosuch");
      refused(["--ipc", "bogus", "busybox", "true"], "invalid IPC mode: bogus");
      r.run(["stop", "-t", "0", "donor"]);
      const res = r.run(["run", "--rm", "--pid", "container:donor", "busybox", "true"]);
      expect(res.code).toBe(125);
      expect(res.stderr).toContain("cannot join PID of a non running container");
    } finally {
      r.run(["rm", "-f", "donor", "private"]);
    }
  });
});

describe("run's own flags", () => {
  it("--cidfile gets the id; an existing file is refused before anything is created", () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-cid-"));
    try {
      const f = join(dir, "cid");
      const id = r.run(["run", "-d", "--cidfile", f, "busybox", "true"]).stdout.trim();
      expect(readFileSync(f, "utf8")).toBe(id);
      refused(["--cidfile", f, "busybox", "true"], "Container ID file found");
      // A run that fails leaves no file behind.
      const g = join(dir, "cid2");
      expect(r.run(["run", "--cidfile", g, "nosuch-image-minid:1", "true"]).code).toBe(125);
      expect(existsSync(g)).toBe(false);
      r.run(["rm", "-f", id]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("-a/--attach picks the streams", () => {
    const cmd = ["busybox", "sh", "-c", "echo out; echo err >&2"];
    const o = run("-a", "stdout", ...cmd);
    expect([o.stdout, o.stderr]).toEqual(["out\n", ""]);
    const e = run("-a", "STDERR", ...cmd);
    expect([e.stdout, e.stderr]).toEqual(["", "err\n"]);
    // Docker's CLI exits 1 for this one.
    refused(["-d", "-a", "stdout", ...cmd], "Conflicting options: -a and -d", 1);
    refused(["-a", "stdfoo", ...cmd], "valid streams are STDIN, STDOUT and STDERR");
  });

  it("--log-driver none keeps no log (logs says so); --log-opt max-size/max-file rotate", async () => {
    r.run(["run", "--name", "nolog", "--log-driver", "none", "busybox", "echo", "hi"]);
    const l = r.run(["logs", "nolog"]);
    expect(l.code).toBe(1);
    expect(l.stderr).toContain("configured logging driver does not support reading");
    expect(readdirSync(join(r.dir, "containers", idOf("nolog"))).some((f) => f.endsWith("-json.log"))).toBe(false);
    r.run(["run", "--name", "rot", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox", "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done"]);
    const dir = join(r.dir, "containers", idOf("rot"));
    const logs = readdirSync(dir).filter((f) => f.includes("-json.log")).sort();
    expect(logs.length).toBe(3);
    for (const f of logs) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(2048);
    const out = r.run(["logs", "rot"]).stdout.trim().split("\n");
    expect(out.at(-1)).toBe("line-199");
    // What is kept is the end, in order.
    const first = Number(out[0]!.slice(5));
    expect(out).toEqual(Array.from({ length: 200 - first }, (_, i) => `line-${first + i}`));
    expect(state("rot").HostConfig.LogConfig).toEqual({ Type: "json-file", Config: { "max-size": "2k", "max-file": "3" } });
    r.run(["run", "--name", "loc", "--log-driver", "local", "busybox", "echo", "local-line"]);
    expect(r.run(["logs", "loc"]).stdout).toBe("local-line\n");
    expect(state("loc").HostConfig.LogConfig.Type).toBe("local");
    r.run(["rm", "-f", "nolog", "rot", "loc"]);
    refused(["--log-driver", "syslog", "busybox", "true"], "no log driver named 'syslog'");
    refused(["--log-opt", "max-file=2", "busybox", "true"], "max-file cannot be set when max-size is not set");
  });

  it("--pull never|missing, --platform", () => {
    refused(["--pull", "never", "minid-not-here:1", "true"], "No such image: minid-not-here:1");
    expect(run("--pull", "never", "busybox", "true").code).toBe(0);
    expect(run("--pull", "missing", "--platform", "linux/amd64", "busybox", "true").code).toBe(0);
    refused(["--pull", "sometimes", "busybox", "true"], "invalid pull option");
    refused(["--platform", "linux/arm64", "busybox", "true"], "linux/amd64 images only");
  });
});
