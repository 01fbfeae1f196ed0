// `minid diff`: the container's changes to its image as Docker's A/C/D lines. The storage
// driver says where the changes are (driver.changes): a directory that holds exactly them
// (overlay's upper: whiteouts are deletions) is walked as it is; otherwise (vfs, overlay with
// redirect_dir/metacopy) diff.ts first computes them from the full tree into a scratch
// directory of the same form. Both are read through fds, never following the container's
// symlinks. An entry is C when the image has that path, A when not; what minid made only to
// mount over (/etc/hosts, /proc, ...) is left out, as Docker keeps those in its init layer.
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import { driverByName } from "../storage/select.ts";
import { S_IFDIR, S_IFMT, TreeDir } from "../storage/safe-tree.ts";
import { removeTree } from "../util/fs.ts";
import { lowerExists, mountArtifacts } from "./commit.ts";
import { mergedChildren } from "./diff.ts";

export interface Change {
  kind: "A" | "C" | "D";
  path: string;
}

const S_IFCHR = 0o020000;
const OPAQUE = "trusted.overlay.opaque";

export async function containerChanges(engine: Engine, st: ContainerState): Promise<Change[]> {
  const dir = engine.containers.containerDir(st.id);
  const source = driverByName(st.storage.driver).changes(dir);
  const inLower = lowerExists(st.storage.lowerdirs);
  if (source.kind === "upper") {
    const skip = mountArtifacts(source.dir, [], inLower);
    for (const n of source.skip) skip.add(n);
    return walkChanges(source.dir, source.overlayWhiteouts, st.storage.lowerdirs, inLower, skip);
  }
  const { withMergedView } = await import("./export.ts");
  const scratch = engine.images.scratch("diff");
  try {
    return await withMergedView(engine, st, async (root) => {
      const skip = mountArtifacts(root, [], inLower);
      const { diffTree } = await import("./diff.ts");
      diffTree(root, st.storage.lowerdirs, scratch, {
        exclude: (rel) => [...skip].some((s) => rel === s || rel.startsWith(`${s}/`)),
      });
      return walkChanges(scratch, true, st.storage.lowerdirs, inLower, skip);
    });
  } finally {
    removeTree(scratch);
  }
}

function walkChanges(top: string, whiteouts: boolean, layers: string[], inLower: (rel: string) => boolean, skip: Set<string>): Change[] {
  const out: Change[] = [];
  const root = TreeDir.open(top);
  const utf8 = (latin1: string) => Buffer.from(latin1, "latin1").toString("utf8");
  // Directories that hold something minid mounts over.
  const holders = new Set([...skip].map((p) => p.split("/").slice(0, -1).join("/")).filter(Boolean));
  const walk = (d: TreeDir, rel: string) => {
    for (const n of d.names().sort()) {
      const r = rel ? `${rel}/${utf8(n)}` : utf8(n);
      if (skip.has(r)) continue;
      const e = d.entry(n);
      if (!e) continue;
      try {
        const fmt = e.st.mode & S_IFMT;
        if (whiteouts && fmt === S_IFCHR && e.st.rdevMajor === 0 && e.st.rdevMinor === 0) {
          out.push({ kind: "D", path: `/${r}` });
          continue;
        }
        const existed = inLower(r);
        const at = out.length;
        out.push({ kind: existed ? "C" : "A", path: `/${r}` });
        if (fmt !== S_IFDIR) continue;
        const sub = e.openDir();
        try {
          // An opaque directory replaced the image's: what the image had there is deleted.
          if (whiteouts && existed && sub.xattrs().some(([k, v]) => k === OPAQUE && v.toString() === "y")) {
            const upperNames = new Set(sub.names().map(utf8));
            const lower = mergedChildren([...layers].reverse().map((l) => join(l, r)));
            for (const name of [...lower.keys()].sort()) if (!upperNames.has(name)) out.push({ kind: "D", path: `/${r}/${name}` });
          }
          walk(sub, r);
        } finally {
          sub.close();
        }
        // A directory copied up only to hold what minid mounts over (/etc for /etc/hosts) is
        // no change of the user's: Docker keeps those files in a layer of its own.
        if (existed && out.length === at + 1 && holders.has(r) && sameOwnerMode(layers, r, e.st)) out.pop();
      } finally {
        e.close();
      }
    }
  };
  try {
    walk(root, "");
  } finally {
    root.close();
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function sameOwnerMode(layers: string[], rel: string, st: { mode: number; uid: number; gid: number }): boolean {
  const { lstatSync } = require("node:fs") as typeof import("node:fs");
  for (let i = layers.length - 1; i >= 0; i--) {
    try {
      const l = lstatSync(join(layers[i]!, rel));
      return l.mode === st.mode && l.uid === st.uid && l.gid === st.gid;
    } catch {}
  }
  return false;
}
