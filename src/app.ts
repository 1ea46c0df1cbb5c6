/**
 * @module app: one configured app at run time: its pool of targets, health
 * checker, open sessions and counters. Listeners hand it accepted sockets.
 */
import type { Socket } from "bun";
import { createBalancer } from "./balancer/index.ts";
import { A, cellStore, Directory, localAppCell, TURN, type Board, type Cell } from "./board.ts";
import { Discovery, expand, systemResolver, type Resolver } from "./discovery.ts";
import type { AppConfig, RouteConfig } from "./config/types.ts";
import { Acl, clientIp, plainIp } from "./acl.ts";
import { LocalClientCounts, type ClientCounts } from "./client-counts.ts";
import { Preface } from "./preface.ts";
import { proxyV1, proxyV2, type Address } from "./proxy-protocol.ts";
import { sniMatches } from "./sni.ts";
import { HealthChecker } from "./health/checker.ts";
import { CONNECT_BUCKETS_S, Histogram } from "./histogram.ts";
import { appCap, isLocalError, LOCAL_ERROR_TEXT, type Limits } from "./limits.ts";
import { accessFields, clientOf, rejectedFields } from "./access-log.ts";
import { accessLog, debugOn, logger, logSettings, type Logger } from "./log.ts";
import { Pool, TargetState } from "./pool.ts";
import type { Endpoint } from "./target.ts";
import { RateLimitedLog } from "./rate-limit.ts";
import { CLOSE_REASONS, Session, type CloseReason, type SessionHost } from "./session.ts";
import type { Sweepable, Sweeper } from "./sweeper.ts";
import { WaitQueue } from "./wait-queue.ts";

/** Shared is what every app of one proxy (one worker thread) shares. */
export interface Shared {
  readonly limits: Limits;
  /** the numbers every worker thread shares (src/board.ts), and the slots on it; a board of the app's own when absent. */
  readonly board?: Board;
  readonly directory?: Directory;
  /** open connections per client IP (shared by every worker thread); the app's own table when absent. */
  readonly clients?: ClientCounts;
  /**
   * this thread runs the health checks and DNS refreshes (the main thread;
   * true when absent). Other workers take target health, DNS answers and
   * slow starts from it.
   */
  readonly owner?: boolean;
  /** tells the other worker threads about an app (see Tidings); absent with one worker. */
  readonly tell?: (news: Tidings) => void;
  readonly dials: Sweeper;
  readonly idle: Sweeper;
  readonly log: Logger;
  /** resolves host-name targets; the system resolver unless a test injects one. */
  readonly resolve?: Resolver;
  /** called when the last open session of the process closes (shutdown waits on it). */
  readonly onIdle?: () => void;
}

/** Route is one SNI route at run time: its patterns and its own pool (and balancer state). */
export interface Route {
  readonly config: RouteConfig;
  readonly pool: Pool;
}

/** PrefaceDeadline closes a client whose preface is not complete within connect_timeout. */
class PrefaceDeadline implements Sweepable {
  constructor(
    readonly session: Session,
    readonly deadline: number,
    readonly app: App,
  ) {}
  sweep(now: number): boolean {
    if (this.session.closed || this.session.preface === null) return true;
    if (now < this.deadline) return false;
    this.app.prefaceTimedOut(this.session);
    return true;
  }
}

/**
 * Tidings are what one worker thread tells the others about an app, never
 * per connection: a passive health mark to the owner, a refresh of target
 * state from it, and a nudge to serve queued clients when a place freed up
 * in another worker.
 */
export type Tidings =
  | { kind: "dial-failed"; app: string; address: string; error: string }
  | { kind: "refresh"; app: string; slowStart: string[] }
  | { kind: "targets"; app: string; known: [string, string[]][] }
  | { kind: "serve"; app: string };

/** closedAt is the board field of a close reason's counter. */
const closedAt = new Map(CLOSE_REASONS.map((r, i) => [r, A.CLOSED_BY + i]));

/** LOG_EVERY_MS bounds how often one kind of repeated failure is logged per app. */
const LOG_EVERY_MS = 1000;

