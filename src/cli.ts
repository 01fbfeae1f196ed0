#!/usr/bin/env bun
// Entry point. Internal entry points are recognised before anything else is loaded, so the
// init a container starts with pays for nothing it does not use and can never re-enter the
// CLI (see design.md, "the re-exec trap").
const sub = process.argv[2];
if (process.env.MINID_TRACE === "1") process.stderr.write(`trace ${(performance.timeOrigin + performance.now()).toFixed(1)} ${process.pid} entry (origin ${performance.timeOrigin.toFixed(1)})\n`);
if (sub === "_init") {
  const { initMain } = await import("./container/init.ts");
  initMain();
} else if (sub === "_shim") {
  const { shimMain } = await import("./container/shim.ts");
  await shimMain();
} else {
  const { main } = await import("./cli/main.ts");
  const code = await main(process.argv.slice(2));
  if (process.env.MINID_TRACE === "1") process.stderr.write(`trace ${(performance.timeOrigin + performance.now()).toFixed(1)} ${process.pid} exit\n`);
  process.exit(code);
}
export {};
