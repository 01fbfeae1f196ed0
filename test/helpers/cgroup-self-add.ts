// Child process for the cgroup tests: joins the cgroup given as JSON paths in argv[2] with
// addProcess(0) (what the init does for itself before execve) and prints /proc/self/cgroup.
import { readFileSync } from "node:fs";
import { loadCgroup } from "../../src/linux/cgroups.ts";

loadCgroup(JSON.parse(process.argv[2]!)).addProcess(0);
process.stdout.write(readFileSync("/proc/self/cgroup", "utf8"));
