// run's --pull and -q against a loopback docker-registry.
import { describe, expect } from "bun:test";
import { it, minid, useRegistry, type Fixture } from "../helpers/registry-suite.ts";

let reg: Fixture["reg"];
const { newRoot } = useRegistry((f) => ({ reg } = f));

describe("run --pull, -q", () => {
  it("missing pulls once with its progress; -q says nothing; always pulls again; never refuses", async () => {
    const ref = `${reg.host}/test/busybox:1`;
    const a = newRoot("runpull");
    const first = await minid(a, ["run", "--rm", ref, "cat", "/etc/hello"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe("hi\n");
    expect(first.stderr).toContain(`Unable to find image '${ref}' locally`);
    expect(first.stderr).toContain("Pulling from test/busybox");
    // Present now: missing (the default) does not pull.
    expect((await minid(a, ["run", "--rm", "--pull", "missing", ref, "true"])).stderr).toBe("");
    // always: pulled again (progress, no "Unable to find").
    const again = await minid(a, ["run", "--rm", "--pull", "always", ref, "true"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("Pulling from test/busybox");
    expect(again.stderr).not.toContain("Unable to find");
    const b = newRoot("runpullq");
    const quiet = await minid(b, ["run", "--rm", "-q", ref, "cat", "/etc/hello"]);
    expect([quiet.code, quiet.stdout, quiet.stderr]).toEqual([0, "hi\n", ""]);
    const c = newRoot("runpulln");
    const never = await minid(c, ["run", "--rm", "--pull", "never", ref, "true"]);
    expect(never.code).toBe(125);
    expect(never.stderr).toBe(`minid: No such image: ${ref}\n`);
  });
});
