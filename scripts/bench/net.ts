/**
 * Loopback helpers: pick a free port, and wait until a port accepts.
 * @module
 */
import type { Proc } from "./proc.ts";

/** HOST is the only address the bench ever listens on or connects to. */
export const HOST = "127.0.0.1";

/** freePort: one helper for tests and bench alike, so no process is handed the same port twice. */
export { freePort } from "../../test/helpers/net.ts";

/** tryConnect resolves true once a TCP connection to `port` opens, false when it is refused. */
function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    Bun.connect({
      hostname: HOST,
      port,
      socket: {
        open(s) {
          s.end();
          resolve(true);
        },
        data() {},
        connectError() {
          resolve(false);
        },
        error() {
          resolve(false);
        },
      },
    }).catch(() => resolve(false));
  });
}

/**
 * waitForPort polls `port` every `everyMs` until a connection opens, giving up
 * after `timeoutMs` or as soon as `proc` (the process meant to listen) exits.
 * Returns the milliseconds it took.
 */
export async function waitForPort(
  port: number,
  opts: { timeoutMs?: number; everyMs?: number; proc?: Proc } = {},
): Promise<number> {
  const { timeoutMs = 10_000, everyMs = 2 } = opts;
  const start = performance.now();
  let exited: number | null = null;
  opts.proc?.exited.then((code) => (exited = code));
  const maxTries = Math.ceil(timeoutMs / everyMs) + 1;
  for (let i = 0; i < maxTries; i++) {
    if (await tryConnect(port)) return performance.now() - start;
    if (exited !== null) throw new Error(`${opts.proc?.name} exited with code ${exited} before port ${port} accepted`);
    if (performance.now() - start > timeoutMs) break;
    await Bun.sleep(everyMs);
  }
  throw new Error(`port ${port} did not accept within ${timeoutMs} ms`);
}
