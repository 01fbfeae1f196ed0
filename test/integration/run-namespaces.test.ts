// `minid run`: the namespaces, mounts and devices a container sees, checked from inside.
import { describe, expect } from "bun:test";
import { readlinkSync } from "node:fs";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root");
const { r, run } = useRunRoot("run-namespaces");

describe("namespaces, seen from inside", () => {
  it("the command is PID 1 and sees only its own processes", () => {
    const res = run("sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args | wc -l");
    expect(res.code).toBe(0);
    const [pid, cmdline, lines] = res.stdout.trim().split("\n");
    expect(pid).toBe("1");
    expect(cmdline!.trim()).toBe("sh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args | wc -l");
    // header + sh + ps + wc (+ tr is gone); nothing of the host
    expect(Number(lines)).toBeLessThanOrEqual(5);
  });

  it("hostname is the short container id, or --hostname", () => {
    const res = r.run(["run", "--name", "hn", "busybox", "hostname"]);
    expect(res.code).toBe(0);
    const id = r.run(["ps", "-a", "-q", "--no-trunc", "-f", "name=^hn$"]).stdout.trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    expect(res.stdout.trim()).toBe(id.slice(0, 12));
    expect(r.run(["rm", "hn"]).code).toBe(0);
    expect(run("--hostname", "web1", "hostname").stdout.trim()).toBe("web1");
    expect(r.run(["run", "--rm", "--hostname", "web1", "busybox", "cat", "/etc/hostname"]).stdout.trim()).toBe("web1");
  });

  it("with --network none the network namespace has only loopback, and it is up (the default bridge: see network.test.ts)", () => {
    const res = run("--network", "none", "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags; ping -c1 -W1 127.0.0.1 >/dev/null && echo pingok");
    expect(res.code).toBe(0);
    const [ifaces, flags, ping] = res.stdout.trim().split("\n");
    expect(ifaces).toBe("lo");
    expect(Number(flags) & 1).toBe(1);
    expect(ping).toBe("pingok");
  });

  it("every namespace differs from the host's", () => {
    const res = run("sh", "-c", "for n in pid uts ipc net mnt; do readlink /proc/1/ns/$n; done");
    expect(res.code).toBe(0);
    const inside = res.stdout.trim().split("\n");
    const host = ["pid", "uts", "ipc", "net", "mnt"].map((n) => readlinkSync(`/proc/self/ns/${n}`));
    expect(inside).toHaveLength(5);
    inside.forEach((ns, i) => expect(ns).not.toBe(host[i]));
  });

  it("root is an overlay after pivot_root, with proc, a tmpfs /dev and a read-only /sys", () => {
    const res = run("cat", "/proc/self/mountinfo");
    expect(res.code).toBe(0);
    const mounts = res.stdout.trim().split("\n").map((l) => {
      const f = l.split(" ");
      const sep = f.indexOf("-");
      return { point: f[4]!, opts: f[5]!, type: f[sep + 1]! };
    });
    const at = (p: string) => mounts.find((m) => m.point === p);
    expect(at("/")?.type).toBe("overlay");
    expect(at("/proc")?.type).toBe("proc");
    expect(at("/dev")?.type).toBe("tmpfs");
    expect(at("/dev/pts")?.type).toBe("devpts");
    expect(at("/dev/shm")?.type).toBe("tmpfs");
    expect(at("/sys")?.type).toBe("sysfs");
    expect(at("/sys")?.opts.split(",")).toContain("ro");
    // The old root is detached: no mount of the host's tree is reachable.
    expect(mounts.filter((m) => m.point.startsWith("/work") || m.point.startsWith("/tmp/minid"))).toEqual([]);
  });

  it("/dev holds the standard devices and links", () => {
    const res = run("sh", "-c", "ls /dev | sort | tr '\\n' ' '; echo; stat -c '%t,%T %a' /dev/null /dev/zero /dev/urandom; readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdin; echo x > /sys/kernel/x 2>&1 || echo sysro");
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split("\n");
    for (const d of ["null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd", "stdin", "stdout", "stderr"]) {
      expect(lines[0]!.split(" ")).toContain(d);
    }
    expect(lines[1]).toBe("1,3 666");
    expect(lines[2]).toBe("1,5 666");
    expect(lines[3]).toBe("1,9 666");
    expect(lines.slice(4, 7)).toEqual(["pts/ptmx", "/proc/self/fd", "/proc/self/fd/0"]);
    expect(res.stdout).toContain("sysro");
  });
});
