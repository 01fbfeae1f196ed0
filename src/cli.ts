#!/usr/bin/env bun
// Entry point. Internal entry points are recognised before anything else is loaded, so the
// init a container starts with pays for nothing it does not use and can never re-enter the
// CLI (see design.md, "the re-exec trap").
const sub = process.argv[2];
if (process.env.MINID_TRACE === "1") (await import("./util/trace.ts")).trace(`entry (origin ${performance.timeOrigin.toFixed(1)})`);
// OCI runtime (src/runtime/): runc's CLI under the name minid-runtime (a symlink to this
// binary) or as `minid runtime …`; its init and exec entries are internal like _init.
const asRuntime = /(^|\/)minid-runtime$/.test(process.argv0);
if (asRuntime || sub === "runtime") {
  const { runtimeMain } = await import("./runtime/main.ts");
  process.exit(await runtimeMain(process.argv.slice(asRuntime ? 2 : 3)));
} else if (sub === "_oci-init") {
  const { ociInitMain } = await import("./runtime/init.ts");
  ociInitMain();
} else if (sub === "_oci-exec") {
  const { ociExecMain } = await import("./runtime/exec-init.ts");
  ociExecMain();
} else if (sub === "_init") {
  const { initMain } = await import("./container/init.ts");
  initMain();
} else if (sub === "_watcher") {
  // A watcher started ahead of its container launches init before loading the rest of its
  // code, so the two start-ups overlap (MINID_WATCHER="-" marks that case; see watcher.ts).
  let early;
  if (process.env.MINID_WATCHER === "-" && process.env.MINID_WATCHER_MODE) {
    const { launchInit } = await import("./container/init-launch.ts");
    early = launchInit(JSON.parse(process.env.MINID_WATCHER_MODE));
  }
  const { watcherMain } = await import("./container/watcher-main.ts");
  await watcherMain(early);
} else {
  // `run` starts its watcher, `exec` its entering thread, before the CLI's own code loads
  // (see container/early-run.ts).
  if (process.argv.includes("run") || process.argv.includes("exec")) await (await import("./container/early-run.ts")).prestartForCommand(process.argv.slice(2));
  const { main } = await import("./cli/main.ts");
  const code = await main(process.argv.slice(2));
  if (process.env.MINID_TRACE === "1") (await import("./util/trace.ts")).trace("exit");
  process.exit(code);
}
export {};
