// Registry credentials saved by `minid login`: <root>/auth.json, mode 0600, in the shape of
// Docker's config.json ({"auths": {"registry": {"auth": base64("user:password")}}}).
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { mkdirp, readJson, writeJsonAtomic } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { normalizeRegistry } from "./registry/endpoint.ts";
import type { Credentials } from "./registry/credentials.ts";

export type { Credentials };

interface AuthFile {
  auths: Record<string, { auth?: string; username?: string; password?: string }>;
}

export function authFile(root: string): string {
  return join(root, "auth.json");
}

function load(root: string): AuthFile {
  const f = authFile(root);
  let doc: AuthFile | undefined;
  try {
    doc = readJson<AuthFile>(f);
  } catch {
    throw new UserError(`${f} is not valid JSON: fix or remove it`);
  }
  if (!doc || typeof doc !== "object" || typeof doc.auths !== "object" || !doc.auths) return { auths: {} };
  return doc;
}

function save(root: string, doc: AuthFile): void {
  mkdirp(root, 0o700);
  const f = authFile(root);
  writeJsonAtomic(f, doc, 0o600);
  chmodSync(f, 0o600);
}

export function getCredentials(root: string, registry: string): Credentials | undefined {
  if (!existsSync(authFile(root))) return undefined;
  const entry = load(root).auths[normalizeRegistry(registry)];
  if (!entry) return undefined;
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const plain = Buffer.from(entry.auth, "base64").toString("utf8");
  const i = plain.indexOf(":");
  if (i < 0) return undefined;
  return { username: plain.slice(0, i), password: plain.slice(i + 1) };
}

export function storeCredentials(root: string, registry: string, creds: Credentials): void {
  const doc = load(root);
  doc.auths[normalizeRegistry(registry)] = {
    auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64"),
  };
  save(root, doc);
}

/** Returns false when there was nothing to remove. */
export function removeCredentials(root: string, registry: string): boolean {
  if (!existsSync(authFile(root))) return false;
  const doc = load(root);
  const key = normalizeRegistry(registry);
  if (!(key in doc.auths)) return false;
  delete doc.auths[key];
  save(root, doc);
  return true;
}

export interface LoginOptions {
  server?: string;
  username?: string;
  password?: string;
  insecure?: string[];
  /** --tls-verify of the command; default: the engine's. */
  tlsVerify?: boolean;
}

const REGISTRY_NAME = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)(:\d{1,5})?$/;

/**
 * `minid login`: check the credentials against the registry (a token request for Bearer
 * registries, GET /v2/ with Basic for the others) and save them only if it accepts them.
 * Returns the registry name they were saved under.
 */
export async function login(engine: { root: string; tlsVerify?: boolean }, opts: LoginOptions): Promise<string> {
  const registry = normalizeRegistry(opts.server ?? "docker.io");
  if (!REGISTRY_NAME.test(registry)) throw new UserError(`invalid registry name "${opts.server}"`);
  let { username, password } = opts;
  if (!username || password === undefined) {
    if (!process.stdin.isTTY) {
      throw new UserError("cannot perform an interactive login from a non TTY device: use -u USER and --password-stdin");
    }
    username ||= await prompt(`Username: `, true);
    if (password === undefined) password = await prompt("Password: ", false);
  }
  if (!username) throw new UserError("username is required");
  if (!password) throw new UserError("password is required");
  const { RegistryClient } = await import("./registry/client.ts");
  const { insecureList } = await import("./registry/endpoint.ts");
  const { tlsSettings } = await import("./registry/tls.ts");
  const tls = tlsSettings(engine.root, opts.tlsVerify ?? engine.tlsVerify);
  const client = new RegistryClient({ registry, repository: "", insecure: insecureList(opts.insecure), tls, credentials: { username, password } });
  await client.ping();
  storeCredentials(engine.root, registry, { username, password });
  return registry;
}

async function prompt(question: string, echo: boolean): Promise<string> {
  process.stderr.write(question);
  const stty = (arg: string) => Bun.spawnSync(["stty", arg], { stdin: "inherit", stdout: "ignore", stderr: "ignore" });
  if (!echo) stty("-echo");
  try {
    for await (const line of console) return line.trim();
    return "";
  } finally {
    if (!echo) {
      stty("echo");
      process.stderr.write("\n");
    }
  }
}
