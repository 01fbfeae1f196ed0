// Moved to src/util/log.ts (the library logs too); this path goes once every importer uses the new one.
export { log, setLogLevel } from "../util/log.ts";
