/**
 * @module target-set: the targets of one app at run time: its pool and its
 * SNI routes' pools, their active health checks, the DNS refresh of
 * host-name targets, the operator's drain and enable, and the news about
 * them between worker threads. One address is one TargetState across the
 * app's pool and every route (same backend: same health, same counts), and
 * its state lives on the board slot the owner thread handed out.
 *
 * The owner thread (the main one) runs the checks and the resolutions and
 * tells the others (Tidings); the others rebuild their ready lists from the
 * board's flags when told. Whenever targets may have gained room, the app's
 * queue is served (TargetSetHost.gained).
 */
import { createBalancer } from "./balancer/index.ts";
import { Directory, TURN, type Board, type Cell } from "../sys/board.ts";
import type { AppConfig, RouteConfig } from "../config/types.ts";
import { Discovery, expand, systemResolver, type Resolver } from "./discovery.ts";
import { HealthChecker } from "./health/checker.ts";
import type { Logger } from "../sys/log.ts";
import { Pool, TargetState } from "./pool.ts";
import type { RateLimitedLog } from "../sys/rate-limit.ts";
import type { Endpoint } from "../net/target.ts";
import type { Tidings } from "./tidings.ts";

/** Route is one SNI route at run time: its patterns and its own pool (and balancer state). */
export interface Route {
  readonly config: RouteConfig;
  readonly pool: Pool;
}

/** TargetSetHost is what the set needs of its app. */
export interface TargetSetHost {
  readonly name: string;
  readonly config: AppConfig;
  readonly log: Logger;
  /** targets may have room now: serve the clients waiting for one. */
  gained(): void;
}

export interface TargetSetOptions {
  /** the shared board and its slots; undefined: the counts are the app's own (a unit test's app). */
  board: Board | undefined;
  directory: Directory | undefined;
  /** the app's slot on the board (-1: none). */
  slot: number;
  /** the app's cell: the shared round-robin position lives there. */
  cell: Cell;
  /** this thread runs the health checks and DNS refreshes. */
  owner: boolean;
  tell: ((news: Tidings) => void) | undefined;
  resolve: Resolver | undefined;
  warn: { resolve: RateLimitedLog; internal: RateLimitedLog; dial: RateLimitedLog };
}

export class TargetSet {
  pool: Pool;
  /** SNI routes, in config order; empty: none. */
  routes: Route[] = [];
  readonly checker: HealthChecker;
  readonly discovery: Discovery;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** bumped by each #discover() and by stop(): a resolution started before is stale when it returns. */
  #generation = 0;
  #running = false;

