// Expected outputs are Go's text/template and Docker's formatter behaviour (checked against the
// Go and docker/cli sources), not whatever minid's engine happens to print.
import { describe, expect, test } from "bun:test";
import { Template, asStruct, asMap, goString, sprintf } from "../../src/cli/template.ts";
import { formatItems, inspectOutput, tabwrite, table } from "../../src/cli/format.ts";

const run = (t: string, data: unknown = {}, opts = {}) => new Template(t).execute(data, opts);
const err = (t: string, data: unknown = {}, opts = {}) => {
  try {
    return `OK ${new Template(t).execute(data, opts)}`;
  } catch (e) {
    return (e as Error).message;
  }
};

describe("text/template: actions and data", () => {
  test.each([
    ["plain text", "hello", {}, "hello"],
    ["fields and nested fields", "{{.A}}-{{.B.C}}", { A: 1, B: { C: "x" } }, "1-x"],
    ["a missing map key", "{{.Nope}}", {}, "<no value>"],
    ["a field of a missing key", "{{.Nope.Deeper}}", {}, "<no value>"],
    ["dot", "{{.}}", "s", "s"],
    ["slices print as [a b]", "{{.L}}", { L: ["a", 1, true] }, "[a 1 true]"],
    ["maps print sorted as map[k:v]", "{{.M}}", { M: { b: 2, a: [1] } }, "map[a:[1] b:2]"],
    ["nil prints <nil>", "{{.N}}", { N: null }, "<nil>"],
    ["a nil inside a slice", "{{.L}}", { L: [null] }, "[<nil>]"],
    ["bools and ints", "{{true}} {{false}} {{42}} {{-7}} {{0x1F}} {{'a'}}", {}, "true false 42 -7 31 97"],
    ["floats use %g", "{{1.5}} {{1e6}} {{123456.0}} {{1234567.0}} {{0.0001}} {{0.00001}}", {}, "1.5 1e+06 123456 1.234567e+06 0.0001 1e-05"],
    ["strings: interpreted and raw", '{{"a\\tb"}}|{{`a\\tb`}}', {}, "a\tb|a\\tb"],
    ["trim markers", "a  {{- .X -}}  \n b", { X: 1 }, "a1b"],
    ["a minus number is not a trim marker", "{{-3}}", {}, "-3"],
    ["comments", "a{{/* c */}}b{{- /* c */ -}} c", {}, "abc"],
    ["parenthesized pipeline with a field", "{{(index .L 1).N}}", { L: [{ N: 1 }, { N: 2 }] }, "2"],
    ["variables", "{{$x := .A}}{{$x}}{{$x = 5}}{{$x}}{{$}}", { A: 1 }, "15map[A:1]"],
    ["$ is the root inside with/range", "{{with .B}}{{$.A}}{{.}}{{end}}", { A: 1, B: 2 }, "12"],
    ["variable fields", "{{$b := .B}}{{$b.C}}", { B: { C: "c" } }, "c"],
  ])("%s", (_n, t, d, want) => expect(run(t as string, d)).toBe(want as string));
});

describe("text/template: control structures", () => {
  test.each([
    ["if true", "{{if .A}}y{{end}}", { A: 1 }, "y"],
    ["if empty string is false", "{{if .A}}y{{else}}n{{end}}", { A: "" }, "n"],
    ["if empty slice/map is false", "{{if .L}}y{{else}}n{{end}}{{if .M}}y{{else}}n{{end}}", { L: [], M: {} }, "nn"],
    ["if missing is false", "{{if .Nope}}y{{else}}n{{end}}", {}, "n"],
    ["else if chain", "{{if eq .A 1}}one{{else if eq .A 2}}two{{else}}many{{end}}", { A: 2 }, "two"],
    ["else with", "{{with .A}}a{{else with .B}}{{.}}{{end}}", { A: 0, B: "b" }, "b"],
    ["with sets dot", "{{with .B}}{{.C}}{{end}}", { B: { C: 5 } }, "5"],
    ["with else", "{{with .B}}x{{else}}none{{end}}", { B: null }, "none"],
    ["range over a slice", "{{range .L}}[{{.}}]{{end}}", { L: ["a", "b"] }, "[a][b]"],
    ["range with index and element", "{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}", { L: ["a", "b"] }, "0=a 1=b "],
    ["range with one variable is the element", "{{range $e := .L}}{{$e}}{{end}}", { L: [7, 8] }, "78"],
    ["range over a map goes in key order", "{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}", { M: { z: 1, a: 2 } }, "a=2;z=1;"],
    ["range else on empty", "{{range .L}}x{{else}}empty{{end}}", { L: [] }, "empty"],
    ["range else on nil", "{{range .L}}x{{else}}empty{{end}}", { L: null }, "empty"],
    ["range over an int", "{{range 3}}{{.}}{{end}}", {}, "012"],
    ["break and continue", "{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}", { L: [1, 2, 3, 4, 5] }, "13"],
    ["a pipeline's variable is visible in else", "{{if $x := .A}}y{{else}}[{{$x}}]{{end}}", { A: 0 }, "[0]"],
    ["variables declared in a block end with it", "{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", {}, "21"],
    ["assignment reaches the outer variable", "{{$x := 1}}{{range .L}}{{$x = .}}{{end}}{{$x}}", { L: [5, 6] }, "6"],
    ["define and template", '{{define "T"}}<{{.}}>{{end}}{{template "T" .A}}{{template "T" "x"}}', { A: 1 }, "<1><x>"],
    ["block", '{{block "B" .A}}[{{.}}]{{end}}', { A: 2 }, "[2]"],
  ])("%s", (_n, t, d, want) => expect(run(t as string, d)).toBe(want as string));
});

