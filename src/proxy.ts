/**
 * @module proxy: the running proxy built from a config. It owns every app,
 * every listening port and the admin server, and the lifecycle: start, drain.
 * Listeners are keyed by port and apps by name so that a reload can swap the
 * config underneath without touching open sessions.
 */
import type { Server } from "bun";
import { startAdmin } from "./admin.ts";
import { App, type Limits, type Shared } from "./app.ts";
import type { Config } from "./config/types.ts";
import { connectionCap, FD_RESERVE, readFdLimit } from "./limits.ts";
import { Listener } from "./listener.ts";
import type { Logger } from "./log.ts";
import type { ProxyView } from "./metrics.ts";
import { Sweeper } from "./sweeper.ts";

/** DIAL_SWEEP_MS is the granularity of connect timeouts. */
const DIAL_SWEEP_MS = 50;
/** IDLE_SWEEP_MS is the granularity of idle timeouts. */
const IDLE_SWEEP_MS = 1000;
const DRAIN_POLL_MS = 25;

export class Proxy implements ProxyView {
  readonly apps = new Map<string, App>();
  readonly listeners = new Map<number, Listener>();
  readonly limits: Limits;
  draining = false;
  admin: Server<undefined> | undefined;
  readonly #shared: Shared;

  private constructor(
    public config: Config,
    readonly log: Logger,
    fdLimit: number | undefined,
  ) {
    const ports = config.apps.reduce((n, a) => n + a.ports.length, 0);
    const targets = config.apps.reduce((n, a) => n + a.targets.length, 0);
    const derived = fdLimit === undefined ? 100_000 : connectionCap(fdLimit, FD_RESERVE + ports + targets);
    this.limits = { maxConnections: config.maxConnections ?? derived, active: 0 };
    this.#shared = { limits: this.limits, dials: new Sweeper(DIAL_SWEEP_MS), idle: new Sweeper(IDLE_SWEEP_MS), log };
  }

  /** start opens every port and the admin server; if any bind fails, all are closed again and the error thrown. */
  static start(config: Config, log: Logger, fdLimit = readFdLimit()): Proxy {
    const p = new Proxy(config, log, fdLimit);
    try {
      for (const ac of config.apps) {
        const app = new App(ac, config.health, p.#shared);
        p.apps.set(ac.name, app);
        for (const port of ac.ports) p.listeners.set(port, new Listener(config.bind, port, app));
      }
      if (config.admin !== undefined) p.admin = startAdmin(config.admin, p);
    } catch (e) {
      p.#closeAll();
      throw e;
    }
    for (const app of p.apps.values()) app.start();
    return p;
  }

  get rejected(): number {
    let n = 0;
    for (const a of this.apps.values()) n += a.rejected;
    return n;
  }

  /**
   * drain stops accepting on every port at once, waits up to `timeoutMs` for
   * open sessions to finish, then closes the rest. It resolves to the number
   * of sessions it had to close.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.draining = true;
    for (const l of this.listeners.values()) l.stop();
    for (const a of this.apps.values()) a.stop();
    const deadline = performance.now() + timeoutMs;
    while (this.limits.active > 0 && performance.now() < deadline) {
      await Bun.sleep(Math.min(DRAIN_POLL_MS, Math.max(1, deadline - performance.now())));
    }
    let forced = 0;
    for (const a of this.apps.values()) {
      for (const s of [...a.sessions]) {
        forced++;
        s.close("shutdown");
      }
    }
    this.#closeAll();
    return forced;
  }

  #closeAll(): void {
    for (const l of this.listeners.values()) l.stop();
    for (const a of this.apps.values()) a.stop();
    this.#shared.dials.stop();
    this.#shared.idle.stop();
    void this.admin?.stop(true);
  }
}
