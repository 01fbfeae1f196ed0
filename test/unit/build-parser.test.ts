import { describe, expect, test } from "bun:test";
import { parseDockerfile, flagValue, DockerfileError } from "../../src/build/parser.ts";
import { planBuild } from "../../src/build/builder.ts";

function parseErr(text: string): DockerfileError {
  try {
    parseDockerfile(text);
  } catch (e) {
    return e as DockerfileError;
  }
  throw new Error("no error");
}

describe("Dockerfile parser", () => {
  test("comments, continuations, case-insensitive keywords, lines", () => {
    const df = parseDockerfile(["# a comment", "", "from busybox", "RUN echo a \\", "  # inside", "  && echo b", "  cmd [\"sh\"]"].join("\n"));
    expect(df.instructions.map((i) => [i.keyword, i.line])).toEqual([["FROM", 3], ["RUN", 4], ["CMD", 7]]);
    expect(df.instructions[1]!.rest).toBe("echo a   && echo b");
    expect(df.instructions[2]!.json).toEqual(["sh"]);
  });

  test("empty lines inside a continuation are dropped with a warning", () => {
    const df = parseDockerfile("FROM x\nRUN a \\\n\n  b\n");
    expect(df.instructions[1]!.rest).toBe("a   b");
    expect(df.warnings.join("\n")).toContain("Dockerfile:2: empty continuation");
  });

  test("syntax directive is ignored with a notice; escape directive changes the escape", () => {
    const df = parseDockerfile("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n");
    expect(df.escape).toBe("`");
    expect(df.warnings[0]).toContain("syntax directive (docker/dockerfile:1) is ignored");
    expect(df.instructions[1]!.rest).toBe("dir c:\\   && echo");
  });

  test("directives only at the top: after a comment they are comments", () => {
    const df = parseDockerfile("# hello\n# escape=`\nFROM x\n");
    expect(df.escape).toBe("\\");
    expect(df.directives).toEqual({});
  });

  test("a duplicate directive and a bad escape are errors", () => {
    expect(parseErr("# escape=`\n# escape=\\\nFROM x").message).toContain("only one escape");
    expect(parseErr("# escape=x\nFROM x").message).toContain("invalid escape token");
  });

  test("unknown instruction: an error naming the line", () => {
    const e = parseErr("FROM x\n\nFOO bar\n");
    expect(e.message).toBe("unknown instruction: FOO");
    expect(e.line).toBe(3);
  });

  test("flags and exec form", () => {
    const df = parseDockerfile('FROM --platform=linux/amd64 busybox AS b\nCOPY --from=b --chown=1:2 ["a b", "/c/"]\nRUN --network=none echo\n');
    const [from, copy, run] = df.instructions;
    expect(flagValue(from!, "platform")).toBe("linux/amd64");
    expect(from!.rest).toBe("busybox AS b");
    expect(flagValue(copy!, "from")).toBe("b");
    expect(flagValue(copy!, "chown")).toBe("1:2");
    expect(copy!.json).toEqual(["a b", "/c/"]);
    expect(flagValue(run!, "network")).toBe("none");
    expect(run!.rest).toBe("echo");
  });

  test("broken JSON is shell form", () => {
    const df = parseDockerfile('FROM x\nCMD ["sh", \n');
    expect(df.instructions[1]!.json).toBeUndefined();
    expect(df.instructions[1]!.rest).toBe('["sh",');
  });

  test("heredocs: RUN, COPY, <<- strips tabs, quoted marker does not expand, several in one line", () => {
    const df = parseDockerfile(
      ["FROM x", "RUN <<EOF", "echo hi", "EOF", "COPY <<-\"A\" <<B /dir/", "\tone $X", "\tA", "two", "B", "RUN cat <<EOF > /f", "x", "EOF", "CMD x"].join("\n"),
    );
    const [, run, copy, run2, cmd] = df.instructions;
    expect(run!.heredocs).toEqual([{ name: "EOF", content: "echo hi\n", expand: true }]);
    expect(copy!.heredocs).toEqual([
      { name: "A", content: "one $X\n", expand: false },
      { name: "B", content: "two\n", expand: true },
    ]);
    expect(run2!.heredocs[0]!.content).toBe("x\n");
    expect(cmd!.keyword).toBe("CMD");
    expect(cmd!.line).toBe(13);
  });

  test("an unterminated heredoc is an error", () => {
    expect(parseErr("FROM x\nRUN <<EOF\necho\n").message).toContain("unterminated heredoc EOF");
  });

  test("ONBUILD stores a nested instruction; ONBUILD ONBUILD and ONBUILD FROM are errors", () => {
    const df = parseDockerfile("FROM x\nONBUILD RUN echo hi\n");
    expect(df.instructions[1]!.trigger!.keyword).toBe("RUN");
    expect(parseErr("FROM x\nONBUILD ONBUILD RUN x").message).toContain("ONBUILD ONBUILD");
    expect(parseErr("FROM x\nONBUILD FROM y").message).toContain("isn't allowed");
  });

  test("CRLF line ends and a BOM", () => {
    const df = parseDockerfile("\uFEFFFROM x\r\nRUN a\r\n");
    expect(df.instructions.map((i) => i.rest)).toEqual(["x", "a"]);
  });
});

describe("build plan", () => {
  const args = new Map<string, string>();
  test("ARG before FROM feeds FROM; --build-arg overrides", () => {
    const p = planBuild("ARG V=1\nFROM busybox:${V}\n", { buildArgs: args });
    expect(p.stages.length).toBe(1);
    expect(() => planBuild("RUN x\nFROM y", { buildArgs: args })).toThrow("no build stage in current context");
  });

  test("only the stages the target needs", () => {
    const df = "FROM busybox AS a\nFROM busybox AS b\nCOPY --from=a /x /x\nFROM busybox AS c\nFROM b AS d\n";
    const p = planBuild(df, { buildArgs: args, target: "d" });
    expect(p.needed.map((s) => s.name)).toEqual(["a", "b", "d"]);
    const p2 = planBuild(df, { buildArgs: args, target: "C" });
    expect(p2.needed.map((s) => s.name)).toEqual(["c"]);
    const p3 = planBuild("FROM busybox\nFROM busybox\nCOPY --from=0 / /\n", { buildArgs: args });
    expect(p3.needed.length).toBe(2);
  });

  test("an unknown target, a duplicate stage name, a bad FROM", () => {
    expect(() => planBuild("FROM x AS a\n", { buildArgs: args, target: "nope" })).toThrow('target stage "nope" could not be found');
    expect(() => planBuild("FROM x AS a\nFROM y AS a\n", { buildArgs: args })).toThrow("duplicate stage name");
    expect(() => planBuild("FROM x y\n", { buildArgs: args })).toThrow("FROM requires either one or three arguments");
    expect(() => planBuild("", { buildArgs: args })).toThrow("no FROM");
  });
});
