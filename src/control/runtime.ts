/**
 * @module runtime: the running proxy. It owns every app, every listening port
 * and the admin server, and the lifecycle: start, reload, shutdown.
 *
 * Start and reload are one path: a Plan (src/control/plan.ts) from the running config
 * to the next, applied by apply(), which binds every new port (and a moved
 * admin listener) before it changes anything, so a reload either happens
 * whole or not at all. Listeners are keyed by port and apps by name, so open
 * sessions never notice a reload.
 */
import type { AdminHost, AdminServer, ReloadOutcome } from "./views.ts";
import { App } from "./app.ts";
import type { Shared } from "./app-shared.ts";
import type { Tidings } from "../upstream/tidings.ts";
import { Board, Directory, G } from "../sys/board.ts";
import { LocalClientCounts, type ClientCounts } from "../datapath/client-counts.ts";
import { droppedLines } from "../sys/log.ts";
import type { Fault, WorkerInfo } from "./worker-protocol.ts";
import type { AppConfig, Config } from "../config/types.ts";
import { describeErrorLine, SluiceError } from "../sys/errors.ts";
import { MAX_PROBES_IN_FLIGHT } from "../upstream/health/budget.ts";
import { Limits, planConnections, type FdPlan } from "../sys/limits.ts";
import { Listener, type Sharing } from "../datapath/listener.ts";
import type { Logger } from "../sys/log.ts";
import { diff, summary, type Plan } from "./plan.ts";
import { Sweeper } from "../sys/sweeper.ts";
import type { UpgradeOutcome } from "./upgrade.ts";

/** DIAL_SWEEP_MS is the granularity of connect timeouts. */
const DIAL_SWEEP_MS = 50;
/** IDLE_SWEEP_MS is the granularity of idle timeouts. */
const IDLE_SWEEP_MS = 1000;
/** a pipe paused across one whole interval of this sweep (1-2 s) has its queue compacted (pipe.ts). */
const STALL_SWEEP_MS = 1000;

/** fdPlan sizes the connection cap of `config` under `fdLimit` (see planConnections); each of `workers` threads has its own listener per port. */
export function fdPlan(config: Config, fdLimit: number | undefined, workers = 1): FdPlan {
  const ports = workers * config.apps.reduce((n, a) => n + a.ports.length, 0);
  const targets = config.apps.reduce((n, a) => n + a.targets.length, 0);
  return planConnections(fdLimit, ports, targets, config.maxConnections, MAX_PROBES_IN_FLIGHT);
}

export type ReloadTrigger = "signal" | "http" | "file";

/** ConfigInfo is /status's `config` block. */
export interface ConfigInfo {
  path: string;
  loaded_at: string;
  last_error: string | null;
}

export interface RuntimeOptions {
  /** the config file reloads read. */
  configPath: string;
  /** the fd limit that sizes the connection cap when the config sets none (see readFdLimit). */
  fdLimit: number | undefined;
  /**
   * reads the config file for a reload (loadConfig), and starts the admin
   * API (startAdmin). Injected rather than imported, so that a worker
   * thread, which does neither, never loads the config schema or the admin
   * server: each costs start-up time and memory in every thread.
   */
  load?: (path: string) => Promise<Config>;
  startAdmin?: (endpoint: NonNullable<Config["admin"]>, host: AdminHost, fd?: number) => AdminServer;
  /** told of each config a reload applied (the file watch and log settings follow it). */
  onApplied?: (config: Config) => void;
  /**
   * With several workers: the shared board, this thread's slot directory,
   * whether it is the owner (health checks, DNS, admin API: the main thread)
   * and how it tells the others. Absent: one worker, a board of its own.
   */
  board?: Board;
  directory?: Directory;
  /** the per-client connection counts every worker shares. */
  clients?: ClientCounts;
  owner?: boolean;
  tell?: (news: Tidings) => void;
  /** listeners share their ports with the other workers' (SO_REUSEPORT). */
  reusePort?: Sharing;
  /** how many worker threads the process runs (each holds a listener per port); 1 when absent. */
  workers?: number;
  /** has the other workers apply a config this thread applied; a reload is reported once it resolves. */
  afterApply?: (config: Config) => Promise<void>;
  /** listening sockets handed over by the process this one upgrades, this thread's share (src/control/inherit.ts); adopted at start. */
  inherited?: Map<number, number[]>;
  /** the admin listener's socket handed over the same way. */
  inheritedAdmin?: number;
}

