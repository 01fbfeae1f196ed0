// `system df`: what images, containers' writable layers and volumes take on disk, which of them
// are in use, and what a prune would give back.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import { treeSize } from "../volume/store.ts";
import { observe } from "../container/lifecycle.ts";

export interface DiskUsage {
  images: { id: string; tags: string[]; created: string; size: number; containers: number }[];
  containers: { st: ContainerState; size: number; volumes: number; running: boolean }[];
  volumes: { name: string; links: number; size: number }[];
}

export async function diskUsage(engine: Engine): Promise<DiskUsage> {
  const store = engine.images;
  const all = engine.containers.list();
  const tags = store.tags();
  const images = store.listImages().map((img) => ({
    id: img.id,
    tags: Object.entries(tags).filter(([, v]) => v === img.id).map(([k]) => k),
    created: img.created,
    size: store.imageSize(img),
    containers: all.filter((c) => c.imageId === img.id).length,
  }));
  const { driverByName } = await import("../storage/select.ts");
  const containers = all.map((st) => {
    let size = 0;
    try {
      size = st.broken ? 0 : treeSize(driverByName(st.storage.driver).upperDir(engine.containers.containerDir(st.id)));
    } catch {}
    const s = observe(st).status;
    return { st, size, volumes: st.mounts.filter((m) => m.volume).length, running: s === "running" || s === "paused" };
  });
  const { listVolumes, volumes: vstore } = await import("../volume/ops.ts");
  const vs = vstore(engine);
  const volumes = listVolumes(engine, []).map(({ volume, users }) => ({ name: volume.name, links: users, size: vs.size(volume.name) }));
  return { images, containers, volumes };
}
