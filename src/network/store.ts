// The network store: one JSON record per network under <root>/networks/<id>.json, and each
// bridge network's address allocations in <root>/networks/ipam/<id>.json ({ip: containerId}).
// Every change happens under one lock (<root>/networks/.lock) and every document is replaced
// atomically, so two parallel starts can never be handed one address.
//
// The predefined networks (Docker's three) are records too, made on first use:
//   bridge  the default, a Linux bridge (`minid0` for the default root; for any other root a
//           name derived from the root's path, so two stores never share one), its subnet
//           172.17.0.0/16 when the host's routes leave it free, else the next free block;
//           --bridge-name / MINID_BRIDGE and --bridge-subnet / MINID_BRIDGE_SUBNET choose;
//   host    the host's namespace;   none   only a loopback.
// Host-side pieces (the bridge interface, firewall rules) live in bridge.ts and firewall.ts.
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { mkdirp, readJson, withLock, writeJsonAtomic } from "../util/fs.ts";
import { newId } from "../util/ids.ts";
import { UserError } from "../util/errors.ts";
import { nowRfc3339Nano } from "../container/logs.ts";

export interface NetworkRecord {
  id: string;
  name: string;
  /** "bridge" for a real network; "host" and "null" for the predefined host and none. */
  driver: "bridge" | "host" | "null";
  created: string;
  internal: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Bridge networks: the IPv4 subnet (CIDR), gateway (the bridge's address) and interface. */
  subnet?: string;
  gateway?: string;
  bridge?: string;
  /** One of Docker's three predefined networks: never removed by `network rm`/`prune`. */
  predefined?: boolean;
  /** The subnet/gateway were given by the user (Docker shows them in IPAM.Config either way). */
  userSubnet?: boolean;
}

/** What `--bridge-name`/`--bridge-subnet` (or their env) say about the default network. */
export interface BridgeSettings {
  name?: string;
  subnet?: string;
}

export const PREDEFINED = ["bridge", "host", "none"];
export const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class NetworkStore {
  readonly dir: string;
  constructor(readonly root: string) {
    this.dir = join(root, "networks");
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }
  ipamFile(id: string): string {
    return join(this.dir, "ipam", `${id}.json`);
  }

  /** Run fn under the store's lock (records and allocations). */
  locked<T>(fn: () => T): T {
    return withLock(join(this.dir, ".lock"), fn);
  }

  list(): NetworkRecord[] {
    if (!existsSync(this.dir)) return [];
    const out: NetworkRecord[] = [];
    for (const n of readdirSync(this.dir)) {
      if (!/^[a-f0-9]{64}\.json$/.test(n)) continue;
      try {
        const r = readJson<NetworkRecord>(join(this.dir, n));
        if (r?.id && r.name) out.push(r);
      } catch {
        // a torn or foreign file is no network
      }
    }
    // Ordinal, not localeCompare: the same order for these ASCII times without starting ICU.
    return out.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  }

  /** A network by exact name, full id, or unique id prefix (Docker's order). */
  find(ref: string): NetworkRecord | undefined {
    const all = this.list();
    const byName = all.find((n) => n.name === ref);
    if (byName) return byName;
    const byId = all.find((n) => n.id === ref);
    if (byId) return byId;
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    const prefixed = all.filter((n) => n.id.startsWith(ref));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  /** find(), or the Docker CLI's error (exit 1 outside run/create). */
  get(ref: string, exitCode = 1): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw new UserError(`network ${ref} not found`, exitCode);
    return n;
  }

  save(r: NetworkRecord): void {
    mkdirp(this.dir, 0o700);
    writeJsonAtomic(this.file(r.id), r, 0o600);
  }

  delete(id: string): void {
    for (const f of [this.file(id), this.ipamFile(id)]) {
      try {
        unlinkSync(f);
      } catch (e: any) {
        if (e?.code !== "ENOENT") throw e;
      }
    }
  }

  allocations(id: string): Record<string, string> {
    try {
      return readJson<Record<string, string>>(this.ipamFile(id)) ?? {};
    } catch {
      return {};
    }
  }

  saveAllocations(id: string, a: Record<string, string>): void {
    mkdirp(join(this.dir, "ipam"), 0o700);
    writeJsonAtomic(this.ipamFile(id), a, 0o600);
  }

  /** A new record (id, time, defaults filled in). Call under locked(). */
  create(r: Omit<NetworkRecord, "id" | "created"> & { id?: string }): NetworkRecord {
    if (this.list().some((n) => n.name === r.name)) throw new UserError(`network with name ${r.name} already exists`);
    const rec: NetworkRecord = { ...r, id: r.id ?? newId(), created: nowRfc3339Nano() };
    this.save(rec);
    return rec;
  }
}

/** The default bridge's interface name for a store: minid0 for the default root. */
export function defaultBridgeName(root: string, defaultRoot: string): string {
  const { resolve } = require("node:path") as typeof import("node:path");
  if (resolve(root) === resolve(defaultRoot)) return "minid0";
  // Bun.hash is built in (no node:crypto on the start path); 8 hex digits name the store.
  const h = (Number(BigInt.asUintN(32, BigInt(Bun.hash(resolve(root))))) >>> 0).toString(16).padStart(8, "0");
  return `minid${h}`;
}
