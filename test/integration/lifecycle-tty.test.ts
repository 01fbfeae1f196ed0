// The pseudo-terminal path, driven through a real terminal emulator (tmux): a prompt, `tty`
// naming a device that exists in the container, the window size (and its changes), job
// control, line editing, Ctrl-C, detaching with ctrl-p ctrl-q and reattaching, exec -it, and
// the host terminal restored afterwards.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TestRoot, ensureBuilt, isRoot, minidCommand } from "../helpers/minid.ts";

const haveTmux = Bun.which("tmux") !== null;
const it = (name: string, fn: () => unknown) => (isRoot() && haveTmux ? test : test.skip)(name, fn as any, 60_000);

let r: TestRoot;
let tmp: string;
const SOCK = `minid-test-${process.pid}`;

function tmux(...args: string[]): string {
  const res = Bun.spawnSync(["tmux", "-L", SOCK, ...args], { stdout: "pipe", stderr: "pipe" });
  if (res.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${res.stderr.toString()}`);
  return res.stdout.toString();
}

function screen(target: string): string {
  return tmux("capture-pane", "-p", "-t", target);
}

async function waitScreen(target: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = screen(target);
    if (pattern.test(s)) return s;
    if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${s}`);
    await Bun.sleep(50);
  }
}

async function waitFile(path: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path) || readFileSync(path, "utf8") === "") {
    if (Date.now() > deadline) throw new Error(`${path} never appeared`);
    await Bun.sleep(50);
  }
  await Bun.sleep(50);
  return readFileSync(path, "utf8");
}

const minid = () => [...minidCommand(), "--root", r.dir].join(" ");

beforeAll(() => {
  if (!isRoot() || !haveTmux) return;
  ensureBuilt();
  r = new TestRoot("tty");
  tmp = mkdtempSync(join(tmpdir(), "minid-tty-"));
  expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
});

