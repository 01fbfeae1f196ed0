import { describe, expect, test } from "bun:test";
import { parseGroup, parsePasswd, resolveUser } from "../../src/linux/users.ts";

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