describe("text/template: builtin functions", () => {
  test.each([
    ["and returns the first false or the last", "{{and 1 0 2}} {{and 1 2}}", "0 2"],
    ["or returns the first true or the last", '{{or 0 "" 3}} {{or 0 ""}}', "3 "],
    ["and/or short-circuit", "{{or 1 .Nope.X}}", "1"],
    ["not", "{{not 0}} {{not 1}} {{not .Nope}}", "true false true"],
    ["eq with several", "{{eq 1 2 3 1}} {{eq \"a\" \"b\"}}", "true false"],
    ["ne lt le gt ge", '{{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}}', "true true true true false"],
    ["len counts bytes of a string", '{{len "héllo"}} {{len .L}} {{len .M}}', "6 2 1"],
    ["index slices, maps and nested", '{{index .L 1}} {{index .M "k"}} {{index .N 0 1}}', "b v 2"],
    ["index of a missing key of a string map is empty", '[{{index .M "nope"}}]', "[]"],
    ["slice strings and slices", '{{slice "abcdef" 1 3}} {{slice .L 1}} {{slice .L}}', "bc [b] [a b]"],
    ["print adds spaces between non-strings", '{{print 1 2 "a" 3 "b" "c"}}', "1 2a3bc"],
    ["println always adds spaces and a newline", '{{println 1 "a"}}', "1 a\n"],
    ["printf", '{{printf "%s|%5s|%-5s|%d|%03d|%x|%X|%q|%v|%t|%.2f|%%" "a" "b" "c" 7 7 255 255 "q\\n" .L true 3.14159}}', 'a|    b|c    |7|007|ff|FF|"q\\n"|[a b]|true|3.14|%'],
    ["printf with missing and extra args", '{{printf "%s %s" "a"}}|{{printf "%s" "a" 1}}', "a %!s(MISSING)|a%!(EXTRA int=1)"],
    ["printf with a wrong type", '{{printf "%d" "x"}}', "%!d(string=x)"],
    ["pipelines pass the last argument", '{{"x" | printf "%s-%s" "a"}}', "a-x"],
    ["html", `{{html "<a href='x'>&\\"</a>"}}`, "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"],
    ["js", `{{js "it's \\"<b>\\" & a=b\\n"}}`, "it\\'s \\\"\\u003Cb\\u003E\\\" \\u0026 a\\u003Db\\u000A"],
    ["urlquery", '{{urlquery "a b&c"}}', "a+b%26c"],
    ["call a function value", '{{call .F "x"}}', "fx"],
  ])("%s", (_n, t, want) =>
    expect(run(t, { L: ["a", "b"], M: { k: "v" }, N: [[1, 2]], F: (s: string) => `f${s}` })).toBe(want),
  );
});