export class Runtime implements AdminHost {
  readonly apps = new Map<string, App>();
  readonly listeners = new Map<number, Listener>();
  /** apps removed by a reload whose sessions are still open. */
  readonly retired = new Set<App>();
  readonly limits: Limits;
  draining = false;
  admin: AdminServer | undefined;
  /** the running config; undefined before start(). */
  config: Config | undefined;
  readonly reloads = { success: 0, failure: 0 };
  /** binary upgrades this process started, by result (sluice_upgrades_total); main counts them. */
  readonly upgrades = { success: 0, failure: 0 };
  /** starts a binary upgrade (main sets it; the admin API's POST /upgrade): `binary` or the path this process started from. */
  upgrade: ((binary?: string) => Promise<UpgradeOutcome>) | undefined;
  /** when this process started, for /status. */
  readonly startedAt = new Date().toISOString();
  configInfo: ConfigInfo;
  readonly #shared: Shared;
  readonly #opts: RuntimeOptions;
  /** reloads run one at a time, in the order they were asked for. */
  #queue: Promise<unknown> = Promise.resolve();
  /** resolves the shutdown wait when the last session closes. */
  #idle: (() => void) | undefined;

  constructor(
    readonly log: Logger,
    opts: RuntimeOptions,
  ) {
    this.#opts = opts;
    const board = opts.board ?? Board.create(1);
    this.limits = new Limits(0, 0, board.process);
    this.#shared = {
      limits: this.limits,
      board,
      directory: opts.directory ?? new Directory(),
      clients: opts.clients ?? new LocalClientCounts(),
      owner: opts.owner ?? true,
      tell: opts.tell,
      dials: new Sweeper(DIAL_SWEEP_MS),
      idle: new Sweeper(IDLE_SWEEP_MS),
      stalls: new Sweeper(STALL_SWEEP_MS),
      log,
      onIdle: () => this.#idle?.(),
    };
    this.configInfo = { path: opts.configPath, loaded_at: new Date().toISOString(), last_error: null };
  }

  /** start applies `config` to nothing: every port and the admin server open, or none does and the error is thrown. */
  start(config: Config): void {
    this.apply(diff(undefined, config), config);
    this.configInfo.loaded_at = new Date().toISOString();
  }

  /** adminToken is the bearer token POSTs to the admin API need, if one is configured. */
  get adminToken(): string | undefined {
    return this.config?.adminAuth?.token;
  }

  /** adminLoopback: the admin API listens on a loopback address, so a POST without a token is allowed. */
  get adminLoopback(): boolean {
    const host = this.config?.admin?.host;
    // "localhost" is taken at its word: it names this host's loopback wherever /etc/hosts is sane.
    return host !== undefined && (host === "::1" || host === "localhost" || /^127\./.test(host));
  }

  /** the owner is the thread with the health checks, DNS refreshes and admin API. */
  get owner(): boolean {
    return this.#shared.owner !== false;
  }
  get board(): Board {
    return this.#shared.board!;
  }
  get directory(): Directory {
    return this.#shared.directory!;
  }

  /** hear passes what another worker told about an app to it (live or retired); news of an unknown app is stale and dropped. */
  hear(news: Tidings): void {
    const app = this.apps.get(news.app) ?? [...this.retired].find((a) => a.name === news.app);
    app?.hear(news);
  }

  /** the worker threads, for /status; set by the main thread when it runs more than one. */
  workerInfo: (() => WorkerInfo[]) | undefined;
  /** makes a worker thread crash or hang (debug builds: see src/sys/debug.ts). */
  injectFault: ((index: number, fault: Fault) => boolean) | undefined;

  /** log lines dropped by every thread (the others put theirs on the board). */
  get logDropped(): number {
    return droppedLines() + this.board.process.get(G.LOG_DROPPED);
  }

  get workers(): WorkerInfo[] | undefined {
    return this.workerInfo?.();
  }

  get rejected(): number {
    let n = 0;
    for (const a of this.apps.values()) n += a.counters.rejected;
    return n;
  }

  /**
   * apply carries out `plan` towards `next`. Phase one binds every new port
   * and a moved admin listener; if any bind fails, whatever it bound is closed
   * and a SluiceError thrown, with nothing else changed. Phase two cannot
   * fail: it re-points and closes ports, updates, creates and retires apps,
   * and drains removed targets per on_remove.
   */
  apply(plan: Plan, next: Config): void {
    if (this.draining) throw new SluiceError("USAGE", "reload ignored while shutting down");
    const created = new Map<string, App>();
    for (const ac of plan.create) created.set(ac.name, new App(ac, this.#shared));
    const appNamed = (name: string) => created.get(name) ?? this.apps.get(name)!;

    const opened: Listener[] = [];
    let admin: AdminServer | undefined;
    try {
      const inherited = this.#opts.inherited;
      for (const o of plan.open) {
        const fds = inherited?.get(o.port) ?? [];
        inherited?.delete(o.port);
        opened.push(new Listener(plan.bind, o.port, appNamed(o.app), this.#opts.reusePort, fds));
      }
      if (plan.admin?.to !== undefined && this.owner && this.#opts.startAdmin !== undefined) {
        // An upgrade's new process adopts the old one's admin socket the first time it starts the admin API.
        admin = this.#opts.startAdmin(next.admin!, this, this.#opts.inheritedAdmin);
        this.#opts.inheritedAdmin = undefined;
      }
    } catch (e) {
      for (const l of opened) l.stop();
      void admin?.stop(true);
      throw e;
    }

    // Nothing can fail from here on.
    const before = this.config;
    const oldApp = new Map(before?.apps.map((a) => [a.name, a]));
    for (const ac of plan.update) this.apps.get(ac.name)!.update(ac);
    for (const r of plan.repoint) this.listeners.get(r.port)!.app = appNamed(r.app);
    for (const port of plan.close) {
      this.listeners.get(port)?.stop();
      this.listeners.delete(port);
    }
    for (const l of opened) this.listeners.set(l.port, l);
    // A kept port may now belong to another app, or its app changed defer_accept.
    for (const l of this.listeners.values()) l.tune();
    for (const app of this.retired) if (app.counters.open === 0) this.retired.delete(app);
    for (const name of plan.retire) {
      const app = this.apps.get(name)!;
      app.stop();
      this.apps.delete(name);
      if (app.counters.open > 0) this.retired.add(app);
    }
    for (const change of plan.targets) {
      // A retired app drains by the setting it had; a kept one by its new one.
      const app = this.apps.get(change.app) ?? [...this.retired].find((a) => a.name === change.app);
      const ac: AppConfig | undefined = app?.config ?? oldApp.get(change.app);
      if (app !== undefined && ac?.onRemove === "drain" && change.removed.length > 0) {
        app.drainRemoved(change.removed, ac.drainTimeoutMs);
      }
    }
    for (const [name, app] of created) this.apps.set(name, app);
    // Keep the config's app order, which /status and /metrics follow.
    const order = next.apps.map((a) => a.name);
    const sorted = [...this.apps].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
    this.apps.clear();
    for (const [name, app] of sorted) this.apps.set(name, app);
    for (const app of created.values()) app.start();
    // A reload re-resolves host names even when an app did not change (update() and start() resolve the others):
    // the operator may have changed DNS and sent SIGHUP for it.
    const updated = new Set(plan.update.map((ac) => ac.name));
    if (before !== undefined) for (const [name, app] of this.apps) if (!updated.has(name) && !created.has(name)) app.targets.rediscover();

    if (plan.admin !== undefined && this.owner) {
      void this.admin?.stop(true);
      this.admin = admin;
    }
    this.config = { ...next, bind: plan.bind };
    const cap = fdPlan(next, this.#opts.fdLimit, this.#opts.workers);
    if (cap.warning !== undefined && this.owner) this.log.warn(cap.warning);
    this.limits.maxConnections = cap.cap;
    this.limits.apps = next.apps.length;
  }

  /** listenerFds lists this thread's listening sockets by port, for a binary upgrade to hand over. */
  listenerFds(): [port: number, fds: number[]][] {
    return [...this.listeners].map(([port, l]) => [port, l.fds]);
  }

  /**
   * reload reads the config file again and applies it. Reloads are queued, so
   * a SIGHUP, a POST /reload and a file change that arrive together run one
   * after another. A config that does not load or apply changes nothing: it
   * is counted, kept in /status as `last_error`, and reported.
   */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#reload(trigger));
    this.#queue = run;
    return run;
  }

  async #reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const path = this.#opts.configPath;
    if (this.draining) return { ok: false, message: `reload (${trigger}) ignored: shutting down` };
    let plan: Plan;
    try {
      if (this.#opts.load === undefined) throw new SluiceError("USAGE", "this runtime cannot read config files");
      const next = await this.#opts.load(path);
      plan = diff(this.config, next);
      this.log.debug(`reload plan: ${JSON.stringify(plan, (k, v) => (k === "create" || k === "update" ? v.map((a: AppConfig) => a.name) : v))}`);
      this.apply(plan, next);
    } catch (e) {
      const why = describeErrorLine(e);
      this.reloads.failure++;
      this.configInfo.last_error = why;
      this.log.error(`reload failed (${trigger}), the running config stays: ${why}`);
      return { ok: false, message: why };
    }
    await this.#opts.afterApply?.(this.config!);
    this.reloads.success++;
    this.configInfo = { path, loaded_at: new Date().toISOString(), last_error: null };
    for (const note of plan.notes) this.log.warn(`reload: ${note}`);
    const kept = this.limits.active;
    const message = `${summary(plan)}; ${kept} open connection${kept === 1 ? "" : "s"} kept`;
    this.log.success(`reloaded ${path} (${trigger}): ${message}`);
    this.#opts.onApplied?.(this.config!);
    return { ok: true, message };
  }

  /**
   * shutdown: /healthz turns 503 at once; the ports keep accepting for
   * `delayMs` (so load balancers see the instance leave before it refuses
   * anyone); then every port closes, open sessions get up to `timeoutMs` to
   * finish, and what is left is closed. It resolves to the number of sessions
   * it had to close. The main thread passes the other workers' drain as
   * `others` (their count of closed sessions): the admin API stays up, saying
   * "draining", until they are done too.
   */
  async shutdown(delayMs: number, timeoutMs: number, others: Promise<number> = Promise.resolve(0), onClosed?: () => void): Promise<number> {
    this.draining = true;
    if (delayMs > 0) await Bun.sleep(delayMs);
    for (const l of this.listeners.values()) l.stop();
    onClosed?.();
    for (const a of this.apps.values()) a.stop();
    if (this.limits.own > 0 && timeoutMs > 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      const timer = setTimeout(resolve, timeoutMs);
      this.#idle = resolve;
      await promise;
      clearTimeout(timer);
      this.#idle = undefined;
    }
    let forced = 0;
    // Waiting clients first, so that closing the others frees no slot for them to be dialled into.
    for (const a of [...this.apps.values(), ...this.retired]) forced += a.dropQueue("shutdown");
    for (const a of [...this.apps.values(), ...this.retired]) {
      for (const s of [...a.sessions]) {
        forced++;
        s.close("shutdown");
      }
    }
    forced += await others;
    this.close();
    return forced;
  }

  /** abort resets every session and waiting client at once (a worker thread that crashed), then closes everything. */
  abort(): void {
    for (const a of [...this.apps.values(), ...this.retired]) {
      a.dropQueue("internal-error");
      for (const s of [...a.sessions]) s.close("internal-error");
    }
    this.close();
  }

  /** close stops everything at once; sessions still open are left to the process exit. */
  close(): void {
    for (const l of this.listeners.values()) l.stop();
    for (const a of [...this.apps.values(), ...this.retired]) a.stop(true);
    this.#shared.dials.stop();
    this.#shared.idle.stop();
    this.#shared.stalls.stop();
    void this.admin?.stop(true);
  }
}
