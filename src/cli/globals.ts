// Options given before the command (`minid --root DIR run ...`), visible to every command.
import { openEngine, type Engine } from "../engine.ts";

export const globals = {
  root: undefined as string | undefined,
  storageDriver: undefined as string | undefined,
  logLevel: "info" as string,
  /** Registries reachable over plain http (--insecure-registry, repeatable). */
  insecureRegistries: [] as string[],
  /** The default bridge network's interface name and subnet (--bridge-name, --bridge-subnet). */
  bridgeName: undefined as string | undefined,
  bridgeSubnet: undefined as string | undefined,
  /** --tls-verify=false before the command: registry certificates are not checked. */
  tlsVerify: true,
};

let engine: Engine | undefined;
export function getEngine(): Engine {
  engine ??= openEngine({ root: globals.root, storageDriver: globals.storageDriver, insecureRegistries: globals.insecureRegistries, tlsVerify: globals.tlsVerify, bridgeName: globals.bridgeName, bridgeSubnet: globals.bridgeSubnet });
  return engine;
}
