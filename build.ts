// Build dist/minid: the busybox image recipe first (it is embedded), then one compiled
// executable with everything inside.
import { $ } from "bun";
import { existsSync, mkdirSync } from "node:fs";
import { buildBusyboxImage, OUT as IMAGE, META } from "./images/busybox/build.ts";

const force = process.argv.includes("--force");
if (force || !existsSync(IMAGE) || !existsSync(META)) await buildBusyboxImage();
mkdirSync("dist", { recursive: true });
// exec-enter.ts is a Worker entry (the thread that enters a container for exec): a Worker in
// a compiled binary must be an entry point of its own.
const t0 = performance.now();
await $`${process.execPath} build --compile --minify --bytecode --format=esm --splitting --target=bun-linux-x64 src/cli.ts src/container/exec-enter.ts --outfile dist/minid`.quiet();
console.error(`build: dist/minid in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
// The OCI runtime is the same binary under another name (src/cli.ts looks at argv0).
const { symlinkSync, rmSync } = await import("node:fs");
rmSync("dist/minid-runtime", { force: true });
symlinkSync("minid", "dist/minid-runtime");
