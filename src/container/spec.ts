// Moved to src/spec/init-spec.ts (the ground floor: storage and linux/ use it too); this path
// goes once every importer uses the new one.
export type { InitSpec, MountSpec, RootfsSpec } from "../spec/init-spec.ts";
