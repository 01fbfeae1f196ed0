// After a reboot no watcher is left to act on restart policies (minid has no daemon): `minid
// system restore`, run at boot by the unit `minid system service-unit` prints, starts every
// container whose policy asks for it, with the rule Docker's daemon applies when it comes back
// (restart-policy.ts shouldRestart with afterReboot: always starts even after a manual stop,
// unless-stopped does not, on-failure when the last exit failed and retries remain). Podman's
// podman-restart.service does the same for its containers.
import { resolve } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { observe } from "./lifecycle.ts";
import { shouldRestart } from "./restart-policy.ts";
import { isCompiled } from "./self.ts";

/** The containers `restore` would start now. */
export function containersToRestore(engine: Engine): ContainerState[] {
  return engine.containers
    .list()
    .filter((st) => {
      if (st.broken || !st.restartPolicy) return false;
      const s = observe(st);
      // Running, paused, or waiting for its live watcher to restart it: nothing to do. Created:
      // never started, so no policy applies yet.
      if (s.status !== "exited") return false;
      const code = s.exitUnknown ? 255 : s.exitCode;
      return shouldRestart(st.restartPolicy, code, Boolean(s.manuallyStopped), s.restartCount ?? 0, true);
    })
    .sort((a, b) => Date.parse(a.created) - Date.parse(b.created));
}

/** Start them; `started` hears each name, `failed` each error. */
export async function restoreContainers(
  engine: Engine,
  started: (st: ContainerState) => void,
  failed: (st: ContainerState, e: unknown) => void,
): Promise<void> {
  const { launchContainer } = await import("./start.ts");
  for (const st of containersToRestore(engine)) {
    try {
      await launchContainer(engine, st, { attach: false });
      started(st);
    } catch (e) {
      failed(st, e);
    }
  }
}

/** A systemd unit that runs `system restore` for this root at boot. */
export function serviceUnit(engine: Engine): string {
  const self = isCompiled() ? [process.execPath] : [process.execPath, resolve(Bun.main)];
  const q = (s: string) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, "\\$1")}"`);
  const cmd = [...self, "--root", resolve(engine.root), "system", "restore"].map(q).join(" ");
  return `# minid: start the containers whose restart policy asks for it, at boot.
# Install: minid system service-unit > /etc/systemd/system/minid-restore.service
#          systemctl daemon-reload && systemctl enable minid-restore.service
[Unit]
Description=minid: start containers with a restart policy
Wants=network-online.target
After=network-online.target local-fs.target
RequiresMountsFor=${q(resolve(engine.root))}

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${cmd}

[Install]
WantedBy=multi-user.target
`;
}
