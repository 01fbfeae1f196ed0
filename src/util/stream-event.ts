// Waiting for one event of a Node stream without hanging when it closes or fails first.
import type { EventEmitter } from "node:events";

/** Resolves on `ev` or on 'close'; rejects on 'error'. Listeners are removed either way. */
export function untilEvent(s: EventEmitter, ev: "drain" | "end"): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (e?: unknown) => {
      s.off(ev, ok);
      s.off("error", bad);
      s.off("close", ok);
      e === undefined ? resolve() : reject(e);
    };
    const ok = () => done();
    const bad = (e: unknown) => done(e);
    s.on(ev, ok);
    s.on("error", bad);
    s.on("close", ok);
  });
}
