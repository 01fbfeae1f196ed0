import { describe, expect, test } from "bun:test";
import { parseGroup, parsePasswd, resolveAdditionalGroups, resolveContainerIdentity, resolveUser } from "../../src/linux/users.ts";

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
# a comment line
www-data:x:33:33:www-data:/var/www:/bin/false
broken:x:notanumber:0::/broken:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`;

const GROUP = `root:x:0:root
bin:x:1:root,daemon
wheel:x:10:root,alice
www-data:x:33:
alice:x:1000:
audio:x:29:bob, alice
nogroup:x:65534:
`;

describe("resolveUser", () => {
  test("empty spec is root with root's home and groups", () => {
    expect(resolveUser("", PASSWD, GROUP)).toEqual({ uid: 0, gid: 0, additionalGids: [0, 1, 10], home: "/root" });
  });

  test("empty spec without passwd/group files is 0:0 with home /", () => {
    expect(resolveUser("", null, null)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: "/" });
  });

  test("user name: uid, gid and home from passwd, supplementary groups from group", () => {
    expect(resolveUser("alice", PASSWD, GROUP)).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [10, 29],
      home: "/home/alice",
    });
  });

  test("numeric uid found in passwd behaves like its name", () => {
    expect(resolveUser("1000", PASSWD, GROUP)).toEqual(resolveUser("alice", PASSWD, GROUP));
    expect(resolveUser("33", PASSWD, GROUP)).toEqual({ uid: 33, gid: 33, additionalGids: [], home: "/var/www" });
  });

  test("numeric uid not in passwd: gid 0, home /", () => {
    expect(resolveUser("4242", PASSWD, GROUP)).toEqual({ uid: 4242, gid: 0, additionalGids: [], home: "/" });
    expect(resolveUser("4242", null, null)).toEqual({ uid: 4242, gid: 0, additionalGids: [], home: "/" });
  });

  test("user:group by names", () => {
    // An explicit group means no supplementary groups (runc).
    expect(resolveUser("alice:wheel", PASSWD, GROUP)).toEqual({
      uid: 1000,
      gid: 10,
      additionalGids: [],
      home: "/home/alice",
    });
  });

  test("uid:gid numeric, with or without entries", () => {
    expect(resolveUser("1000:33", PASSWD, GROUP)).toEqual({ uid: 1000, gid: 33, additionalGids: [], home: "/home/alice" });
    expect(resolveUser("5000:6000", PASSWD, GROUP)).toEqual({ uid: 5000, gid: 6000, additionalGids: [], home: "/" });
    expect(resolveUser("5000:6000", null, null)).toEqual({ uid: 5000, gid: 6000, additionalGids: [], home: "/" });
  });

  test("a numeric name picks by uid, never by name; a malformed line never matches", () => {
    expect(resolveUser("0", PASSWD, GROUP).home).toBe("/root");
    expect(() => resolveUser("broken", PASSWD, GROUP)).toThrow("unable to find user broken");
  });

  test("unknown user name", () => {
    expect(() => resolveUser("nobody2", PASSWD, GROUP)).toThrow(
      "unable to find user nobody2: no matching entries in passwd file",
    );
    expect(() => resolveUser("alice", null, null)).toThrow(
      "unable to find user alice: no matching entries in passwd file",
    );
  });

  test("unknown group name", () => {
    expect(() => resolveUser("alice:staff", PASSWD, GROUP)).toThrow(
      "unable to find group staff: no matching entries in group file",
    );
    expect(() => resolveUser("0:staff", PASSWD, null)).toThrow(
      "unable to find group staff: no matching entries in group file",
    );
  });

  test("out-of-range ids", () => {
    expect(() => resolveUser("-1", PASSWD, GROUP)).toThrow("uids and gids must be in range 0-2147483647");
    expect(() => resolveUser("0:4294967296", PASSWD, GROUP)).toThrow("uids and gids must be in range");
  });

  test("':group' alone keeps the default uid", () => {
    expect(resolveUser(":wheel", PASSWD, GROUP)).toEqual({ uid: 0, gid: 10, additionalGids: [], home: "/root" });
  });
});

describe("parsers", () => {
  test("passwd skips comments and malformed lines", () => {
    expect(parsePasswd(PASSWD).map((u) => u.name)).toEqual(["root", "daemon", "www-data", "alice", "nobody"]);
  });
  test("group members are trimmed", () => {
    expect(parseGroup(GROUP).find((g) => g.name === "audio")?.members).toEqual(["bob", "alice"]);
  });
});

// The identity Docker's daemon hands runc (measured against Docker 20.10 on busybox):
// the primary gid first, the image's groups for the user, then --group-add, each once.
describe("resolveContainerIdentity", () => {
  const ids = (spec: string, add: string[] = []) => resolveContainerIdentity(spec, add, PASSWD, GROUP).additionalGids;
  test("no --user: root with the primary gid and root's image groups", () => {
    expect(ids("")).toEqual([0, 1, 10]);
    expect(resolveContainerIdentity("", [], null, null)).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: "/" });
  });
  test("a named user gets the primary gid and its groups; an explicit group none but itself", () => {
    expect(ids("alice")).toEqual([1000, 10, 29]);
    expect(ids("alice:audio")).toEqual([29]);
    expect(ids("0:0")).toEqual([0]);
    expect(ids("4242")).toEqual([0]);
  });
  test("--group-add by name or number, in range, each gid once", () => {
    expect(ids("0:33", ["1234", "wheel", "10"])).toEqual([33, 1234, 10]);
    expect(ids("", ["0", "audio"])).toEqual([0, 1, 10, 29]);
    expect(ids("nobody", ["1234"])).toEqual([65534, 1234]);
  });
  test("an unknown group name, or a gid out of range, is Docker's error", () => {
    expect(() => ids("", ["nosuch"])).toThrow("Unable to find group nosuch: no matching entries in group file");
    expect(() => ids("", ["audio,video"])).toThrow("Unable to find group audio,video: no matching entries in group file");
    expect(() => ids("", ["4294967296"])).toThrow("uids and gids must be in range 0-2147483647");
    expect(resolveAdditionalGroups(["7"], null)).toEqual([7]);
  });
});