export class App implements SessionHost {
  config: AppConfig;
  pool: Pool;
  readonly checker: HealthChecker;
  /** this worker's open sessions. */
  readonly sessions = new Set<Session>();
  /** this app's numbers on the board: totals over every worker are read from it. */
  readonly cell: Cell;
  /** seconds from accept to the target's connect, of every session that connected. */
  readonly connectDuration: Histogram;
  readonly #bytesUp: { f64: Float64Array; at: number };
  /** the row field of BUFFERED_DOWN; BUFFERED_UP sits at a fixed offset from it. */
  readonly #buffered: { f64: Float64Array; at: number };
  readonly #bytesDown: { f64: Float64Array; at: number };
  readonly #slot: number;
  readonly #owner: boolean;
  /** the shared board and its slots; undefined: this app's counts are its own (a unit test's app). */
  readonly #directory: Directory | undefined;
  readonly #board: Board | undefined;
  /** one limiter per kind of repeated line, so one flood never hides another. */
  readonly #warn = {
    resolve: this.#limiter(),
    local: this.#limiter(),
    dial: this.#limiter(),
    internal: this.#limiter(),
    noTarget: this.#limiter(),
    refused: this.#limiter(),
  };
  /** SNI routes, in config order; empty: none. */
  routes: Route[] = [];
  acl: Acl;
  /** open sessions per client IP, for max_connections_per_client: one count for every worker thread. */
  readonly #clients: ClientCounts;
  /** clients waiting for a target below its max_connections; one still waiting at queue_timeout is reset as `limit`. */
  readonly #waiting = new WaitQueue<Session>((s) => s.close("limit"));
  /** this app's lines, tagged `app/<name>`. */
  readonly log: Logger;
  readonly discovery: Discovery;
  #discoveryTimer: ReturnType<typeof setTimeout> | undefined;
  /** bumped by each #discover() and by stop(): a resolution started before is stale when it returns. */
  #generation = 0;
  #running = false;
  /** on_remove = "drain" timers still to fire. */
  readonly #drains = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    config: AppConfig,
    private readonly shared: Shared,
  ) {
    this.config = config;
    this.log = logger(`app/${config.name}`);
    this.#owner = shared.owner ?? true;
    this.#directory = shared.board === undefined ? undefined : (shared.directory ?? new Directory());
    this.#board = shared.board;
    this.#clients = shared.clients ?? new LocalClientCounts();
    this.#slot = this.#directory?.app(config.name) ?? -1;
    this.cell = this.#board?.app(this.#slot) ?? localAppCell();
    this.connectDuration = new Histogram(CONNECT_BUCKETS_S, cellStore(this.cell, A.HISTOGRAM));
    this.#bytesUp = this.cell.counter(A.BYTES_UP);
    this.#bytesDown = this.cell.counter(A.BYTES_DOWN);
    this.#buffered = this.cell.counter(A.BUFFERED_DOWN);
    this.discovery = new Discovery(shared.resolve ?? systemResolver, (host, error) =>
      this.#warn.resolve.log(`cannot resolve ${host} (${error}); keeping its last addresses`),
    );
    this.pool = new Pool(config.targets, createBalancer(config.balancer, Math.random, this.#turn), undefined, this.#make);
    this.routes = this.#routesFor(config.routes, []);
    this.acl = new Acl(config.allow, config.deny);
    this.checker = new HealthChecker(
      () => this.allTargets,
      config.health,
      (t, flipped, error) => this.#healthResult(t, flipped, error),
    );
  }

  get name(): string {
    return this.config.name;
  }

  /** #make binds the state of a new target address to its slot on the board. */
  #make = (e: Endpoint): TargetState => {
    if (this.#board === undefined) return new TargetState(e, undefined, this.#owner);
    const slot = this.#directory!.target(this.#slot, e.address);
    if (slot < 0) this.#warn.internal.log(`no room left on the board for target ${e.address}: its counts are this worker's own`);
    return new TargetState(e, this.#board.target(slot), this.#owner);
  };

  /** #turn is the app's round-robin position on the board, shared by every worker thread. */
  #turn = (): number => this.cell.turn(TURN);

  /** client connections accepted, by every worker. */
  get accepted(): number {
    return this.cell.get(A.ACCEPTED);
  }
  /** clients closed at once at a connection cap. */
  get rejected(): number {
    return this.cell.get(A.REJECTED);
  }
  /** clients closed because no target could be reached. */
  get failed(): number {
    return this.cell.get(A.FAILED);
  }
  /** dials that failed for want of a local resource (EMFILE, …), not through the target's fault. */
  get localErrors(): number {
    return this.cell.get(A.LOCAL_ERRORS);
  }
  /** open client connections, in every worker. */
  get open(): number {
    return this.cell.level(A.SESSIONS);
  }
  /** finished client connections with `reason`, cap rejections (`limit`) included. */
  closed(reason: CloseReason): number {
    return this.cell.get(closedAt.get(reason)!);
  }
  /**
   * #routesFor builds the route pools. One address is one TargetState across
   * the app's pool and all its routes (same backend: same health, same active
   * count), and a route keeps its balancer's state across reloads unless its
   * kind changed.
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
  get allTargets(): TargetState[] {
    if (this.routes.length === 0) return this.pool.targets;
    return [...new Set([...this.pool.targets, ...this.routes.flatMap((r) => r.pool.targets)])];
  }

  /** clients waiting in the queue now, in every worker. */
  get queued(): number {
    return this.cell.level(A.QUEUED);
  }
  get connectTimeoutMs(): number {
    return this.config.connectTimeoutMs;
  }
  get dials(): Sweeper {
    return this.shared.dials;
  }
  get limits(): Limits {
    return this.shared.limits;
  }
  /** the cap on this app's open client connections (see appCap). */
  get maxConnections(): number {
    const l = this.shared.limits;
    return appCap(l.maxConnections, l.apps, this.config.maxConnections);
  }

  start(): void {
    this.#running = true;
    if (!this.#owner) return;
    this.checker.start();
    void this.#discover();
  }

  /** stop ends health checks and DNS refreshes; `final` (process exit) also cancels pending on_remove drains. */
  stop(final = false): void {
    if (final) {
      for (const t of this.#drains) clearTimeout(t);
      this.#waiting.cancel();
      this.#syncQueued();
    }
    this.#running = false;
    this.#generation++;
    clearTimeout(this.#discoveryTimer);
    this.checker.stop();
  }

  /**
   * #discover resolves the app's host-name targets and swaps in the expanded
   * pool (target state is kept by address), then again every health interval.
   * An app without host names never arms the timer.
   */
  async #discover(): Promise<void> {
    clearTimeout(this.#discoveryTimer);
    // A resolution still in flight is stale from here on, even if this config has no names left.
    const generation = ++this.#generation;
    if (!this.#running || Discovery.names(this.config.targets).length === 0) return;
    const targets = await this.discovery.refresh(this.config.targets);
    if (generation !== this.#generation) return;
    const before = new Set(this.pool.targets.map((t) => t.address));
    const after = new Set(targets.map((t) => t.address));
    const added = [...after].filter((a) => !before.has(a));
    const removed = [...before].filter((a) => !after.has(a));
    if (added.length > 0 || removed.length > 0) {
      this.pool = new Pool(targets, this.pool.balancer, this.pool, this.#make);
      this.log.info(`targets from DNS: ${[...added.map((a) => `+${a}`), ...removed.map((a) => `-${a}`)].join(" ")}`);
      this.shared.tell?.({ kind: "targets", app: this.name, known: [...this.discovery.known] });
      // New addresses have room: waiting clients get it before anyone who connects later.
      this.serveQueue();
    }
    this.#discoveryTimer = setTimeout(() => void this.#discover(), this.checker.config.intervalMs);
  }

  /** rediscover resolves the app's host names again now (a reload asks for it even when nothing else changed). */
  rediscover(): void {
    if (this.#owner) void this.#discover();
  }

  /**
   * update applies a reloaded config to new connections. Target state is kept
   * by address; open sessions keep the target they have. The balancer is kept
   * too unless its kind changed, so a rotation does not restart.
   */
  update(config: AppConfig): void {
    const health = config.health;
    const balancer = config.balancer === this.config.balancer ? this.pool.balancer : createBalancer(config.balancer, Math.random, this.#turn);
    // Names resolved before keep their addresses until the new resolution below answers.
    this.pool = new Pool(expand(config.targets, this.discovery.known), balancer, this.pool, this.#make);
    this.routes = this.#routesFor(config.routes, this.routes);
    this.acl = new Acl(config.allow, config.deny);
    this.config = config;
    const restart = health.intervalMs !== this.checker.config.intervalMs;
    this.checker.config = health;
    // A timer armed with the old interval (say 1h) would otherwise delay the new one.
    if (restart && this.#owner) {
      this.checker.stop();
      this.checker.start();
    }
    this.rediscover();
    // Caps may have risen, or targets come: waiting clients may have a slot now.
    this.serveQueue();
  }

  /**
   * drainRemoved closes, after `timeoutMs`, the sessions still open on
   * `addresses` (configured targets a reload removed), with reason `drained`.
   * A session on a DNS-expanded address matches its configured name. An
   * address that a later reload put back by then is left alone.
   */
  drainRemoved(addresses: readonly string[], timeoutMs: number): void {
    const timer = setTimeout(() => {
      this.#drains.delete(timer);
      const back = new Set(this.#running ? this.config.targets.map((t) => t.address) : []);
      const gone = new Set(addresses.filter((a) => !back.has(a)));
      let n = 0;
      for (const s of [...this.sessions]) {
        const t = s.target;
        if (t !== null && gone.has(t.origin ?? t.address)) {
          s.close("drained");
          n++;
        }
      }
      if (n > 0) this.log.info(`closed ${n} session${n === 1 ? "" : "s"} on removed target${gone.size === 1 ? "" : "s"} ${[...gone].join(", ")} (on_remove = "drain")`);
    }, timeoutMs);
    this.#drains.add(timer);
  }

  /**
   * setEnabled drains (false) or re-enables (true) the target at `address`:
   * a drained target gets no new sessions while its open ones carry on. The
   * state lives on the TargetState, which reloads and DNS refreshes keep by
   * address. Returns undefined when the app has no such target.
   */
  setEnabled(address: string, enabled: boolean, how = "through the admin API"): TargetState | undefined {
    const t = this.allTargets.find((x) => x.address === address);
    if (t === undefined) return undefined;
    if (t.enabled !== enabled) {
      t.enabled = enabled;
      // Back in rotation after a drain: ramp up like a recovered target.
      if (enabled) t.slowStart(this.config.slowStartMs);
      this.#refreshPools(enabled ? [address] : []);
      if (enabled) this.serveQueue();
      this.log.info(`target ${address} ${enabled ? "enabled" : "drained"} ${how}`);
    }
    return t;
  }

  /** the access log is on for this app: [log] access, unless the app's access_log is false. */
  get accessLogged(): boolean {
    return this.config.accessLog && logSettings().access;
  }

  /**
   * accept takes a socket a listener on `port` accepted; past the connection
   * cap it is closed at once (and counted, and logged, as `limit`).
   */
  accept(sock: Socket<Session>, port = 0): void {
    const limits = this.shared.limits;
    // Counted first and given back on refusal: two workers accepting at once cannot both take the last place.
    const admitted = limits.admit();
    if (!admitted || !this.cell.raiseBelow(A.SESSIONS, this.maxConnections)) {
      if (admitted) limits.release();
      this.cell.add(A.REJECTED);
      return this.#refuse(sock, port, "limit");
    }
    const c = this.config;
    // With accept_proxy the client is known only once its header is read (prefaceData).
    let key: string | undefined;
    if (!c.acceptProxy && (!this.acl.empty || c.maxConnectionsPerClient > 0)) {
      key = plainIp(sock.remoteAddress);
      const refusal = this.#admit(key);
      if (refusal !== undefined) {
        limits.release();
        this.cell.raise(A.SESSIONS, -1);
        return this.#refuse(sock, port, refusal);
      }
    }
    this.cell.add(A.ACCEPTED);
    const s = new Session(this, sock, c.idleTimeoutMs, c.bufferSize);
    s.upPipe.tally = this.#bytesUp.f64;
    s.upPipe.tallyAt = this.#bytesUp.at;
    s.downPipe.tally = this.#bytesDown.f64;
    s.downPipe.tallyAt = this.#bytesDown.at;
    s.upPipe.held = s.downPipe.held = this.#buffered.f64;
    s.upPipe.heldAt = this.#buffered.at + (A.BUFFERED_UP - A.BUFFERED_DOWN);
    s.downPipe.heldAt = this.#buffered.at;
    s.port = port;
    // Read now: Bun forgets remotePort once the socket closes.
    if (this.accessLogged) s.client = clientOf(sock);
    sock.data = s;
    this.sessions.add(s);
    if (key !== undefined) this.#countClient(s, key);
    if (s.idleTimeoutMs > 0) this.shared.idle.add(s);
    if (c.acceptProxy || this.routes.length > 0) {
      s.preface = new Preface(c.acceptProxy, this.routes.length > 0);
      this.shared.dials.add(new PrefaceDeadline(s, performance.now() + c.connectTimeoutMs, this));
      return;
    }
    if (c.sendProxy !== "none") s.proxyHeader = this.#proxyHeader(sock, undefined, undefined);
    s.dial();
  }

  /**
   * #admit applies the ACL and the per-client limit to a client IP: undefined
   * when it may connect, and then its connection is already counted against
   * the limit (#countClient records it on the session).
   */
  #admit(ip: string): CloseReason | undefined {
    if (!this.acl.permits(clientIp(ip))) return "denied";
    const max = this.config.maxConnectionsPerClient;
    if (max > 0 && !this.#clients.take(this.#slot, ip, max)) return "limit";
    return undefined;
  }

  #countClient(s: Session, key: string): void {
    if (this.config.maxConnectionsPerClient === 0) return;
    s.clientKey = key;
  }

  /** #refuse closes a client before any session exists: a reset, counted and logged with its reason. */
  #refuse(sock: Socket<Session>, port: number, reason: CloseReason): void {
    this.#count(reason);
    if (this.accessLogged) accessLog(rejectedFields(this.name, port, clientOf(sock), reason));
    // A reset, not a FIN: the client must not take an empty stream for a served one.
    sock.terminate();
  }

  /** #proxyHeader is the send_proxy header for a client: its own addresses, or those a PROXY header in front gave. */
  #proxyHeader(sock: Socket<Session>, source: Address | undefined, destination: Address | undefined): Uint8Array {
    const ends = {
      source: source ?? { address: sock.remoteAddress, port: sock.remotePort },
      destination: destination ?? { address: sock.localAddress, port: sock.localPort },
    };
    return this.config.sendProxy === "v1" ? proxyV1(ends) : proxyV2(ends);
  }

  /** prefaceData: a chunk of a client whose PROXY header or ClientHello is still being read. */
  prefaceData(s: Session, chunk: Uint8Array): void {
    const p = s.preface!;
    const r = p.push(chunk);
    if (r.state === "wait") return;
    if (r.state === "reject") return this.#prefaceFailed(s, r.reason, r.why);
    s.preface = null;
    s.connectFrom = performance.now();
    // p.acceptProxy, not the config's: accept() skipped the ACL for this client, and a reload since must not let it skip both.
    if (p.acceptProxy && r.source !== undefined) {
      // Before the ACL: a refused client is logged under the address it was refused for.
      if (this.accessLogged) s.client = clientOf({ remoteAddress: r.source.address, remotePort: r.source.port });
      const key = plainIp(r.source.address);
      const refusal = this.#admit(key);
      if (refusal !== undefined) {
        this.#warn.refused.log(`client ${r.source.address} (by PROXY header) refused: ${refusal}`);
        return s.close(refusal);
      }
      this.#countClient(s, key);
    } else if (p.acceptProxy) {
      // LOCAL or UNKNOWN: the connection's own address stands.
      const key = plainIp(s.down.remoteAddress);
      const refusal = this.#admit(key);
      if (refusal !== undefined) return s.close(refusal);
      this.#countClient(s, key);
    }
    if (this.routes.length > 0) {
      const name = r.serverName;
      const route = name === undefined ? undefined : this.routes.find((x) => x.config.sni.some((p) => sniMatches(p, name)));
      if (route !== undefined) s.pool = route.pool;
      else if (this.pool.targets.length === 0) {
        this.#warn.noTarget.log(name === undefined ? "TLS client without a server name, and no fallback targets" : `no route for ${name}, and no fallback targets`);
        return s.close("no-target");
      }
    }
    if (this.config.sendProxy !== "none") s.proxyHeader = this.#proxyHeader(s.down as Socket<Session>, r.source, r.destination);
    if (r.rest.length > 0 && !s.upPipe.push(r.rest)) return s.close("target-reset");
    s.dial();
  }

  /** prefaceEnded: the client sent FIN before its preface was complete. */
  prefaceEnded(s: Session): void {
    const f = s.preface!.failure("before the client finished sending");
    this.#prefaceFailed(s, f.reason, f.why);
  }

  prefaceTimedOut(s: Session): void {
    const f = s.preface!.failure(`within connect_timeout (${this.config.connectTimeoutMs} ms)`);
    this.#prefaceFailed(s, f.reason, f.why);
  }

  #prefaceFailed(s: Session, reason: CloseReason, why: string): void {
    this.#warn.refused.log(`client closed (${reason}): ${why}`);
    s.close(reason);
  }

  /** enqueue: every target the session may use is at its max_connections; it waits up to queue_timeout. */
  enqueue(s: Session): boolean {
    const wait = this.config.queueTimeoutMs;
    if (wait <= 0) return false;
    this.#waiting.add(s, wait);
    this.#syncQueued();
    return true;
  }

  /**
   * serveQueue dials, oldest first, every waiting client whose pool has a
   * target with room now. With `others`, a place freed here that clients
   * queued in other workers may be waiting for is announced to them too.
   */
  serveQueue(others = false): void {
    this.#waiting.serve(
      (s) => !(s.pool ?? this.pool).waiting(s.tried),
      (s) => s.dial(),
    );
    this.#syncQueued();
    if (others && this.shared.tell !== undefined && this.cell.level(A.QUEUED) > this.cell.mine(A.QUEUED)) {
      this.shared.tell({ kind: "serve", app: this.name });
    }
  }

  /** #syncQueued puts this worker's queue length on the board. */
  #syncQueued(): void {
    const d = this.#waiting.size - this.cell.mine(A.QUEUED);
    if (d !== 0) this.cell.raise(A.QUEUED, d);
  }

  /** dropQueue closes every waiting client (shutdown): none of them should be dialled on the way out. */
  dropQueue(reason: CloseReason): number {
    const waiting = this.#waiting.drain();
    this.#syncQueued();
    for (const s of waiting) s.close(reason);
    return waiting.length;
  }

  dialFailed(target: TargetState, error: string): void {
    if (target.maxConnections > 0) this.serveQueue(true);
    if (isLocalError(error)) {
      // This host's shortage, not the target's fault: it stays in rotation.
      this.cell.add(A.LOCAL_ERRORS);
      this.#warn.local.log(`cannot dial ${target.address}: ${error}: ${LOCAL_ERROR_TEXT[error]}`);
      return;
    }
    target.dialFailed();
    if (!this.#owner) {
      // The owner keeps the health state; it marks the target and tells every worker.
      this.shared.tell?.({ kind: "dial-failed", app: this.name, address: target.address, error });
      return;
    }
    this.markDown(target, error);
  }

  /** markDown is the owner's passive health mark of a target a dial to failed (here or in another worker). */
  markDown(target: TargetState, error: string): void {
    if (target.health.markDown(performance.now(), error)) {
      this.#refreshPools();
      this.log.warn(`target ${target.address} down (dial failed: ${error})`);
    } else {
      this.#warn.dial.log(`dial to ${target.address} failed: ${error}`);
    }
  }

  dialing(s: Session, target: TargetState): void {
    if (debugOn()) this.log.debug(s.dialled === 1 ? `dialling ${target.address}` : `dialling ${target.address} (failover, attempt ${s.dialled})`);
  }

  connected(s: Session): void {
    this.connectDuration.observe(s.connectMs! / 1000);
    if (debugOn()) this.log.debug(`connected to ${s.target?.address} in ${s.connectMs!.toFixed(2)} ms`);
  }

  internalError(error: unknown): void {
    this.#warn.internal.log(`internal error, session reset: ${(error as Error)?.stack ?? String(error)}`);
  }

  sessionClosed(s: Session): void {
    this.sessions.delete(s);
    const limits = this.shared.limits;
    limits.release();
    this.cell.raise(A.SESSIONS, -1);
    if (limits.own === 0) this.shared.onIdle?.();
    if (s.idleTimeoutMs > 0) this.shared.idle.delete(s);
    if (s.clientKey !== undefined) this.#clients.release(this.#slot, s.clientKey);
    this.serveQueue(true);
    const reason = s.reason ?? "internal-error";
    this.#count(reason);
    if (reason === "connect-failed" || reason === "no-target") {
      this.cell.add(A.FAILED);
      this.#warn.noTarget.log(
        reason === "no-target" ? "client closed: no target ready" : `client closed: no target reachable (${s.dialled} tried)`,
      );
    }
    if (this.accessLogged) accessLog(accessFields(this.name, s.port, s.client ?? "-", s, performance.now()));
  }

  #count(reason: CloseReason): void {
    this.cell.add(closedAt.get(reason)!);
  }

  /** bytes returns the total moved each way by every worker, open sessions included (pipes count as they write). */
  bytes(): { upstream: number; downstream: number } {
    return { upstream: this.cell.get(A.BYTES_UP), downstream: this.cell.get(A.BYTES_DOWN) };
  }

  /** buffered returns the bytes held in every worker's queues now, each way. */
  buffered(): { upstream: number; downstream: number } {
    return { upstream: this.cell.get(A.BUFFERED_UP), downstream: this.cell.get(A.BUFFERED_DOWN) };
  }

  #healthResult(t: TargetState, flipped: boolean, error: string | null): void {
    this.log.debug(`health check ${t.address}: ${error === null ? "pass" : `fail (${error})`}`);
    if (!flipped) return;
    if (t.health.healthy) t.slowStart(this.config.slowStartMs);
    this.#refreshPools(t.health.healthy ? [t.address] : []);
    if (t.health.healthy) {
      this.serveQueue();
      this.log.success(`target ${t.address} up${this.config.slowStartMs > 0 ? ` (slow start over ${this.config.slowStartMs} ms)` : ""}`);
    } else this.log.warn(`target ${t.address} down (${t.health.lastError ?? "check failed"})`);
  }

  /**
   * #refreshPools rebuilds the ready lists of the app's pool and its routes'
   * after a health or enabled change, and has the other workers do the same
   * (starting the slow start of the targets in `slowStart` on their side).
   */
  #refreshPools(slowStart: string[] = []): void {
    this.pool.refresh();
    for (const r of this.routes) r.pool.refresh();
    this.shared.tell?.({ kind: "refresh", app: this.name, slowStart });
  }

  /**
   * hear takes what the owner thread told this worker (see Tidings): new
   * target state to rebuild the ready lists from, DNS answers, or a place
   * freed in another worker that queued clients here may take.
   */
  hear(news: Tidings): void {
    switch (news.kind) {
      case "refresh":
        this.pool.refresh();
        for (const r of this.routes) r.pool.refresh();
        for (const a of news.slowStart) this.allTargets.find((t) => t.address === a)?.slowStart(this.config.slowStartMs);
        return this.serveQueue();
      case "targets":
        this.discovery.known.clear();
        for (const [k, v] of news.known) this.discovery.known.set(k, v);
        this.pool = new Pool(expand(this.config.targets, this.discovery.known), this.pool.balancer, this.pool, this.#make);
        return this.serveQueue();
      case "serve":
        return this.serveQueue();
      case "dial-failed": {
        const t = this.allTargets.find((x) => x.address === news.address);
        if (t !== undefined && this.#owner) this.markDown(t, news.error);
        return;
      }
    }
  }

  #limiter(): RateLimitedLog {
    return new RateLimitedLog(LOG_EVERY_MS, (line) => this.log.warn(line));
  }
}
