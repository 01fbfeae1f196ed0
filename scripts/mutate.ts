// `npm run mutate`: break one safeguard at a time (scripts/mutations.json), run the tests that
// cover it, put the line back, and print which breaks the tests caught. A break that survives
// is a safeguard nothing checks, unless the entry says why this host cannot observe it.
// Usage: bun scripts/mutate.ts [--only id,id…] [--list]
// The file is restored after each run, on Ctrl-C/SIGTERM, and (via a journal in the temp
// directory) at the next start if this process was killed outright.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";

interface Mutation {
  id: string;
  file: string;
  find: string;
  replace: string;
  tests: string[];
  filter?: string;
  unobservable?: string;
  note?: string;
}
type Outcome = "killed" | "survived" | "no match" | "no tests ran";

const REPO = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const JOURNAL = join(tmpdir(), `minid-mutate-${Bun.hash(REPO).toString(16)}.json`);
const { mutations } = JSON.parse(readFileSync(join(import.meta.dir, "mutations.json"), "utf8")) as { mutations: Mutation[] };

const args = process.argv.slice(2);
const onlyArg = args.indexOf("--only");
const only = onlyArg >= 0 ? new Set((args[onlyArg + 1] ?? "").split(",").filter(Boolean)) : undefined;
if (args.includes("--list")) {
  for (const m of mutations) console.log(`${m.id.padEnd(34)} ${m.file}  [${m.tests.join(" ")}${m.filter ? ` -t ${m.filter}` : ""}]`);
  process.exit(0);
}

// ---- restoring ----
let pending: { path: string; original: string } | undefined;
let child: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;

function restore(): void {
  if (!pending) return;
  writeFileSync(pending.path, pending.original);
  pending = undefined;
  rmSync(JOURNAL, { force: true });
}
function recoverJournal(): void {
  if (!existsSync(JOURNAL)) return;
  const j = JSON.parse(readFileSync(JOURNAL, "utf8")) as { path: string; original: string };
  writeFileSync(j.path, j.original);
  rmSync(JOURNAL, { force: true });
  console.error(`mutate: restored ${j.path} left mutated by an earlier run`);
}
/** The integration tests compiled dist/minid from mutated sources: build it from the real ones. */
function rebuild(): void {
  Bun.spawnSync([BUN, join(REPO, "build.ts")], { cwd: REPO, stdout: "ignore", stderr: "inherit" });
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    child?.kill("SIGKILL");
    restore();
    console.error(`\nmutate: interrupted (${sig}); sources restored, rebuilding dist/minid`);
    rebuild();
    process.exit(130);
  });
}

// ---- running ----
async function runOne(m: Mutation): Promise<{ outcome: Outcome; seconds: number; detail: string }> {
  const path = join(REPO, m.file);
  const original = readFileSync(path, "utf8");
  const hits = original.split(m.find).length - 1;
  if (hits !== 1) return { outcome: "no match", seconds: 0, detail: `pattern found ${hits} times in ${m.file}` };
  pending = { path, original };
  writeFileSync(JOURNAL, JSON.stringify(pending));
  writeFileSync(path, original.replace(m.find, () => m.replace));
  const t0 = performance.now();
  try {
    const cmd = [BUN, "test", "--timeout", "120000", ...(m.filter ? ["-t", m.filter] : []), ...m.tests];
    const proc = Bun.spawn(cmd, { cwd: REPO, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, CI: "" } });
    child = proc;
    const timer = setTimeout(() => proc.kill("SIGKILL"), 900_000);
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    child = undefined;
    const text = out + err;
    const passed = Number(/^\s*(\d+) pass$/m.exec(text)?.[1] ?? 0);
    const failed = Number(/^\s*(\d+) fail$/m.exec(text)?.[1] ?? 0);
    const seconds = (performance.now() - t0) / 1000;
    const firstFail = /^\(fail\) (.*?)(?: \[[\d.]+m?s\])?$/m.exec(text)?.[1] ?? (code !== 0 ? `exit ${code}` : "");
    if (code !== 0) return { outcome: "killed", seconds, detail: firstFail };
    if (passed === 0 && failed === 0) return { outcome: "no tests ran", seconds, detail: "filter or files matched no test" };
    return { outcome: "survived", seconds, detail: `${passed} passed` };
  } finally {
    restore();
  }
}

recoverJournal();
const chosen = mutations.filter((m) => !only || only.has(m.id));
const rows: { m: Mutation; outcome: Outcome; seconds: number; detail: string }[] = [];
for (const [i, m] of chosen.entries()) {
  process.stderr.write(`[${i + 1}/${chosen.length}] ${m.id} … `);
  const r = await runOne(m);
  process.stderr.write(`${r.outcome} (${r.seconds.toFixed(0)} s)\n`);
  rows.push({ m, ...r });
}
rebuild();

const w = Math.max(...rows.map((r) => r.m.id.length), 8);
console.log(`\n${"mutation".padEnd(w)}  result     detail`);
for (const r of rows) {
  const result = r.outcome === "survived" && r.m.unobservable ? "survived*" : r.outcome;
  const detail = r.outcome === "survived" && r.m.unobservable ? `unobservable here: ${r.m.unobservable}` : r.detail;
  console.log(`${r.m.id.padEnd(w)}  ${result.padEnd(9)}  ${detail}`);
}
const killed = rows.filter((r) => r.outcome === "killed").length;
const expected = rows.filter((r) => r.outcome === "survived" && r.m.unobservable).length;
const bad = rows.filter((r) => r.outcome !== "killed" && !(r.outcome === "survived" && r.m.unobservable));
console.log(`\n${rows.length} mutations: ${killed} killed, ${expected} survived where this host cannot observe them (*), ${bad.length} unexplained`);
for (const r of bad) console.log(`  ${r.m.id}: ${r.outcome}${r.m.note ? ` (${r.m.note})` : ""}`);
process.exit(bad.length ? 1 : 0);
