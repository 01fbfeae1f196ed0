import { describe, expect, test } from "bun:test";
import { parseVolume, parseTmpfs } from "../../src/container/volumes.ts";

describe("parseVolume", () => {
  test("HOST:CTR defaults to read-write", () => {
    expect(parseVolume("/srv/data:/data")).toEqual({ type: "bind", source: "/srv/data", destination: "/data", readOnly: false });
  });
  test("modes", () => {
    expect(parseVolume("/a:/b:ro").readOnly).toBe(true);
    expect(parseVolume("/a:/b:rw").readOnly).toBe(false);
  });
  test("paths are normalised", () => {
    expect(parseVolume("/a//b/../c:/x/./y/").destination).toBe("/x/y");
    expect(parseVolume("/a//b/../c:/x").source).toBe("/a/c");
  });
  for (const [spec, why] of [
    [":x", /host path is empty/],
    ["/a:", /container path is empty/],
    ["relative:/x", /must be absolute/],
    ["/a:relative", /must be absolute/],
    ["/a:/b:ro:x", /too many colons/],
    ["/a", /expected HOST:CONTAINER/],
    ["/a:/b:rx", /must be ro or rw/],
    ["/a:/", /root directory/],
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
