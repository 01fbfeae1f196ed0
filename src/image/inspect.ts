// `minid inspect IMAGE` / `minid image inspect`: Docker's image-inspect document.
import type { Engine } from "../engine.ts";
import { hexOf, type ImageRecord } from "./store.ts";
import { UserError } from "../util/errors.ts";

/** Docker's ContainerConfig as `docker image inspect` shows it (absent keys spelled out). */
function dockerConfig(c: Record<string, any> | undefined): Record<string, unknown> {
  const cfg = c ?? {};
  return {
    Hostname: "",
    Domainname: "",
    User: cfg.User ?? "",
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ExposedPorts: cfg.ExposedPorts,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: cfg.Env ?? null,
    Cmd: cfg.Cmd ?? null,
    Image: "",
    Volumes: cfg.Volumes ?? null,
    WorkingDir: cfg.WorkingDir ?? "",
    Entrypoint: cfg.Entrypoint ?? null,
    OnBuild: cfg.OnBuild ?? null,
    Labels: cfg.Labels ?? null,
    ...(cfg.StopSignal ? { StopSignal: cfg.StopSignal } : {}),
    ...(cfg.Healthcheck ? { Healthcheck: cfg.Healthcheck } : {}),
  };
}

export function imageInspectObject(engine: Engine, img: ImageRecord): Record<string, unknown> {
  const store = engine.images;
  const raw = store.getConfig(img) as any;
  const history: any[] = Array.isArray(raw.history) ? raw.history : [];
  const lastComment = [...history].reverse().find((h) => h && !h.empty_layer)?.comment;
  return {
    Id: img.id,
    RepoTags: store.tagsOf(img.id),
    RepoDigests: img.repoDigests ?? [],
    Parent: raw.parent ?? "",
    Comment: raw.comment ?? lastComment ?? "",
    Created: raw.created ?? img.created,
    DockerVersion: raw.docker_version ?? "",
    Author: raw.author ?? "",
    Config: dockerConfig(raw.config),
    Architecture: raw.architecture ?? "",
    ...(raw.variant ? { Variant: raw.variant } : {}),
    Os: raw.os ?? "",
    Size: store.imageSize(img),
    GraphDriver: {
      Data: { LowerDir: store.layerDirs(img).reverse().join(":") },
      Name: "overlay2",
    },
    RootFS: { Type: raw.rootfs?.type ?? "layers", Layers: raw.rootfs?.diff_ids ?? [] },
    Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
  };
}

/** One document per image named (docker prints a list even for one). */
export function inspectImage(engine: Engine, name: string): object[] {
  const img = engine.images.resolve(name);
  if (!img) throw new UserError(`No such image: ${name}`);
  return [imageInspectObject(engine, img)];
}

export { hexOf };