describe("Docker's template functions", () => {
  test.each([
    ["json without HTML escaping, map keys sorted", "{{json .}}", { b: "<&>", a: [1, null] }, '{"a":[1,null],"b":"<&>"}'],
    ["json of a string", "{{json .S}}", { S: 'q"' }, '"q\\""'],
    ["json of a missing value is null", "{{json .Nope}}", {}, "null"],
    ["print of a missing value is <nil>", "{{print .Nope}} {{.Nope}}", {}, "<nil> <no value>"],
    ["split and join", '{{join (split .S ":") "+"}}', { S: "a:b:c" }, "a+b+c"],
    ["split gives a slice", '{{split .S ","}}', { S: "a,b" }, "[a b]"],
    ["lower upper title", '{{lower "AbC"}} {{upper "AbC"}} {{title "hello wide-world"}}', {}, "abc ABC Hello Wide-World"],
    ["pad pads a non-empty string only", '[{{pad "x" 1 2}}][{{pad "" 1 2}}]', {}, "[ x  ][]"],
    ["truncate", '{{truncate "abcdef" 3}} {{truncate "ab" 3}}', {}, "abc ab"],
    ["a pipeline through Docker functions", '{{.S | upper | printf "%s!"}}', { S: "hi" }, "HI!"],
  ])("%s", (_n, t, d, want) => expect(run(t as string, d)).toBe(want as string));
});

describe("errors are Go's", () => {
  test.each([
    ["undefined function", "{{nope .}}", 'template: :1: function "nope" not defined'],
    ["unclosed action", "{{.A", "template: :1: unclosed action"],
    ["missing end", "{{if .A}}x", "template: :1: unexpected EOF"],
    ["stray end", "x{{end}}", "template: :1: unexpected {{end}}"],
    ["stray else", "{{else}}", "template: :1: unexpected {{else}}"],
    ["undefined variable", "{{$x}}", 'template: :1: undefined variable "$x"'],
    ["bad character", "{{ # }}", "template: :1: bad character U+0023 '#'"],
    ["line numbers", "a\nb\n{{nope}}", 'template: :3: function "nope" not defined'],
    ["index out of range", "{{index .L 5}}", 'template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5'],
    ["wrong argument type", "{{upper 1}}", 'template: :1:8: executing "" at <1>: wrong type for value; expected string; got int'],
    ["a missing value for a string parameter", "{{upper .Nope}}", 'template: :1:8: executing "" at <.Nope>: invalid value; expected string'],
    ["wrong argument count", "{{len}}", 'template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0'],
    ["incompatible comparison", '{{eq 1 "a"}}', 'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison'],
    ["int vs float is incompatible", "{{eq 1 1.0}}", 'template: :1:2: executing "" at <eq 1 1.0>: error calling eq: incompatible types for comparison'],
    ["field of a string", "{{.S.X}}", 'template: :1:2: executing "" at <.S.X>: can\'t evaluate field X in type string'],
    ["field of nil", "{{.N.X}}", 'template: :1:2: executing "" at <.N.X>: nil pointer evaluating interface {}.X'],
    ["arguments to a map key", "{{.M 1}}", 'template: :1:2: executing "" at <.M>: M is not a method but has arguments'],
    ["arguments to a constant", '{{"a" 1}}', 'template: :1:2: executing "" at <"a">: can\'t give argument to non-function "a"'],
    ["long contexts are cut at 20 bytes", '{{index .L 1 2 3 4 5 6 7 8}}', 'template: :1:2: executing "" at <index .L 1 2 3 4 5 6...>: error calling index: index out of range: 1'],
  ])("%s", (_n, t, want) => expect(err(t, { S: "s", N: null, M: {}, L: ["x"] })).toBe(want));

  test("struct contexts refuse unknown fields and call methods", () => {
    const ctx = asStruct({ ID: "abc", Label: (k: string) => (k === "a" ? "1" : "") }, "*formatter.ContainerContext");
    expect(run('{{.ID}} {{.Label "a"}}[{{.Label "b"}}]', ctx)).toBe("abc 1[]");
    expect(err("{{.Nope}}", ctx)).toBe('template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext');
    expect(err("{{.Label}}", ctx)).toBe('template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0');
    expect(run("{{json .}}", ctx)).toBe('{"ID":"abc"}');
  });

  test("missingkey=error (docker inspect), except in Go maps", () => {
    const doc = { A: 1, Labels: asMap({ x: "y" }) };
    expect(err("{{.Nope}}", doc, { missingKeyError: true })).toBe('template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"');
    expect(run("{{.Labels.x}} {{.Labels.z}}", doc, { missingKeyError: true })).toBe("y <no value>");
  });
});

describe("fmt", () => {
  test("%v of composite values", () => {
    expect(goString([1, [2, "a"], { k: null }])).toBe("[1 [2 a] map[k:<nil>]]");
    expect(sprintf("%6.2f|%-6d|%+d", [new Template("{{1.0}}") && 3.14159, 42, 5])).toBe("  3.14|42    |+5");
  });
});

