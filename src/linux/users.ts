// `--user` resolution against the image's /etc/passwd and /etc/group, with runc's rules
// (libcontainer/user.GetExecUser), so images behave as they do under docker.
import { realSyscalls } from "./libc.ts";
import type { Syscalls } from "./syscalls.ts";

export interface ExecUser {
  uid: number;
  gid: number;
  /** Supplementary groups, for setgroups(2). */
  additionalGids: number[];
  home: string;
}

const MAX_ID = 2147483647; // runc rejects ids outside 0..2^31-1

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

// Go's strconv.Atoi accepts an optional sign; runc relies on it, so "+5" is numeric too.
function asInt(s: string): number | null {
  return /^[+-]?\d+$/.test(s) ? Number(s) : null;
}

function rangeError(): Error {
  return new Error(`uids and gids must be in range 0-${MAX_ID}`);
}

function lines(text: string): string[][] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of lines(text)) {
    const uid = asInt(f[2] ?? "");
    const gid = asInt(f[3] ?? "");
    // Skip malformed lines instead of reading them as uid 0 (runc's Atoi-ignores-errors quirk).
    if (uid === null || gid === null) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] ?? "" });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of lines(text)) {
    const gid = asInt(f[2] ?? "");
    if (gid === null) continue;
    const members = (f[3] ?? "").split(",").map((m) => m.trim()).filter(Boolean);
    out.push({ name: f[0]!, gid, members });
  }
  return out;
}

/**
 * Resolve a docker `--user` spec ("", "name", "uid", "name:group", "uid:gid", ...).
 * `passwdText`/`groupText` are the image's files, or null when the image has none.
 *
 * - A user name must exist in passwd; a numeric uid need not (then gid 0, home "/").
 * - Without an explicit group, gid and home come from passwd and the supplementary groups are
 *   every group that lists the user by name. With an explicit group, there are none (runc).
 * - A group name must exist in group; a numeric gid need not.
 */
export function resolveUser(
  spec: string,
  passwdText: string | null,
  groupText: string | null,
): ExecUser {
  const result: ExecUser = { uid: 0, gid: 0, additionalGids: [], home: "/" };
  const colon = spec.indexOf(":");
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  // runc splits on every ':' and ignores fields after the second.
  const groupArg = colon < 0 ? "" : spec.slice(colon + 1).split(":")[0]!;
  const uidArg = asInt(userArg);
  const gidArg = asInt(groupArg);

  const users = passwdText === null ? [] : parsePasswd(passwdText);
  const user = users.find((u) =>
    userArg === "" ? u.uid === result.uid : uidArg !== null ? u.uid === uidArg : u.name === userArg,
  );

  let matchedName = "";
  if (user) {
    matchedName = user.name;
    result.uid = user.uid;
    result.gid = user.gid;
    result.home = user.home;
  } else if (userArg !== "") {
    if (uidArg === null) {
      throw new Error(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
    if (uidArg < 0 || uidArg > MAX_ID) throw rangeError();
    result.uid = uidArg;
  }

  if (groupArg === "" && matchedName === "") return result;
  const groups = groupText === null ? [] : parseGroup(groupText);

  if (groupArg !== "") {
    const g = groups.find((g) => (gidArg !== null ? g.gid === gidArg : g.name === groupArg));
    if (g) {
      result.gid = g.gid;
    } else {
      if (gidArg === null) {
        throw new Error(`unable to find group ${groupArg}: no matching entries in group file`);
      }
      if (gidArg < 0 || gidArg > MAX_ID) throw rangeError();
      result.gid = gidArg;
    }
  } else {
    result.additionalGids = groups.filter((g) => g.members.includes(matchedName)).map((g) => g.gid);
  }
  return result;
}

/**
 * `--group-add` values against the image's group file (runc's GetAdditionalGroups): a name or
 * a number that a group entry has, or any number in range. Each gid once, in the given order.
 */
export function resolveAdditionalGroups(specs: string[], groupText: string | null): number[] {
  const groups = groupText === null ? [] : parseGroup(groupText);
  const out: number[] = [];
  for (const spec of specs) {
    const g = groups.find((g) => g.name === spec || String(g.gid) === spec);
    let gid: number;
    if (g) {
      gid = g.gid;
    } else {
      const n = /^[+-]?\d+$/.test(spec) ? Number(spec) : null;
      if (n === null) throw new Error(`Unable to find group ${spec}: no matching entries in group file`);
      if (n < 0 || n > MAX_ID) throw rangeError();
      gid = n;
    }
    if (!out.includes(gid)) out.push(gid);
  }
  return out;
}

/**
 * The identity a container process gets, as Docker's daemon builds it: the user resolved as
 * runc does (an empty spec is uid 0 with root's groups from the image), and the supplementary
 * groups the primary gid first (Docker adds it since 20.10.24 so that a group the user has
 * lost in /etc/group cannot be regained by chgrp tricks), then the image's groups for the
 * user, then `--group-add`, each once.
 */
export function resolveContainerIdentity(
  spec: string,
  groupAdd: string[],
  passwdText: string | null,
  groupText: string | null,
): ExecUser {
  const u = resolveUser(spec, passwdText, groupText);
  const extra = groupAdd.length ? resolveAdditionalGroups(groupAdd, groupText) : [];
  const gids: number[] = [];
  for (const g of [u.gid, ...u.additionalGids, ...extra]) if (!gids.includes(g)) gids.push(g);
  return { ...u, additionalGids: gids };
}

/**
 * Become the user: setgroups, then setgid, then setuid. The order matters: the first two need
 * CAP_SETGID, which a non-root uid no longer has once setuid has run.
 *
 * glibc broadcasts these to every thread of the process, so they are process-wide even in Bun.
 * When capabilities must survive the switch, use applyCaps(caps, { user }) from
 * capabilities.ts instead of calling this directly.
 */
export function applyUser(u: Pick<ExecUser, "uid" | "gid" | "additionalGids">, sys: Syscalls = realSyscalls): void {
  sys.setgroups(u.additionalGids);
  sys.setgid(u.gid);
  sys.setuid(u.uid);
}
