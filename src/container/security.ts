// Process-level confinement applied by init right before exec: identity, capabilities and
// no_new_privs. Order matters: user switch needs CAP_SETUID/SETGID, so it comes before the
// capability sets are cut down to what the container keeps.
import type { InitSpec } from "./spec.ts";
import { setgroups, setgid, setuid } from "../linux/libc.ts";

export function applyProcessSecurity(spec: InitSpec): void {
  if (spec.user) {
    setgroups(spec.user.additionalGids);
    setgid(spec.user.gid);
    setuid(spec.user.uid);
  }
}
