import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CAP_NAMES, DEFAULT_CAPS, capName, capNumber, kernelLastCap, resolveCaps,
} from "../../src/linux/capabilities.ts";

const HELPER = join(import.meta.dir, "../helpers/apply-caps.ts");
const n = (...names: string[]) => names.map(capNumber).sort((a, b) => a - b);
const DEFAULTS = n(...DEFAULT_CAPS);
const ALL = CAP_NAMES.map((_, i) => i);

describe("capability table", () => {
  test("covers 0..40 with the kernel's numbering", () => {
    expect(CAP_NAMES.length).toBe(41);
    expect(capNumber("CHOWN")).toBe(0);
    expect(capNumber("SYS_ADMIN")).toBe(21);
    expect(capNumber("SYS_RESOURCE")).toBe(24);
    expect(capNumber("AUDIT_WRITE")).toBe(29);
    expect(capNumber("SETFCAP")).toBe(31);
    expect(capNumber("BPF")).toBe(39);
    expect(capNumber("CHECKPOINT_RESTORE")).toBe(40);
    expect(capName(12)).toBe("CAP_NET_ADMIN");
  });

  test("docker's 14 defaults", () => {
    expect(DEFAULTS).toEqual([0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]);
  });
});

describe("resolveCaps", () => {
  test("no flags → defaults", () => {
    expect(resolveCaps({})).toEqual(DEFAULTS);
  });
  test("names in any case, with or without CAP_", () => {
    const want = [...DEFAULTS, 12].sort((a, b) => a - b);
    expect(resolveCaps({ add: ["NET_ADMIN"] })).toEqual(want);
    expect(resolveCaps({ add: ["cap_net_admin"] })).toEqual(want);
    expect(resolveCaps({ add: ["Net_Admin"], drop: [] })).toEqual(want);
  });
  test("drop removes from defaults; adding a default again is harmless", () => {
    expect(resolveCaps({ drop: ["chown", "CAP_KILL"], add: ["SETUID"] })).toEqual(
      DEFAULTS.filter((c) => c !== 0 && c !== 5),
    );
  });
  test("drop ALL keeps only add", () => {
    expect(resolveCaps({ drop: ["ALL"], add: ["NET_BIND_SERVICE", "chown"] })).toEqual([0, 10]);
    expect(resolveCaps({ drop: ["all"] })).toEqual([]);
  });
  test("add ALL gives everything but drop", () => {
    expect(resolveCaps({ add: ["ALL"], drop: ["SYS_ADMIN"] })).toEqual(ALL.filter((c) => c !== 21));
    expect(resolveCaps({ add: ["ALL"], drop: ["ALL"] })).toEqual(ALL);
  });
  test("privileged gives everything, ignoring add/drop", () => {
    expect(resolveCaps({ privileged: true, drop: ["ALL"] })).toEqual(ALL);
  });
  test("unknown names are an error, even when ALL would win", () => {
    expect(() => resolveCaps({ add: ["NET_ADMINN"] })).toThrow('invalid CapAdd: unknown capability: "CAP_NET_ADMINN"');
    expect(() => resolveCaps({ add: ["ALL"], drop: ["cap_foo"] })).toThrow('invalid CapDrop: unknown capability: "CAP_FOO"');
  });
});

// ---- Real application in a child process (needs root; it changes the child only) ----

interface Status {
  raw: string;
  field(name: string): string;
  caps(name: string): bigint;
}

function runHelper(cfg: object): Status {
  const r = Bun.spawnSync([process.execPath, HELPER, JSON.stringify(cfg)], { stderr: "pipe", timeout: 30_000, killSignal: "SIGKILL" });
  const raw = r.stdout.toString();
  if (r.exitCode !== 0 || raw.startsWith("ERROR")) {
    throw new Error(`helper failed (${r.exitCode}): ${raw}${r.stderr.toString()}`);
  }
  const field = (name: string) => {
    const m = new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(raw);
    if (!m) throw new Error(`no ${name} in:\n${raw}`);
    return m[1]!.trim();
  };
  return { raw, field, caps: (name) => BigInt("0x" + field(name)) };
}

