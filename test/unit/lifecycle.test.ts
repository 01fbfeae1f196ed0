// The pure parts of the lifecycle: the attach protocol framing, detach keys, the json-file log,
// --format templates, exec's environment.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { encodeFrame, Frame, FrameReader } from "../../src/container/protocol.ts";
import { DetachScanner, parseDetachKeys } from "../../src/container/attach.ts";
import { LogReader, LogWriter, nowRfc3339Nano } from "../../src/container/logs.ts";
import { renderTemplate, goString } from "../../src/cli/template.ts";
import { execEnv } from "../../src/container/exec.ts";
import { INIT_SPEC_ENV } from "../../src/container/watcher-main.ts";
import { INIT_ENV } from "../../src/container/init.ts";

describe("attach frames", () => {
  test("round trip, split anywhere", () => {
    const frames = [encodeFrame(Frame.Stdout, "hello"), encodeFrame(Frame.Stderr, new Uint8Array([0, 1, 2])), encodeFrame(Frame.Exit, '{"exitCode":3}')];
    const all = Buffer.concat(frames);
    for (let cut = 0; cut <= all.length; cut++) {
      const r = new FrameReader();
      const got = [...r.push(all.subarray(0, cut)), ...r.push(all.subarray(cut))];
      expect(got.map((f) => [f.type, f.payload.toString("hex")])).toEqual([
        [Frame.Stdout, Buffer.from("hello").toString("hex")],
        [Frame.Stderr, "000102"],
        [Frame.Exit, Buffer.from('{"exitCode":3}').toString("hex")],
      ]);
    }
  });

  test("header is Docker's: type, three zeros, big-endian length", () => {
    expect([...encodeFrame(Frame.Stdout, "ab")]).toEqual([1, 0, 0, 0, 0, 0, 0, 2, 97, 98]);
  });
});

describe("detach keys", () => {
  test("parse Docker's spellings", () => {
    expect([...parseDetachKeys("ctrl-p,ctrl-q")]).toEqual([16, 17]);
    expect([...parseDetachKeys("ctrl-a,x")]).toEqual([1, 120]);
    expect([...parseDetachKeys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_")]).toEqual([0, 27, 28, 29, 30, 31]);
    expect(() => parseDetachKeys("ctrl-1")).toThrow();
    expect(() => parseDetachKeys("nope")).toThrow();
  });

  test("the sequence detaches; anything else passes through, split across chunks too", () => {
    const keys = parseDetachKeys("ctrl-p,ctrl-q");
    let s = new DetachScanner(keys);
    expect(s.feed(Buffer.from("ab"))).toEqual({ forward: new Uint8Array([97, 98]), detach: false });
    expect(s.feed(new Uint8Array([16]))).toEqual({ forward: new Uint8Array([]), detach: false });
    expect(s.feed(new Uint8Array([17]))).toEqual({ forward: new Uint8Array([]), detach: true });
    s = new DetachScanner(keys);
    // ctrl-p then something else: both bytes go to the container
    expect(s.feed(new Uint8Array([16, 120]))).toEqual({ forward: new Uint8Array([16, 120]), detach: false });
    // ctrl-p ctrl-p ctrl-q: the first ctrl-p is forwarded, the rest detaches
    s = new DetachScanner(keys);
    expect(s.feed(new Uint8Array([16, 16, 17]))).toEqual({ forward: new Uint8Array([16]), detach: true });
  });
});

describe("json-file log", () => {
  test("one entry per line with stream and nanosecond time; partial lines kept until flushed", () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-log-"));
    try {
      const path = join(dir, "x-json.log");
      const w = new LogWriter(path);
      w.write("stdout", Buffer.from("one\ntw"));
      w.write("stderr", Buffer.from("err\n"));
      w.write("stdout", Buffer.from("o\nthree"));
      const reader = new LogReader(path);
      expect(reader.read().map((e) => [e.stream, e.log])).toEqual([["stdout", "one\n"], ["stderr", "err\n"], ["stdout", "two\n"]]);
      w.close(); // flushes "three"
      expect(reader.read().map((e) => [e.stream, e.log])).toEqual([["stdout", "three"]]);
      for (const line of readFileSync(path, "utf8").trim().split("\n")) {
        expect(JSON.parse(line).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      }
      // A torn last line (crash mid-write) is waited for, not misread.
      appendFileSync(path, '{"log":"x\\n","stream":"std');
      expect(reader.read()).toEqual([]);
      appendFileSync(path, 'out","time":"2020-01-01T00:00:00.000000000Z"}\n');
      expect(reader.read().map((e) => e.log)).toEqual(["x\n"]);
      reader.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("lines longer than 16 KiB are split", () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-log-"));
    try {
      const w = new LogWriter(join(dir, "l"));
      w.write("stdout", Buffer.alloc(40 * 1024, 97));
      w.close();
      const entries = new LogReader(join(dir, "l")).read();
      expect(entries.map((e) => e.log.length)).toEqual([16384, 16384, 8192]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("timestamps increase", () => {
    const a = nowRfc3339Nano();
    const b = nowRfc3339Nano();
    expect(b >= a).toBe(true);
  });
});

describe("--format templates", () => {
  const data = { Name: "/c", State: { Status: "running", Pid: 42, Running: true }, Config: { Cmd: ["sleep", "1"], Labels: { a: "b" } } };
  test("fields, json, pipes, functions, escapes", () => {
    expect(renderTemplate("{{.State.Status}} {{.State.Pid}}", data)).toBe("running 42");
    expect(renderTemplate("{{json .Config.Cmd}}", data)).toBe('["sleep","1"]');
    expect(renderTemplate("{{.Config.Cmd | json}}", data)).toBe('["sleep","1"]');
    expect(renderTemplate("{{.Config.Cmd}}", data)).toBe("[sleep 1]");
    expect(renderTemplate("{{index .Config.Labels \"a\"}}", data)).toBe("b");
    // inspect runs the template as given (Go's escapes, not Docker's list-command \t): a tab is {{"\t"}}.
    expect(renderTemplate("{{upper .State.Status}}{{\"\\t\"}}{{.Name}}", data)).toBe("RUNNING\t/c");
    expect(renderTemplate("{{.Nope}}", data)).toBe("<no value>");
    expect(renderTemplate("{{ .State.Running }}", data)).toBe("true");
    expect(() => renderTemplate("{{nosuchfunc .X}}", data)).toThrow();
    expect(goString({ b: 1, a: [1, 2] })).toBe("map[a:[1 2] b:1]");
  });
});

describe("exec environment", () => {
  test("the container's, then -e (NAME alone copies ours), TERM with a terminal", () => {
    process.env.MINID_UNIT_X = "from-host";
    expect(execEnv(["PATH=/bin", "A=1"], ["A=2", "B=3", "MINID_UNIT_X", "MINID_UNIT_MISSING"], false)).toEqual([
      "PATH=/bin",
      "A=2",
      "B=3",
      "MINID_UNIT_X=from-host",
    ]);
    expect(execEnv(["PATH=/bin"], [], true)).toEqual(["PATH=/bin", "TERM=xterm"]);
    expect(execEnv(["TERM=vt100"], [], true)).toEqual(["TERM=vt100"]);
    expect(() => execEnv([], ["=x"], false)).toThrow();
  });

  test("the watcher names init's spec variable as init does", () => {
    expect(INIT_SPEC_ENV).toBe(INIT_ENV);
  });
});
