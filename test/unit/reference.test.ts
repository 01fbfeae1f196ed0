import { describe, expect, test } from "bun:test";
import { parseReference, familiarName, tagKey, formatReference } from "../../src/image/reference.ts";

describe("parseReference", () => {
  test("Docker Hub short names", () => {
    expect(parseReference("busybox")).toEqual({ registry: "docker.io", repository: "library/busybox", tag: "latest", digest: undefined });
    expect(parseReference("user/app:1.2")).toMatchObject({ registry: "docker.io", repository: "user/app", tag: "1.2" });
  });
  test("registries with ports and localhost", () => {
    expect(parseReference("localhost:5000/a/b:t")).toMatchObject({ registry: "localhost:5000", repository: "a/b", tag: "t" });
    expect(parseReference("127.0.0.1:5000/x")).toMatchObject({ registry: "127.0.0.1:5000", repository: "x", tag: "latest" });
    expect(parseReference("ghcr.io/o/r")).toMatchObject({ registry: "ghcr.io", repository: "o/r" });
  });
  test("digests", () => {
    const d = "sha256:" + "a".repeat(64);
    expect(parseReference(`busybox@${d}`)).toMatchObject({ tag: undefined, digest: d });
    expect(parseReference(`busybox:1@${d}`)).toMatchObject({ tag: "1", digest: d });
  });
  test("bad syntax", () => {
    for (const bad of ["", "UPPER", "a:b:c", "busybox@sha256:123", "a//b", "-x", "busybox:"]) {
      expect(() => parseReference(bad)).toThrow(/invalid reference format/);
    }
  });
  test("familiar names and tag keys", () => {
    expect(familiarName(parseReference("docker.io/library/busybox"))).toBe("busybox");
    expect(tagKey(parseReference("busybox"))).toBe("busybox:latest");
    expect(tagKey(parseReference("localhost:5000/x:2"))).toBe("localhost:5000/x:2");
    expect(formatReference(parseReference("index.docker.io/library/alpine:3"))).toBe("alpine:3");
  });
});
