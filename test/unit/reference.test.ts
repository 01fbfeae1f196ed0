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

import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ImageStore } from "../../src/image/store.ts";

describe("store.resolve with digests", () => {
  test("name@digest matches only the image pulled as that digest", () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-resolve-"));
    try {
      const s = new ImageStore(dir);
      s.init();
      const d = "sha256:" + "b".repeat(64);
      const cfg = { architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers" as const, diff_ids: [] } };
      const pulled = s.createImage({ ...cfg, created: "2024-01-01T00:00:00Z" }, [], [`busybox@${d}`]);
      const other = s.createImage({ ...cfg, created: "2025-01-01T00:00:00Z" }, []);
      s.setTag("busybox:latest", other.id);
      expect(s.resolve(`busybox@${d}`)?.id).toBe(pulled.id);
      expect(s.resolve(`busybox@sha256:${"c".repeat(64)}`)).toBeUndefined();
      expect(s.resolve("busybox")?.id).toBe(other.id);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
