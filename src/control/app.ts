/**
 * @module app: one configured app at run time: listeners hand it accepted
 * sockets, and it owns their sessions, its counters on the board, the queue
 * of clients waiting for a target with room, and its life across reloads.
 * Its other jobs each have a module: who may connect (admission), what is
 * read before dialling (preface-stage), and its targets (target-set).
 */
import type { Socket } from "bun";
import { A, Directory, localAppCell, type Cell } from "../sys/board.ts";
import type { AppConfig } from "../config/types.ts";
import { Admission } from "../datapath/admission.ts";
import { LocalClientCounts } from "../datapath/client-counts.ts";
import { Preface } from "../datapath/preface.ts";
import { PrefaceDeadline, prefaceData, prefaceEnded, proxyHeader, type PrefaceHost } from "../datapath/preface-stage.ts";
import { AppCounters } from "../datapath/app-counters.ts";
import { appCap, isLocalError, LOCAL_ERROR_TEXT, type Limits } from "../sys/limits.ts";
import { accessFields, clientOf } from "../datapath/access-log.ts";
import { accessLog, debugOn, logger, logSettings, type Logger } from "../sys/log.ts";
import type { Pool, TargetState } from "../upstream/pool.ts";
import { RateLimitedLog } from "../sys/rate-limit.ts";
import { TargetSet, type Route, type TargetSetHost } from "../upstream/target-set.ts";
import type { Shared } from "./app-shared.ts";
import type { Tidings } from "../upstream/tidings.ts";
import type { CloseReason } from "../datapath/close-reason.ts";
import { Session, type SessionHost } from "../datapath/session.ts";
import type { Sweeper } from "../sys/sweeper.ts";
import { ClientQueue } from "../datapath/client-queue.ts";


/** LOG_EVERY_MS bounds how often one kind of repeated failure is logged per app. */
const LOG_EVERY_MS = 1000;

