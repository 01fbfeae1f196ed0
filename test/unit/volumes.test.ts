import { describe, expect, test } from "bun:test";
import { parseVolume, parseTmpfs, parseMount, parseVolumesFrom } from "../../src/container/volumes.ts";
import { parseMountFlags } from "../../src/container/mounts.ts";

describe("parseVolume (-v)", () => {
  test("HOST:CTR is a read-write bind", () => {
    expect(parseVolume("/srv/data:/data")).toMatchObject({ type: "bind", source: "/srv/data", destination: "/data", readOnly: false });
  });
  test("NAME:CTR is a named volume, CTR alone an anonymous one", () => {
    expect(parseVolume("data:/data")).toMatchObject({ type: "volume", source: "data", destination: "/data" });
    expect(parseVolume("/data")).toMatchObject({ type: "volume", source: "", destination: "/data" });
  });
  test("modes", () => {
    expect(parseVolume("/a:/b:ro").readOnly).toBe(true);
    expect(parseVolume("/a:/b:rw").readOnly).toBe(false);
    expect(parseVolume("/a:/b:ro,Z,rslave")).toMatchObject({ readOnly: true, propagation: "rslave" });
    expect(parseVolume("/a:/b:z,cached")).toMatchObject({ readOnly: false });
    expect(parseVolume("v1:/b:nocopy,ro")).toMatchObject({ noCopy: true, readOnly: true });
  });
  test("paths are normalised", () => {
    expect(parseVolume("/a//b/../c:/x/./y/").destination).toBe("/x/y");
    expect(parseVolume("/a//b/../c:/x").source).toBe("/a/c");
  });
  for (const [spec, why] of [
    [":x", /^invalid volume specification: ':x'$/],
    ["/a:", /^invalid volume specification/],
    ["/a:relative", /mount path must be absolute/],
    ["/a:/b:ro:x", /^invalid spec: \/a:\/b:ro:x: too many colons$/],
    ["/a:/b:rx", /^invalid mode: rx$/],
    ["/a:/b:ro,rw", /^invalid mode: ro,rw$/],
    ["/a:/b:nocopy", /invalid mount config for type "bind": field VolumeOptions must not be specified$/],
    ["v1:/b:rslave", /invalid mount config for type "volume": field BindOptions must not be specified$/],
    ["x:/b", /volume name is too short/],
    ["/a:/", /destination can't be '\/'/],
    ["a b:/x", /includes invalid characters for a local volume name/],
  ] as const) {
    test(`rejects ${JSON.stringify(spec)}`, () => {
      expect(() => parseVolume(spec)).toThrow(why);
    });
  }
  test("tmpfs specs", () => {
    // Kept as given (inspect shows it as Docker does); init mounts it with mode=1777 (rootfs-plan).
    expect(parseTmpfs("/run")).toMatchObject({ type: "tmpfs", destination: "/run", options: "" });
    expect(parseTmpfs("/run:size=1m")).toMatchObject({ options: "size=1m" });
    expect(() => parseTmpfs("run")).toThrow(/absolute/);
  });
});

describe("parseMount (--mount)", () => {
  test("bind, volume and tmpfs", () => {
    expect(parseMount("type=bind,source=/h,target=/c,readonly,bind-propagation=rshared")).toMatchObject({
      type: "bind", source: "/h", destination: "/c", readOnly: true, propagation: "rshared",
    });
    expect(parseMount("type=volume,src=v1,dst=/c,volume-nocopy")).toMatchObject({ type: "volume", source: "v1", noCopy: true });
    expect(parseMount("target=/c")).toMatchObject({ type: "volume", source: "" });
    expect(parseMount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770")).toMatchObject({ type: "tmpfs", options: "size=1048576,mode=1770" });
    expect(parseMount("type=bind,src=/h,dst=/c,ro=false").readOnly).toBe(false);
  });
  for (const [spec, why] of [
    ["type=bind,foo=1,target=/c", /unexpected key 'foo' in 'foo=1'/],
    ["type=bind,source", /invalid field 'source' must be a key=value pair/],
    ["type=nfs,target=/c", /invalid mount config for type "nfs": mount type unknown/],
    ["type=bind,source=/h", /for "--mount" flag: target is required/],
    ["type=bind,target=/c", /field Source must not be empty/],
    ["type=tmpfs,source=/h,target=/c", /field Source must not be specified/],
    ["type=volume,target=/c,bind-propagation=rshared", /cannot mix 'bind-\*' options with mount type 'volume'/],
    ["type=bind,source=/h,target=/c,volume-nocopy", /cannot mix 'volume-\*' options with mount type 'bind'/],
    ["type=bind,source=/h,target=/c,tmpfs-size=1m", /cannot mix 'tmpfs-\*' options with mount type 'bind'/],
    ["type=bind,source=/h,target=/c,bind-propagation=sideways", /invalid propagation: sideways/],
    ["type=tmpfs,target=/c,tmpfs-mode=abc", /invalid value for tmpfs-mode/],
  ] as const) {
    test(`rejects ${JSON.stringify(spec)}`, () => {
      expect(() => parseMount(spec)).toThrow(why);
    });
  }
});

describe("mount flags together", () => {
  test("two mounts on one path are Docker's error", () => {
    expect(() => parseMountFlags({ volumes: ["/a:/x", "v1:/x"], tmpfs: [] })).toThrow(/^Duplicate mount point: \/x$/);
    expect(() => parseMountFlags({ volumes: ["/a:/x"], mounts: ["type=tmpfs,dst=/x"], tmpfs: [] })).toThrow(/Duplicate mount point/);
    expect(() => parseMountFlags({ volumes: [], tmpfs: ["/x"], mounts: ["dst=/x"] })).toThrow(/Duplicate mount point/);
  });
  test("--volumes-from", () => {
    expect(parseVolumesFrom("web:ro")).toEqual({ ref: "web", mode: "ro" });
    expect(parseVolumesFrom("web")).toEqual({ ref: "web", mode: undefined });
    expect(() => parseVolumesFrom("web:xx")).toThrow(/CONTAINER\[:ro\|rw\]/);
  });
});
