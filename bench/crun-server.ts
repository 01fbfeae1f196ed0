// Runs inside the private mount namespace CrunTimer (peers.ts) sets up: one `crun run` of the
// bundle per "run" line on stdin, its wall time in ms (or an error) per line on stdout.
import { timeCommand } from "./lib.ts";

const bundle = process.argv[2]!;
let n = 0;
const decoder = new TextDecoder();
let buf = "";
for await (const chunk of Bun.stdin.stream()) {
  buf += decoder.decode(chunk);
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    buf = buf.slice(nl + 1);
    try {
      const ms = timeCommand(["crun", "--cgroup-manager=disabled", "run", "-b", bundle, `minid-bench-crun-${process.pid}-${n++}`]);
      process.stdout.write(`${ms}\n`);
    } catch (e) {
      process.stdout.write(`${String((e as Error).message).replace(/\n/g, " ")}\n`);
    }
  }
}
