// exec's entering thread joins the container's namespaces through the syscall seam: checked
// call by call with the recording fake, no root needed.
import { describe, expect, test } from "bun:test";
import { FakeSyscalls } from "../helpers/fake-syscalls.ts";
import { joinNamespaces } from "../../src/container/exec-enter.ts";
import { CLONE_FS, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, O_RDONLY, AT_FDCWD } from "../../src/linux/libc.ts";

function namespaceFds(sys: FakeSyscalls): [number, number][] {
  sys.mkdir("/ns");
  const flags: [string, number][] = [["cgroup", CLONE_NEWCGROUP], ["ipc", CLONE_NEWIPC], ["uts", CLONE_NEWUTS], ["net", CLONE_NEWNET], ["mnt", CLONE_NEWNS]];
  return flags.map(([name, flag]) => {
    sys.writeFile(`/ns/${name}`, "");
    return [sys.openat(AT_FDCWD, `/ns/${name}`, O_RDONLY), flag];
  });
}

describe("exec joins the container's namespaces", () => {
  test("its own fs_struct first (setns(mnt) refuses a shared one), then cgroup, ipc, uts, net, mnt, each fd closed once joined", () => {
    const sys = new FakeSyscalls();
    const fds = namespaceFds(sys);
    const from = sys.calls.length;
    joinNamespaces(sys, fds);
    const calls = sys.calls.slice(from).map((c) => [c.name, ...c.args.slice(0, 2)]);
    expect(calls).toEqual([
      ["unshare", CLONE_FS],
      ...fds.flatMap(([fd, flag]) => [["setns", fd, flag], ["close", fd]]),
    ]);
    // The PID namespace is not joined here: that is forkexec's last step before the fork.
    expect(calls.some((c) => c[0] === "setns" && c[2] === 0x20000000)).toBe(false);
  });

  test("a join that fails stops there: nothing after it is joined", () => {
    const sys = new FakeSyscalls();
    const fds = namespaceFds(sys);
    sys.failWhen((c) => c.name === "setns" && c.args[1] === CLONE_NEWNET, "EPERM");
    const from = sys.calls.length;
    expect(() => joinNamespaces(sys, fds)).toThrow(/EPERM/);
    const joined = sys.calls.slice(from).filter((c) => c.name === "setns" && !c.failed).map((c) => c.args[1]);
    expect(joined).toEqual([CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWUTS]);
  });
});