describe("Docker's tabwriter (minwidth 10, padding 3)", () => {
  test("short columns are 10 wide, long ones their width plus 3", () => {
    expect(tabwrite("A\tBB\nxxx\ty\n")).toBe("A         BB\nxxx       y\n");
    expect(tabwrite("CONTAINER ID\tNAMES\nabc\tweb\n")).toBe("CONTAINER ID   NAMES\nabc            web\n");
  });
  test("the text after the last tab is not a column; empty cells are padded", () => {
    expect(tabwrite("a\t\tc\nlonger-than-ten\tb\tc\n")).toBe("a                           c\nlonger-than-ten   b         c\n");
  });
  test("a column ends where a line has no cell in it (elastic tabstops)", () => {
    expect(tabwrite("aaaaaaaaaaaa\tb\nno tabs here\nc\td\n")).toBe("aaaaaaaaaaaa   b\nno tabs here\nc         d\n");
  });
  test("wide characters count two columns", () => {
    expect(tabwrite("日本語\tx\nab\ty\n")).toBe("日本語    x\nab        y\n");
  });
  test("table() lays out Docker's default tables the same way", () => {
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A         BB\nxxx       y\n");
  });
});

describe("Docker's formatter (table, json, custom)", () => {
  const items = [asStruct({ ID: "1", Names: "web", Size: "0B" }, "*formatter.ContainerContext"), asStruct({ ID: "22", Names: "db", Size: "0B" }, "*formatter.ContainerContext")];
  const header = { ID: "CONTAINER ID", Names: "NAMES", Size: "SIZE" };
  test("table TEMPLATE: header from the same template, tabwriter layout", async () => {
    expect(await formatItems("table {{.ID}}\\t{{.Names}}", items, header)).toBe("CONTAINER ID   NAMES\n1              web\n22             db\n");
  });
  test("header functions keep the header text", async () => {
    expect(await formatItems("table {{lower .Names}}\\t{{json .ID}}", items, header)).toBe("NAMES     CONTAINER ID\nweb       \"1\"\ndb        \"22\"\n");
  });
  test("a table with no items still has its header", async () => {
    expect(await formatItems("table {{.ID}}", [], header)).toBe("CONTAINER ID\n");
  });
  test("json is one object per line with sorted keys", async () => {
    expect(await formatItems("json", items, header)).toBe('{"ID":"1","Names":"web","Size":"0B"}\n{"ID":"22","Names":"db","Size":"0B"}\n');
  });
  test("a custom template: one line each, \\t and \\n escapes", async () => {
    expect(await formatItems("{{.ID}}\\t{{.Names}}", items, header)).toBe("1\tweb\n22\tdb\n");
  });
  test("errors: parse and execution, exit 1, one line", async () => {
    const e1 = await formatItems("{{.ID", items, header).catch((e) => e);
    expect([e1.message, e1.exitCode]).toEqual(["template parsing error: template: :1: unclosed action", 1]);
    const e2 = await formatItems("{{.Nope}}", items, header).catch((e) => e);
    expect([e2.message, e2.exitCode]).toEqual(['template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext', 1]);
  });
});

describe("docker inspect output", () => {
  test("no format: indented; json: compact; template: a line per document", async () => {
    const docs = [{ Id: "a", Config: { Labels: { l: "v" } } }, { Id: "b", Config: { Labels: {} } }];
    expect((await inspectOutput(docs, undefined)).text).toBe(JSON.stringify(docs, null, 4) + "\n");
    expect((await inspectOutput([], undefined)).text).toBe("[]\n");
    expect((await inspectOutput(docs, "json")).text).toBe(JSON.stringify(docs) + "\n");
    expect(await inspectOutput(docs, "{{.Id}} {{.Config.Labels.l}} {{json .Config}}")).toEqual({ text: 'a v {"Labels":{"l":"v"}}\nb <no value> {"Labels":{}}\n', errors: [] });
  });
  test("an unknown key fails that document only; a parse error exits 64 before anything", async () => {
    const r = await inspectOutput([{ Id: "a" }, { Id: "b", X: 1 }], "{{.X}}");
    expect(r).toEqual({ text: "1\n", errors: ['template parsing error: template: :1:2: executing "" at <.X>: map has no entry for key "X"'] });
    const e = await inspectOutput([{ Id: "a" }], "{{.X").catch((x) => x);
    expect([e.message, e.exitCode]).toEqual(["template parsing error: template: :1: unclosed action", 64]);
  });
});
