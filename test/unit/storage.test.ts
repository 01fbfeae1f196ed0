import { describe, expect, test } from "bun:test";
import { overlayOptions } from "../../src/storage/overlay.ts";
import { aufsOptions } from "../../src/storage/aufs.ts";
import { chooseDriver, kernelFilesystems } from "../../src/storage/select.ts";

describe("storage drivers", () => {
  test("overlay lists the top layer first, relative to the layer store", () => {
    const o = overlayOptions(["/r/image/layers/aaa/diff", "/r/image/layers/bbb/diff"], "/c/upper", "/c/work");
    expect(o.cwd).toBe("/r/image/layers");
    expect(o.data).toBe("lowerdir=bbb/diff:aaa/diff,upperdir=/c/upper,workdir=/c/work,redirect_dir=off,metacopy=off");
  });
  test("overlay falls back to absolute paths for scattered lowers", () => {
    const o = overlayOptions(["/x/a", "/y/b"], "/u", "/w");
    expect(o.cwd).toBeUndefined();
    expect(o.data).toBe("lowerdir=/y/b:/x/a,upperdir=/u,workdir=/w,redirect_dir=off,metacopy=off");
  });
  test("overlay refuses option strings longer than a page", () => {
    const many = Array.from({ length: 200 }, (_, i) => `/r/image/layers/${String(i).padStart(64, "0")}/diff`);
    expect(() => overlayOptions(many, "/u", "/w")).toThrow(/too many layers/);
  });
  test("aufs: writable branch first, then lowers topmost first, read-only", () => {
    expect(aufsOptions(["/l/1", "/l/2"], "/c/upper")).toBe("dirs=/c/upper=rw:/l/2=ro:/l/1=ro");
  });
  test("driver choice follows /proc/filesystems", () => {
    const fs = (t: string) => kernelFilesystems(t);
    expect(chooseDriver(undefined, fs("nodev\tproc\nnodev\toverlay\n")).driver.name).toBe("overlay");
    const a = chooseDriver(undefined, fs("nodev\taufs\n"));
    expect(a.driver.name).toBe("aufs");
    expect(a.notice).toMatch(/aufs/);
    const v = chooseDriver(undefined, fs("nodev\tproc\n"));
    expect(v.driver.name).toBe("vfs");
    expect(v.notice).toMatch(/vfs/);
    expect(chooseDriver("vfs", fs("nodev\toverlay\n")).driver.name).toBe("vfs");
    expect(() => chooseDriver("aufs", fs("nodev\toverlay\n"))).toThrow(/not supported by this kernel/);
    expect(() => chooseDriver("zfs", fs(""))).toThrow(/unknown storage driver/);
  });
});