  constructor(
    private readonly host: TargetSetHost,
    private readonly o: TargetSetOptions,
  ) {
    const config = host.config;
    this.discovery = new Discovery(o.resolve ?? systemResolver, (name, error) =>
      o.warn.resolve.log(`cannot resolve ${name} (${error}); keeping its last addresses`),
    );
    this.pool = new Pool(config.targets, createBalancer(config.balancer, Math.random, this.#turn), undefined, this.#make);
    this.routes = this.#routesFor(config.routes, []);
    this.checker = new HealthChecker(
      () => this.all,
      config.health,
      (t, flipped, error) => this.#healthResult(t, flipped, error),
    );
  }

  /** #make binds the state of a new target address to its slot on the board. */
  #make = (e: Endpoint): TargetState => {
    const { board, directory, slot, owner } = this.o;
    if (board === undefined) return new TargetState(e, undefined, owner);
    const at = directory!.target(slot, e.address);
    if (at < 0) this.o.warn.internal.log(`no room left on the board for target ${e.address}: its counts are this worker's own`);
    return new TargetState(e, board.target(at), owner);
  };

  /** #turn is the app's round-robin position on the board, shared by every worker thread. */
  #turn = (): number => this.o.cell.turn(TURN);

  /**
   * #routesFor builds the route pools, each address one TargetState with the
   * app's pool and the other routes; a route keeps its balancer's state
   * across reloads unless its kind changed.
   */
  #routesFor(configs: readonly RouteConfig[], old: readonly Route[]): Route[] {
    const known = { targets: [...this.pool.targets, ...old.flatMap((r) => r.pool.targets)] };
    return configs.map((r, i) => {
      const was = old[i];
      const b = was !== undefined && was.config.balancer === r.balancer ? was.pool.balancer : createBalancer(r.balancer);
      const pool = new Pool(r.targets, b, known, this.#make);
      known.targets.unshift(...pool.targets);
      return { config: r, pool };
    });
  }

  /** every target the app may dial, each address once: its own and its routes'. */
  get all(): TargetState[] {
    if (this.routes.length === 0) return this.pool.targets;
    return [...new Set([...this.pool.targets, ...this.routes.flatMap((r) => r.pool.targets)])];
  }

  start(): void {
    this.#running = true;
    if (!this.o.owner) return;
    this.checker.start();
    void this.#discover();
  }

  stop(): void {
    this.#running = false;
    this.#generation++;
    clearTimeout(this.#timer);
    this.checker.stop();
  }

  /**
   * update takes a reloaded config (the app's is still the old one): target
   * state is kept by address, the balancer too unless its kind changed.
   */
  update(config: AppConfig): void {
    const old = this.host.config;
    const balancer = config.balancer === old.balancer ? this.pool.balancer : createBalancer(config.balancer, Math.random, this.#turn);
    // Names resolved before keep their addresses until the new resolution answers.
    this.pool = new Pool(expand(config.targets, this.discovery.known), balancer, this.pool, this.#make);
    this.routes = this.#routesFor(config.routes, this.routes);
    const restart = config.health.intervalMs !== this.checker.config.intervalMs;
    this.checker.config = config.health;
    // A timer armed with the old interval (say 1h) would otherwise delay the new one.
    if (restart && this.o.owner) {
      this.checker.stop();
      this.checker.start();
    }
  }

  /** rediscover resolves the app's host names again now (the owner only; a reload asks for it even when nothing else changed). */
  rediscover(): void {
    if (this.o.owner) void this.#discover();
  }

  /**
   * #discover resolves the app's host-name targets and swaps in the expanded
   * pool (target state is kept by address), then again every health
   * interval. An app without host names never arms the timer.
   */
  async #discover(): Promise<void> {
    clearTimeout(this.#timer);
    // A resolution still in flight is stale from here on, even if this config has no names left.
    const generation = ++this.#generation;
    const config = this.host.config;
    if (!this.#running || Discovery.names(config.targets).length === 0) return;
    const targets = await this.discovery.refresh(config.targets);
    if (generation !== this.#generation) return;
    const before = new Set(this.pool.targets.map((t) => t.address));
    const after = new Set(targets.map((t) => t.address));
    const added = [...after].filter((a) => !before.has(a));
    const removed = [...before].filter((a) => !after.has(a));
    if (added.length > 0 || removed.length > 0) {
      this.pool = new Pool(targets, this.pool.balancer, this.pool, this.#make);
      this.host.log.info(`targets from DNS: ${[...added.map((a) => `+${a}`), ...removed.map((a) => `-${a}`)].join(" ")}`);
      this.o.tell?.({ kind: "targets", app: this.host.name, known: [...this.discovery.known] });
      // New addresses have room: waiting clients get it before anyone who connects later.
      this.host.gained();
    }
    this.#timer = setTimeout(() => void this.#discover(), this.checker.config.intervalMs);
  }

  /**
   * setEnabled drains (false) or re-enables (true) the target at `address`:
   * a drained target gets no new sessions while its open ones carry on. The
   * state lives on the TargetState, which reloads and DNS refreshes keep by
   * address. Returns undefined when the app has no such target.
   */
  setEnabled(address: string, enabled: boolean, how = "through the admin API"): TargetState | undefined {
    const t = this.all.find((x) => x.address === address);
    if (t === undefined) return undefined;
    if (t.enabled !== enabled) {
      t.enabled = enabled;
      // Back in rotation after a drain: ramp up like a recovered target.
      if (enabled) t.slowStart(this.host.config.slowStartMs);
      this.#refresh(enabled ? [address] : []);
      if (enabled) this.host.gained();
      this.host.log.info(`target ${address} ${enabled ? "enabled" : "drained"} ${how}`);
    }
    return t;
  }

  /** dialFailed: a dial to `target` failed through its fault; the owner marks it down, another worker tells the owner. */
  dialFailed(target: TargetState, error: string): void {
    target.dialFailed();
    if (!this.o.owner) {
      this.o.tell?.({ kind: "dial-failed", app: this.host.name, address: target.address, error });
      return;
    }
    this.markDown(target, error);
  }

  /** markDown is the owner's passive health mark of a target a dial to failed (here or in another worker). */
  markDown(target: TargetState, error: string): void {
    if (target.health.markDown(performance.now(), error)) {
      this.#refresh();
      this.host.log.warn(`target ${target.address} down (dial failed: ${error})`);
    } else {
      this.o.warn.dial.log(`dial to ${target.address} failed: ${error}`);
    }
  }

  #healthResult(t: TargetState, flipped: boolean, error: string | null): void {
    this.host.log.debug(`health check ${t.address}: ${error === null ? "pass" : `fail (${error})`}`);
    if (!flipped) return;
    const slowStartMs = this.host.config.slowStartMs;
    if (t.health.healthy) t.slowStart(slowStartMs);
    this.#refresh(t.health.healthy ? [t.address] : []);
    if (t.health.healthy) {
      this.host.gained();
      this.host.log.success(`target ${t.address} up${slowStartMs > 0 ? ` (slow start over ${slowStartMs} ms)` : ""}`);
    } else this.host.log.warn(`target ${t.address} down (${t.health.lastError ?? "check failed"})`);
  }

  /**
   * #refresh rebuilds the ready lists of the pool and the routes' after a
   * health or enabled change, and has the other workers do the same
   * (starting the slow start of the targets in `slowStart` on their side).
   */
  #refresh(slowStart: string[] = []): void {
    this.pool.refresh();
    for (const r of this.routes) r.pool.refresh();
    this.o.tell?.({ kind: "refresh", app: this.host.name, slowStart });
  }

  /** hear takes target news from another thread: new target state, DNS answers, or (the owner) a failed dial to judge. */
  hear(news: Exclude<Tidings, { kind: "serve" }>): void {
    switch (news.kind) {
      case "refresh":
        this.pool.refresh();
        for (const r of this.routes) r.pool.refresh();
        for (const a of news.slowStart) this.all.find((t) => t.address === a)?.slowStart(this.host.config.slowStartMs);
        return this.host.gained();
      case "targets":
        this.discovery.known.clear();
        for (const [k, v] of news.known) this.discovery.known.set(k, v);
        this.pool = new Pool(expand(this.host.config.targets, this.discovery.known), this.pool.balancer, this.pool, this.#make);
        return this.host.gained();
      case "dial-failed": {
        const t = this.all.find((x) => x.address === news.address);
        if (t !== undefined && this.o.owner) this.markDown(t, news.error);
        return;
      }
    }
  }
}
