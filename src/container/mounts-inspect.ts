// A container's mounts as Docker's inspect shows them: `Mounts` (every bind, volume and
// --mount tmpfs, with Docker's Mode and Propagation words), `HostConfig.Binds` (the -v specs
// that name a source), `HostConfig.Mounts` (the --mount specs) and `Config.Volumes` (anonymous
// volumes and the image's VOLUME list).
import type { ContainerState } from "./state.ts";

export function mountsOf(st: ContainerState): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const m of st.mounts) {
    if (m.type === "tmpfs") {
      if (m.origin === "mount-flag") out.push({ Type: "tmpfs", Source: "", Destination: m.destination, Mode: "", RW: !m.readOnly, Propagation: "" });
      continue;
    }
    if (m.volume) {
      // Docker: a named volume from -v or --mount without mode words shows "z"; an anonymous one "".
      const mode = m.mode ? m.mode : m.anonymous ? "" : "z";
      out.push({
        Type: "volume", Name: m.volume, Source: m.source, Destination: m.destination, Driver: "local", Mode: mode,
        RW: !m.readOnly, Propagation: "",
      });
      continue;
    }
    out.push({
      Type: "bind", Source: m.source, Destination: m.destination, Mode: m.mode ?? (m.readOnly ? "ro" : ""), RW: !m.readOnly,
      Propagation: m.propagation ?? "rprivate",
    });
  }
  return out;
}

export function bindsOf(st: ContainerState): string[] | null {
  const b = st.mounts.filter((m) => m.type === "bind" && m.origin !== "mount-flag" && m.origin !== "image" && m.origin !== "volumes-from" && !m.anonymous);
  // Records from before mounts kept their spec: rebuilt the way -v spells them.
  return b.length ? b.map((m) => m.spec ?? `${m.source}:${m.destination}${m.readOnly ? ":ro" : ""}`) : null;
}

export function mountFlagsOf(st: ContainerState): Record<string, unknown>[] | null {
  const m = st.mounts.filter((x) => x.origin === "mount-flag");
  if (!m.length) return null;
  return m.map((x) => {
    const o: Record<string, unknown> = { Type: x.type === "tmpfs" ? "tmpfs" : x.volume ? "volume" : "bind" };
    if (x.type !== "tmpfs") o.Source = x.volume ? (x.anonymous ? "" : x.volume) : x.source;
    o.Target = x.destination;
    if (x.readOnly) o.ReadOnly = true;
    if (x.propagation) o.BindOptions = { Propagation: x.propagation };
    if (x.type === "tmpfs") {
      const size = /(?:^|,)size=(\d+)/.exec(x.options ?? "")?.[1];
      const mode = /(?:^|,)mode=([0-7]+)/.exec(x.options ?? "")?.[1];
      const t: Record<string, number> = {};
      if (size) t.SizeBytes = Number(size);
      if (mode && x.options !== "mode=1777") t.Mode = parseInt(mode, 8);
      if (Object.keys(t).length) o.TmpfsOptions = t;
    }
    return o;
  });
}

export function volumesOf(st: ContainerState): Record<string, object> | null {
  const v = st.mounts.filter((m) => m.anonymous && (m.origin === "volume-flag" || m.origin === "image"));
  return v.length ? Object.fromEntries(v.map((m) => [m.destination, {}])) : null;
}