const mask = (caps: number[]) => caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
const ownBounding = BigInt("0x" + /^CapBnd:\s*(\w+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]);
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("applyCaps / setNoNewPrivs (child process, then execve)", () => {
  test("docker defaults: bounding = permitted = effective, nothing ambient or inheritable", () => {
    const s = runHelper({ caps: DEFAULTS });
    expect(s.caps("CapBnd")).toBe(mask(DEFAULTS));
    expect(s.caps("CapPrm")).toBe(mask(DEFAULTS));
    expect(s.caps("CapEff")).toBe(mask(DEFAULTS));
    expect(s.caps("CapAmb")).toBe(0n);
    expect(s.caps("CapInh")).toBe(0n);
    expect(s.field("NoNewPrivs")).toBe("0");
  });

  test("drop ALL + add NET_ADMIN", () => {
    const caps = resolveCaps({ drop: ["ALL"], add: ["NET_ADMIN"] });
    const s = runHelper({ caps });
    expect(s.caps("CapBnd")).toBe(1n << 12n);
    expect(s.caps("CapEff")).toBe(1n << 12n);
  });

  test("no_new_privs reaches the exec'd program", () => {
    const s = runHelper({ caps: DEFAULTS, noNewPrivs: true });
    expect(s.field("NoNewPrivs")).toBe("1");
    expect(s.caps("CapBnd")).toBe(mask(DEFAULTS));
  });

  test("privileged with allowMissing gets what minid itself holds", () => {
    const s = runHelper({ caps: resolveCaps({ privileged: true }), allowMissing: true });
    const want = mask(ALL.filter((c) => c <= kernelLastCap())) & ownBounding;
    expect(s.caps("CapBnd")).toBe(want);
    expect(s.caps("CapEff")).toBe(want);
  });

  test("asking for a capability minid lacks is a clear error (if this host lacks one)", () => {
    const missing = ALL.filter((c) => c <= kernelLastCap() && (ownBounding & (1n << BigInt(c))) === 0n);
    if (missing.length === 0) {
      console.log("skip: this process holds every capability, nothing to be missing");
      return;
    }
    expect(() => runHelper({ caps: [0, missing[0]!] })).toThrow(`ERROR: cannot grant ${capName(missing[0]!)}:`);
  });

  test("switching to a non-root user works even without SETUID/SETGID in the set", () => {
    const s = runHelper({
      caps: resolveCaps({ drop: ["ALL"] }),
      user: { uid: 1000, gid: 1001, additionalGids: [10, 1001] },
      noNewPrivs: true,
    });
    expect(s.field("Uid").split(/\s+/)).toEqual(["1000", "1000", "1000", "1000"]);
    expect(s.field("Gid").split(/\s+/)).toEqual(["1001", "1001", "1001", "1001"]);
    expect(s.field("Groups").split(/\s+/)).toEqual(["10", "1001"]);
    expect(s.caps("CapBnd")).toBe(0n);
    expect(s.caps("CapPrm")).toBe(0n);
    expect(s.caps("CapEff")).toBe(0n);
  });

  test("a non-root user keeps the bounding set but, as in docker, no effective caps after exec", () => {
    const s = runHelper({ caps: DEFAULTS, user: { uid: 1000, gid: 1000, additionalGids: [] } });
    expect(s.field("Uid").split(/\s+/)[0]).toBe("1000");
    expect(s.field("Groups")).toBe("");
    expect(s.caps("CapBnd")).toBe(mask(DEFAULTS));
    expect(s.caps("CapPrm")).toBe(0n);
    expect(s.caps("CapEff")).toBe(0n);
    expect(s.caps("CapAmb")).toBe(0n);
  });
});