afterAll(() => {
  if (!r) return;
  try {
    tmux("kill-server");
  } catch {}
  const ids = r.run(["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean);
  if (ids.length) r.run(["rm", "-f", ...ids]);
  r.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe("run -it through a terminal", () => {
  it("prompt, tty, window size, job control, line editing, Ctrl-C, detach, attach, exec -it, restore", async () => {
    const script = [
      `stty -g > ${tmp}/before`,
      `${minid()} run -it --name pty busybox sh`,
      `echo $? > ${tmp}/run-rc`,
      `stty -g > ${tmp}/after`,
      "exec sleep 600",
    ].join("; ");
    tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", "sh", "-c", script);
    await waitScreen("t", /^\/ #\s*$/m);

    // A device that exists in the container, and the outer window's size.
    tmux("send-keys", "-t", "t", "tty; test -c $(tty) && echo TTY-EXISTS; stty size", "Enter");
    let s = await waitScreen("t", /^30 100$/m);
    expect(s).toMatch(/^\/dev\/(console|pts\/\d+)$/m);
    expect(s).toContain("TTY-EXISTS");

    // Window size changes reach the container.
    tmux("resize-window", "-t", "t", "-x", "120", "-y", "40");
    await Bun.sleep(300);
    tmux("send-keys", "-t", "t", "clear; stty size", "Enter");
    await waitScreen("t", /^40 120$/m);

    // Job control: a background job, listed by the shell.
    tmux("send-keys", "-t", "t", "clear; sleep 300 &", "Enter");
    await Bun.sleep(200);
    tmux("send-keys", "-t", "t", "jobs", "Enter");
    s = await waitScreen("t", /Running\s+sleep 300/);
    expect(s).not.toContain("job control turned off");

    // Line editing: a typo fixed with backspace and cursor keys.
    tmux("send-keys", "-t", "t", "clear; echo helox", "BSpace", "Left", "l", "Enter");
    await waitScreen("t", /^hello$/m);

    // Ctrl-C interrupts the foreground command, not the shell.
    tmux("send-keys", "-t", "t", "clear; sleep 100", "Enter");
    await Bun.sleep(300);
    tmux("send-keys", "-t", "t", "C-c");
    tmux("send-keys", "-t", "t", "echo still-here", "Enter");
    await waitScreen("t", /^still-here$/m);

    // ctrl-p ctrl-q: the CLI leaves (status 0), the container stays.
    tmux("send-keys", "-t", "t", "C-p", "C-q");
    expect((await waitFile(`${tmp}/run-rc`)).trim()).toBe("0");
    expect(r.run(["ps", "--format", "{{.Names}} {{.State}}", "-f", "name=pty"]).stdout).toBe("pty running\n");
    // ...and the host terminal is as it was.
    expect(await waitFile(`${tmp}/after`)).toBe(readFileSync(`${tmp}/before`, "utf8"));

    // exec -it: a terminal from the container's own devpts, sized like the window.
    const execScript = `${minid()} exec -it pty sh; echo $? > ${tmp}/exec-rc; exec sleep 600`;
    tmux("new-window", "-t", "t", "-n", "ex", "sh", "-c", execScript);
    await waitScreen("t:ex", /^\/ #\s*$/m);
    tmux("send-keys", "-t", "t:ex", "tty; stty size; ps -o pid,comm | grep -c sleep", "Enter");
    s = await waitScreen("t:ex", /^\d+ \d+$/m);
    expect(s).toMatch(/^\/dev\/pts\/\d+$/m);
    const outer = tmux("display-message", "-p", "-t", "t:ex", "#{pane_height} #{pane_width}").trim();
    expect(s).toContain(`\n${outer}\n`);
    tmux("send-keys", "-t", "t:ex", "exit 5", "Enter");
    expect((await waitFile(`${tmp}/exec-rc`)).trim()).toBe("5");

    // attach: the same shell, with its background job; its exit status is attach's.
    const attachScript = `${minid()} attach pty; echo $? > ${tmp}/attach-rc; exec sleep 600`;
    tmux("new-window", "-t", "t", "-n", "at", "sh", "-c", attachScript);
    await Bun.sleep(500);
    tmux("send-keys", "-t", "t:at", "jobs", "Enter");
    await waitScreen("t:at", /Running\s+sleep 300/);
    tmux("send-keys", "-t", "t:at", "exit 3", "Enter");
    expect((await waitFile(`${tmp}/attach-rc`)).trim()).toBe("3");
    expect(r.run(["inspect", "-f", "{{.State.ExitCode}}", "pty"]).stdout).toBe("3\n");
    expect(r.run(["rm", "pty"]).code).toBe(0);
  });

  it("without a terminal on stdin, -it is refused (exit 1, as Docker's CLI), one line, nothing created; -t alone runs", () => {
    const before = r.run(["ps", "-aq"]).stdout;
    for (const args of [["run", "-it", "busybox", "sh"], ["run", "--rm", "-i", "-t", "busybox", "true"]]) {
      const res = r.run(args);
      expect(res.code).toBe(1);
      expect(res.stderr.trim()).toBe("minid: the input device is not a TTY");
    }
    expect(r.run(["ps", "-aq"]).stdout).toBe(before);
    // -t alone: the container still gets its own terminal (output in its line discipline).
    // It is the watcher's pty, shown as /dev/console (Docker's runc shows /dev/pts/0).
    const t = r.run(["run", "--rm", "-t", "busybox", "sh", "-c", "tty; echo hi"]);
    expect([t.code, t.stdout]).toEqual([0, "/dev/console\r\nhi\r\n"]);
    expect(r.run(["ps", "-aq"]).stdout).toBe(before);
    // Detached, a terminal needs no terminal here.
    expect(r.run(["run", "-dit", "--name", "dit", "busybox", "sh"]).code).toBe(0);
    const at = r.run(["attach", "dit"]);
    expect(at.code).toBe(1);
    expect(at.stderr).toContain("not a TTY");
    expect(r.run(["rm", "-f", "dit"]).code).toBe(0);
  });
});
