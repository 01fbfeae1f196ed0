// The handles every command works with: where state lives and which stores are there.
import { ImageStore } from "./image/store.ts";
import { ContainerStore } from "./container/state.ts";
import { UserError } from "./util/errors.ts";

export interface Engine {
  root: string;
  images: ImageStore;
  containers: ContainerStore;
  storageDriver?: string;
  /** Registries reachable over plain http (--insecure-registry), for pulls the library starts itself. */
  insecureRegistries: string[];
  /** The default bridge network's interface and subnet (--bridge-name/--bridge-subnet, MINID_BRIDGE/MINID_BRIDGE_SUBNET), used when it is first made. */
  bridge?: { name?: string; subnet?: string };
  /** false: --tls-verify=false given before the command (registry certificates not checked). */
  tlsVerify: boolean;
}

export const DEFAULT_ROOT = "/var/lib/minid";

export function openEngine(opts: { root?: string; storageDriver?: string; insecureRegistries?: string[]; tlsVerify?: boolean; bridgeName?: string; bridgeSubnet?: string }): Engine {
  const root = opts.root || process.env.MINID_ROOT || DEFAULT_ROOT;
  return {
    root,
    images: new ImageStore(root),
    containers: new ContainerStore(root),
    storageDriver: opts.storageDriver || process.env.MINID_STORAGE_DRIVER || undefined,
    insecureRegistries: opts.insecureRegistries ?? [],
    bridge: {
      name: opts.bridgeName || process.env.MINID_BRIDGE || undefined,
      subnet: opts.bridgeSubnet || process.env.MINID_BRIDGE_SUBNET || undefined,
    },
    tlsVerify: opts.tlsVerify ?? true,
  };
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new UserError("minid needs root to manage containers: run it as root (e.g. with sudo)");
  }
}
