/**
 * @module proxy: the running proxy built from a config. It owns every app,
 * every listening port and the admin server, and the lifecycle: start, drain.
 * Listeners are keyed by port and apps by name so that a reload can swap the
 * config underneath without touching open sessions.
 */
import type { Server } from "bun";
import { startAdmin } from "./admin.ts";
import { App, type Shared } from "./app.ts";
import type { Config } from "./config/types.ts";
import { MAX_PROBES_IN_FLIGHT } from "./health/budget.ts";
import { planConnections, type FdPlan, type Limits } from "./limits.ts";
import { SluiceError } from "./errors.ts";
import { Listener } from "./listener.ts";
import type { Logger } from "./log.ts";
import type { ProxyView } from "./metrics.ts";
import { Sweeper } from "./sweeper.ts";

/** DIAL_SWEEP_MS is the granularity of connect timeouts. */
const DIAL_SWEEP_MS = 50;
/** IDLE_SWEEP_MS is the granularity of idle timeouts. */
const IDLE_SWEEP_MS = 1000;
const DRAIN_POLL_MS = 25;

/** fdPlan sizes the connection cap of `config` under `fdLimit` (see planConnections). */
export function fdPlan(config: Config, fdLimit: number | undefined): FdPlan {
  const ports = config.apps.reduce((n, a) => n + a.ports.length, 0);
  const targets = config.apps.reduce((n, a) => n + a.targets.length, 0);
  return planConnections(fdLimit, ports, targets, config.maxConnections, MAX_PROBES_IN_FLIGHT);
}

export class Proxy implements ProxyView {
  readonly apps = new Map<string, App>();
  readonly listeners = new Map<number, Listener>();
  /** apps removed by a reload whose sessions are still open. */
  readonly retired = new Set<App>();
  readonly #fdLimit: number | undefined;
  readonly limits: Limits;
  draining = false;
  admin: Server<undefined> | undefined;
  readonly #shared: Shared;

  private constructor(
    public config: Config,
    readonly log: Logger,
    fdLimit: number | undefined,
  ) {
    this.#fdLimit = fdLimit;
    this.limits = { maxConnections: this.#capFor(config), active: 0, abandonedDials: 0, apps: config.apps.length };
    this.#shared = { limits: this.limits, dials: new Sweeper(DIAL_SWEEP_MS), idle: new Sweeper(IDLE_SWEEP_MS), log };
  }

  /**
   * start opens every port and the admin server; if any bind fails, all are
   * closed again and the error thrown. `fdLimit` (see readFdLimit) sizes the
   * connection cap when the config sets none.
   */
  static start(config: Config, log: Logger, fdLimit: number | undefined): Proxy {
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

  #capFor(config: Config): number {
    const plan = fdPlan(config, this.#fdLimit);
    if (plan.warning !== undefined) this.log.warn(plan.warning);
    return plan.cap;
  }

  /**
   * reload swaps in a new config without touching open sessions: new ports
   * open, removed ports close, apps keep their target state by address, and
   * changed targets and settings apply to new connections. New ports are
   * bound before anything changes; if one fails, nothing changes and a
   * SluiceError is thrown. `bind` is not changed by a reload (the ports would
   * have to close); a differing `bind` is reported in the returned notes.
   */
  reload(next: Config): string[] {
    const notes: string[] = [];
    if (this.draining) throw new SluiceError("USAGE", "reload ignored while draining");
    const bind = this.config.bind;
    if (next.bind !== bind) notes.push(`bind stays ${bind} until restart (config says ${next.bind})`);

    const opened = new Map<number, Listener>();
    const apps = new Map<string, App>();
    const created: App[] = [];
    try {
      for (const ac of next.apps) {
        let app = this.apps.get(ac.name);
        if (app === undefined) {
          app = new App(ac, next.health, this.#shared);
          created.push(app);
        }
        apps.set(ac.name, app);
        for (const port of ac.ports) {
          if (!this.listeners.has(port)) opened.set(port, new Listener(bind, port, app));
        }
      }
    } catch (e) {
      for (const l of opened.values()) l.stop();
      throw e;
    }

    // Nothing can fail from here on.
    for (const ac of next.apps) {
      const app = apps.get(ac.name)!;
      if (!created.includes(app)) app.update(ac, next.health);
      for (const port of ac.ports) {
        const l = this.listeners.get(port);
        if (l !== undefined) l.app = app;
      }
    }
    for (const [port, l] of this.listeners) {
      if (!next.apps.some((a) => a.ports.includes(port))) {
        l.stop();
        this.listeners.delete(port);
      }
    }
    for (const [port, l] of opened) this.listeners.set(port, l);
    for (const app of this.retired) if (app.sessions.size === 0) this.retired.delete(app);
    for (const [name, app] of this.apps) {
      if (apps.has(name)) continue;
      app.stop();
      if (app.sessions.size > 0) this.retired.add(app);
    }
    this.apps.clear();
    for (const [name, app] of apps) this.apps.set(name, app);
    for (const app of created) app.start();
    this.limits.maxConnections = this.#capFor(next);
    this.limits.apps = next.apps.length;
    this.#reloadAdmin(next, notes);
    this.config = { ...next, bind };
    return notes;
  }

  #reloadAdmin(next: Config, notes: string[]): void {
    const before = this.config.admin?.address;
    const after = next.admin?.address;
    if (before === after) return;
    try {
      const fresh = next.admin === undefined ? undefined : startAdmin(next.admin, this);
      void this.admin?.stop(true);
      this.admin = fresh;
    } catch (e) {
      notes.push(`admin stays on ${before ?? "(none)"}: ${(e as Error).message}`);
      next.admin = this.config.admin;
    }
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
    for (const a of [...this.apps.values(), ...this.retired]) {
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
