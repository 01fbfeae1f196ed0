#!/usr/bin/env bun
// Entry point. Internal entry points are recognised before anything else is loaded, so the
// init a container starts with pays for nothing it does not use and can never re-enter the
// CLI (see design.md, "the re-exec trap").
const sub = process.argv[2];
if (sub === "_init") {
  const { initMain } = await import("./container/init.ts");
  initMain();
} else {
  const { main } = await import("./cli/main.ts");
  process.exit(await main(process.argv.slice(2)));
}
export {};