export class App implements SessionHost, PrefaceHost, TargetSetHost {
  config: AppConfig;
  /** the app's targets: pool, routes, health, DNS (src/upstream/target-set.ts). */
  readonly targets: TargetSet;
  /** this worker's open sessions. */
  readonly sessions = new Set<Session>();
  /** this app's numbers on the board: totals over every worker are read from it. */
  readonly cell: Cell;
  readonly counters: AppCounters;
  readonly #owner: boolean;
  /** one limiter per kind of repeated line, so one flood never hides another. */
  readonly #warn = {
    resolve: this.#limiter(),
    local: this.#limiter(),
    dial: this.#limiter(),
    internal: this.#limiter(),
    noTarget: this.#limiter(),
    refused: this.#limiter(),
  };
  /** the ACL and the per-client limit (src/datapath/admission.ts). */
  readonly admission: Admission;
  /** clients waiting for a target with room (src/datapath/client-queue.ts). */
  readonly #queue: ClientQueue;
  /** this app's lines, tagged `app/<name>`. */
  readonly log: Logger;
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
    const board = shared.board;
    const directory = board === undefined ? undefined : (shared.directory ?? new Directory());
    const slot = directory?.app(config.name) ?? -1;
    this.cell = board?.app(slot) ?? localAppCell();
    this.counters = new AppCounters(this.cell);
    this.admission = new Admission(this, config, shared.clients ?? new LocalClientCounts(), slot);
    this.#queue = new ClientQueue(this.cell);
    this.targets = new TargetSet(this, {
      board,
      directory,
      slot,
      cell: this.cell,
      owner: this.#owner,
      tell: shared.tell,
      resolve: shared.resolve,
      warn: this.#warn,
    });
  }

  get name(): string {
    return this.config.name;
  }

  get pool(): Pool {
    return this.targets.pool;
  }
  get routes(): readonly Route[] {
    return this.targets.routes;
  }
  /** every target the app may dial, each address once: its own and its routes'. */
  get allTargets(): TargetState[] {
    return this.targets.all;
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
    this.targets.start();
  }

  /** stop ends health checks and DNS refreshes; `final` (process exit) also cancels pending on_remove drains. */
  stop(final = false): void {
    if (final) {
      for (const t of this.#drains) clearTimeout(t);
      this.#queue.cancel();
    }
    this.#running = false;
    this.targets.stop();
  }

  /**
   * update applies a reloaded config to new connections. Target state is kept
   * by address; open sessions keep the target they have (src/upstream/target-set.ts).
   */
  update(config: AppConfig): void {
    this.targets.update(config);
    this.admission.update(config);
    this.config = config;
    this.targets.rediscover();
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

  /** the access log is on for this app: [log] access, unless the app's access_log is false. */
  get accessLogged(): boolean {
    return this.config.accessLog && logSettings().access;
  }

  /**
   * accept takes a socket a listener on `port` accepted; past the connection
   * cap it is closed at once (and counted, and logged, as `limit`).
   */
  accept(sock: Socket<Session>, port = 0): void {
    const ip = this.admission.enter(sock, port);
    if (ip === undefined) return;
    const c = this.config;
    this.cell.add(A.ACCEPTED);
    const s = new Session(this, sock, c.idleTimeoutMs, c.bufferSize);
    this.counters.wire(s.upPipe, s.downPipe);
    s.upPipe.stalls = s.downPipe.stalls = this.shared.stalls;
    s.port = port;
    // Read now: Bun forgets remotePort once the socket closes.
    if (this.accessLogged) s.client = clientOf(sock);
    sock.data = s;
    this.sessions.add(s);
    if (ip !== null) this.admission.hold(s, ip);
    if (s.idleTimeoutMs > 0) this.shared.idle.add(s);
    if (c.acceptProxy || this.routes.length > 0) {
      s.preface = new Preface(c.acceptProxy, this.routes.length > 0);
      this.shared.dials.add(new PrefaceDeadline(s, performance.now() + c.connectTimeoutMs, this));
      return;
    }
    if (c.sendProxy !== "none") s.proxyHeader = proxyHeader(c.sendProxy, sock);
    s.dial();
  }

  /** prefaceData and prefaceEnded: the client's PROXY header or ClientHello is still being read (src/datapath/preface-stage.ts). */
  prefaceData(s: Session, chunk: Uint8Array): void {
    prefaceData(this, s, chunk);
  }
  prefaceEnded(s: Session): void {
    prefaceEnded(this, s);
  }
  warnRefused(line: string): void {
    this.#warn.refused.log(line);
  }
  warnNoTarget(line: string): void {
    this.#warn.noTarget.log(line);
  }

  /** enqueue: every target the session may use is at its max_connections; it waits up to queue_timeout. */
  enqueue(s: Session): boolean {
    const wait = this.config.queueTimeoutMs;
    if (wait <= 0) return false;
    this.#queue.add(s, wait);
    return true;
  }

  /**
   * serveQueue dials the waiting clients that have a target with room now.
   * With `others`, a place freed here that clients queued in other workers
   * may be waiting for is announced to them too.
   */
  serveQueue(others = false): void {
    if (this.#queue.serve(this.pool) && others) this.shared.tell?.({ kind: "serve", app: this.name });
  }

  /** dropQueue closes every waiting client (shutdown). */
  dropQueue(reason: CloseReason): number {
    return this.#queue.drop(reason);
  }

  dialFailed(target: TargetState, error: string): void {
    if (target.maxConnections > 0) this.serveQueue(true);
    if (isLocalError(error)) {
      // This host's shortage, not the target's fault: it stays in rotation.
      this.cell.add(A.LOCAL_ERRORS);
      this.#warn.local.log(`cannot dial ${target.address}: ${error}: ${LOCAL_ERROR_TEXT[error]}`);
      return;
    }
    this.targets.dialFailed(target, error);
  }

  dialing(s: Session, target: TargetState): void {
    if (debugOn()) this.log.debug(s.dialled === 1 ? `dialling ${target.address}` : `dialling ${target.address} (failover, attempt ${s.dialled})`);
  }

  connected(s: Session): void {
    this.counters.connectDuration.observe(s.connectMs! / 1000);
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
    this.admission.release(s);
    this.serveQueue(true);
    const reason = s.reason ?? "internal-error";
    this.counters.count(reason);
    if (reason === "connect-failed" || reason === "no-target") {
      this.cell.add(A.FAILED);
      this.#warn.noTarget.log(
        reason === "no-target" ? "client closed: no target ready" : `client closed: no target reachable (${s.dialled} tried)`,
      );
    }
    if (this.accessLogged) accessLog(accessFields(this.name, s.port, s.client ?? "-", s, performance.now()));
  }

  /** gained: targets may have room now (src/upstream/target-set.ts), so waiting clients are served. */
  gained(): void {
    this.serveQueue();
  }

  /** hear takes what another worker thread told about this app (see Tidings). */
  hear(news: Tidings): void {
    if (news.kind === "serve") this.serveQueue();
    else this.targets.hear(news);
  }

  #limiter(): RateLimitedLog {
    return new RateLimitedLog(LOG_EVERY_MS, (line) => this.log.warn(line));
  }
}
