// certs.d as Docker reads it, the certificate error lines, and push's compression options:
// no network, no root.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import { certificateMessage, isCertificateError, tlsFilesFor, tlsSettings } from "../../src/image/registry/tls.ts";
import { checkLevel, compressLayer, parseCompressionFormat, rememberBlob, rememberedBlob, reposOf } from "../../src/image/layer-compress.ts";
import { ImageStore } from "../../src/image/store.ts";

const dir = mkdtempSync(join(tmpdir(), "minid-unit-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("certs.d", () => {
  const system = join(dir, "system");
  const root = join(dir, "root");
  const s = tlsSettings(root, true, { MINID_CERTS_D: system });

  test("both directories, every *.crt a CA, NAME.cert with NAME.key the client certificate", () => {
    expect(s.certsDirs).toEqual([system, join(root, "certs.d")]);
    expect(tlsSettings(root, true, {}).certsDirs[0]).toBe("/etc/docker/certs.d");
    mkdirSync(join(system, "reg:5000"), { recursive: true });
    mkdirSync(join(root, "certs.d", "reg:5000"), { recursive: true });
    writeFileSync(join(system, "reg:5000", "ca.crt"), "CA1");
    writeFileSync(join(root, "certs.d", "reg:5000", "extra.crt"), "CA2");
    writeFileSync(join(root, "certs.d", "reg:5000", "client.cert"), "CERT");
    writeFileSync(join(root, "certs.d", "reg:5000", "client.key"), "KEY");
    expect(tlsFilesFor("reg:5000", s)).toEqual({ ca: ["CA1", "CA2"], cert: "CERT", key: "KEY" });
    expect(tlsFilesFor("other:5000", s)).toEqual({ ca: [] });
  });

  test("a certificate without its key, or a key without its certificate, is an error", () => {
    mkdirSync(join(system, "half:1"), { recursive: true });
    writeFileSync(join(system, "half:1", "client.cert"), "CERT");
    expect(() => tlsFilesFor("half:1", s)).toThrow(/missing key .*half:1\/client\.key for client certificate/);
    rmSync(join(system, "half:1", "client.cert"));
    writeFileSync(join(system, "half:1", "client.key"), "KEY");
    expect(() => tlsFilesFor("half:1", s)).toThrow(/missing client certificate/);
  });

  test("certificate errors are one line naming both places for the CA", () => {
    const e = Object.assign(new Error("unable to verify the first certificate"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    expect(isCertificateError(e)).toBe(true);
    expect(isCertificateError(Object.assign(new Error("x"), { code: "EPROTO" }))).toBe(false);
    const m = certificateMessage("reg:5000", "https://reg:5000", e, s);
    expect(m).toBe(
      `x509: certificate signed by unknown authority: registry reg:5000 (https://reg:5000) (unable to verify the first certificate); ` +
        `put its CA certificate in ${join(root, "certs.d", "reg:5000", "ca.crt")} or ${join(system, "reg:5000", "ca.crt")}, or pass --tls-verify=false`,
    );
    expect(m).not.toContain("\n");
    const alt = certificateMessage("reg:5000", "https://reg:5000", Object.assign(new Error("Hostname/IP does not match"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" }), s);
    expect(alt).toMatch(/not valid for that name/);
  });
});

describe("push compression options", () => {
  test("formats and levels", () => {
    expect(parseCompressionFormat(undefined)).toBeUndefined();
    expect(parseCompressionFormat("zstd")).toBe("zstd");
    expect(() => parseCompressionFormat("lz4")).toThrow(/use gzip or zstd/);
    expect(checkLevel("gzip", undefined)).toBe(6);
    expect(checkLevel("zstd", undefined)).toBe(3);
    expect(checkLevel("gzip", 9)).toBe(9);
    expect(() => checkLevel("gzip", 10)).toThrow(/1 to 9/);
    expect(() => checkLevel("zstd", 0)).toThrow(/1 to 19/);
  });

  test("compressLayer: the same input gives the same bytes; a wrong DiffID is refused", async () => {
    const tar = new Uint8Array(4096).fill(7);
    const src = join(dir, "layer.tar");
    writeFileSync(src, tar);
    const diffId = `sha256:${new Bun.CryptoHasher("sha256").update(tar).digest("hex")}`;
    const a = await compressLayer(src, "none", diffId, "gzip", 6, join(dir, "a.gz"));
    const b = await compressLayer(src, "none", diffId, "gzip", 6, join(dir, "b.gz"));
    expect(a).toEqual(b);
    expect(gunzipSync(await Bun.file(join(dir, "a.gz")).bytes())).toEqual(Buffer.from(tar));
    // gzip → zstd, checked against the DiffID on the way
    const z = await compressLayer(join(dir, "a.gz"), "gzip", diffId, "zstd", 3, join(dir, "c.zst"));
    expect(Buffer.from((await Bun.file(join(dir, "c.zst")).bytes()).subarray(0, 4)).readUInt32BE(0)).toBe(0x28b52ffd);
    expect(z.size).toBe(Bun.file(join(dir, "c.zst")).size);
    await expect(compressLayer(src, "none", `sha256:${"0".repeat(64)}`, "gzip", 6, join(dir, "d.gz"))).rejects.toThrow(/is corrupt/);
  });

  test("remembered compressed digests: per format and level, with the repositories; a corrupt file is ignored and rewritten", () => {
    const store = new ImageStore(join(dir, "store"));
    const diffId = `sha256:${"a".repeat(64)}`;
    mkdirSync(store.layerDir(diffId), { recursive: true });
    writeFileSync(join(store.layerDir(diffId), "layer.json"), "{}");
    writeFileSync(join(store.layerDir(diffId), "pushed.json"), "{not json");
    expect(rememberedBlob(store, diffId, "gzip", 6)).toBeUndefined();
    const entry = { compression: "gzip" as const, level: 6, digest: `sha256:${"b".repeat(64)}`, size: 10 };
    rememberBlob(store, diffId, entry, "reg:5000/a/b");
    rememberBlob(store, diffId, entry, "reg:5000/c/d");
    expect(rememberedBlob(store, diffId, "gzip", 6)).toEqual({ ...entry, repos: ["reg:5000/a/b", "reg:5000/c/d"] });
    expect(rememberedBlob(store, diffId, "gzip", 9)).toBeUndefined();
    expect(rememberedBlob(store, diffId, "zstd", 6)).toBeUndefined();
    expect(reposOf(store, diffId, entry.digest)).toEqual(["reg:5000/a/b", "reg:5000/c/d"]);
    // a layer removed meanwhile gets no file
    const gone = `sha256:${"c".repeat(64)}`;
    rememberBlob(store, gone, entry, "reg:5000/a/b");
    expect(rememberedBlob(store, gone, "gzip", 6)).toBeUndefined();
  });
});
