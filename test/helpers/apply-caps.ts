// Child process for capabilities.test.ts: applies the capability/user/no_new_privs setup the
// init would, then execs `cat /proc/self/status` from the same thread so the parent can read
// the result. argv[2] is JSON: { caps, user?, allowMissing?, noNewPrivs? }.
import { applyCaps, setNoNewPrivs } from "../../src/linux/capabilities.ts";
import { execve } from "../../src/linux/libc.ts";

const cfg = JSON.parse(process.argv[2]!);
try {
  applyCaps(cfg.caps, { user: cfg.user, allowMissing: cfg.allowMissing });
  if (cfg.noNewPrivs) setNoNewPrivs();
  execve("/bin/cat", ["cat", "/proc/self/status"], []);
} catch (e) {
  process.stdout.write(`ERROR: ${(e as Error).message}\n`);
  process.exit(1);
}
