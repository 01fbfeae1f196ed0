// `minid info`: Docker's types.Info for this engine (what is true of minid here: its store,
// the storage driver in use, the cgroup version and driver, the kernel, the counts).
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { availableParallelism, hostname, totalmem } from "node:os";
import type { Engine } from "../engine.ts";
import { observe } from "../container/lifecycle.ts";
import pkg from "../../package.json" with { type: "json" };

function osRelease(): { name: string; version: string } {
  try {
    const t = readFileSync("/etc/os-release", "utf8");
    const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, "m").exec(t)?.[1] ?? "";
    return { name: get("PRETTY_NAME") || "Linux", version: get("VERSION_ID") };
  } catch {
    return { name: "Linux", version: "" };
  }
}

function backingFs(path: string): string {
  // statfs f_type of the store, named as Docker's graphdriver does for the common ones.
  const names: Record<number, string> = { 0xef53: "extfs", 0x9123683e: "btrfs", 0x58465342: "xfs", 0x01021994: "tmpfs", 0x794c7630: "overlayfs", 0x2fc12fc1: "zfs" };
  try {
    let p = path;
    while (!existsSync(p)) p = p.replace(/\/[^/]*$/, "") || "/";
    const t = statfsSync(p).type;
    return names[t] ?? `<unknown> (0x${t.toString(16)})`;
  } catch {
    return "<unknown>";
  }
}

export async function engineInfo(engine: Engine): Promise<Record<string, unknown>> {
  const all = engine.containers.list();
  const states = all.map((c) => observe(c).status);
  const { chooseDriver } = await import("../storage/select.ts");
  const { driver } = chooseDriver(engine.storageDriver);
  const { detectCgroupVersion } = await import("../linux/cgroups.ts");
  const cgv = detectCgroupVersion();
  const kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  const os = osRelease();
  const driverStatus: [string, string][] =
    driver.name === "vfs" ? [] : [["Backing Filesystem", backingFs(engine.root)], ["Supports d_type", "true"], ["Native Overlay Diff", "true"], ["userxattr", "false"]];
  const { resolve } = await import("node:path");
  return {
    ID: "",
    Containers: all.length,
    ContainersRunning: states.filter((s) => s === "running").length,
    ContainersPaused: states.filter((s) => s === "paused").length,
    ContainersStopped: states.filter((s) => s !== "running" && s !== "paused").length,
    Images: engine.images.listImages().length,
    Driver: driver.name,
    DriverStatus: driverStatus,
    Plugins: { Volume: ["local"], Network: ["none"], Authorization: null, Log: ["json-file"] },
    MemoryLimit: true,
    SwapLimit: cgv === "v2" ? true : existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    OomKillDisable: cgv === "v1",
    LoggingDriver: "json-file",
    CgroupDriver: "cgroupfs",
    CgroupVersion: cgv === "v2" ? "2" : "1",
    KernelVersion: kernel,
    OperatingSystem: os.name,
    OSVersion: os.version,
    OSType: "linux",
    Architecture: process.arch === "x64" ? "x86_64" : process.arch,
    NCPU: availableParallelism(),
    MemTotal: totalmem(),
    DockerRootDir: resolve(engine.root),
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: pkg.version,
    Runtimes: { minid: { path: process.execPath } },
    DefaultRuntime: "minid",
    Swarm: { LocalNodeState: "inactive" },
    LiveRestoreEnabled: false,
    SecurityOptions: ["name=seccomp,profile=default", "name=no-new-privileges"],
    Warnings: null,
  };
}

/** Docker's `info` text (the Server part: there is no separate client here). */
export function infoText(i: Record<string, any>): string {
  const l: string[] = [];
  l.push("Server:");
  l.push(` Containers: ${i.Containers}`, `  Running: ${i.ContainersRunning}`, `  Paused: ${i.ContainersPaused}`, `  Stopped: ${i.ContainersStopped}`);
  l.push(` Images: ${i.Images}`);
  l.push(` Server Version: ${i.ServerVersion}`);
  l.push(` Storage Driver: ${i.Driver}`);
  for (const [k, v] of i.DriverStatus as [string, string][]) l.push(`  ${k}: ${v}`);
  l.push(` Logging Driver: ${i.LoggingDriver}`);
  l.push(` Cgroup Driver: ${i.CgroupDriver}`);
  l.push(` Cgroup Version: ${i.CgroupVersion}`);
  l.push(" Plugins:", `  Volume: ${i.Plugins.Volume.join(" ")}`, `  Network: ${i.Plugins.Network.join(" ")}`, `  Log: ${i.Plugins.Log.join(" ")}`);
  l.push(" Swarm: inactive");
  l.push(` Runtimes: ${Object.keys(i.Runtimes).join(" ")}`);
  l.push(` Default Runtime: ${i.DefaultRuntime}`);
  l.push(" Security Options:");
  for (const s of i.SecurityOptions as string[]) {
    const kv = Object.fromEntries(s.split(",").map((p) => p.split("=") as [string, string]));
    l.push(`  ${kv.name}`);
    if (kv.profile) l.push(`   Profile: ${kv.profile}`);
  }
  l.push(` Kernel Version: ${i.KernelVersion}`);
  l.push(` Operating System: ${i.OperatingSystem}`);
  l.push(` OSType: ${i.OSType}`);
  l.push(` Architecture: ${i.Architecture}`);
  l.push(` CPUs: ${i.NCPU}`);
  l.push(` Total Memory: ${humanBinary(i.MemTotal)}`);
  l.push(` Name: ${i.Name}`);
  l.push(` Docker Root Dir: ${i.DockerRootDir}`);
  l.push(" Debug Mode: false");
  l.push(" Experimental: false");
  l.push(" Live Restore Enabled: false");
  return l.join("\n") + "\n\n";
}

/** go-units BytesSize: 1024-based, 4 significant digits ("23.54GiB"). */
function humanBinary(n: number): string {
  const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))}${u[i]}`;
}
