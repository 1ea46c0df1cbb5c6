/**
 * @module workers: the main thread's side of the other worker threads. It
 * starts them with the running config, passes reloads and target news on,
 * drains them at shutdown, and replaces one that dies: its sessions died
 * with it, so its share of every gauge is taken off the board (reclaim)
 * before the new thread takes its row. The other workers' connections are
 * never touched.
 */
import type { Tidings } from "../upstream/tidings.ts";
import { G, type Board, type Directory } from "../sys/board.ts";
import type { SharedClientCounts } from "../datapath/client-counts.ts";
import type { Config } from "../config/types.ts";
import { SluiceError } from "../sys/errors.ts";
import type { Logger, LogSettings } from "../sys/log.ts";
import type { Runtime } from "./runtime.ts";
import type { Fault, FromWorker, ToWorker, WorkerInfo } from "./worker-protocol.ts";
import { loopSockets, resetSockets } from "../sys/stuck-sockets.ts";

/** START_TIMEOUT_MS bounds how long a worker may take to bind its ports and say it is ready. */
const START_TIMEOUT_MS = 10_000;
/** APPLY_TIMEOUT_MS bounds how long a reload waits for each worker to apply it; one that does not is replaced. */
const APPLY_TIMEOUT_MS = 5_000;
/**
 * HANG_MS: a worker whose heartbeat (bumped every second by a timer in its
 * loop) has not moved for this long has a stuck event loop: it accepts no
 * more, while the kernel keeps handing it its share of new connections. It
 * is stopped and replaced.
 */
const HANG_MS = 5_000;
/** A worker that dies within STABLE_MS of its start is restarted after a growing pause (up to MAX_BACKOFF_MS). */
const STABLE_MS = 5_000;
const MAX_BACKOFF_MS = 30_000;


export interface WorkersOptions {
  /** the worker threads' entry point (src/worker.ts, the executable's second entry; main.ts names it, beside it). */
  entry: string;
  /** threads in all, the main thread (worker 0) included. */
  count: number;
  board: Board;
  directory: Directory;
  clients: SharedClientCounts;
  runtime: Runtime;
  log: Logger;
  configPath: string;
  fdLimit: number | undefined;
  /** the log settings in force (the config's under the command line's). */
  logSettings: () => Partial<LogSettings>;
}

/** Thread is one worker thread and what the main thread waits for from it. */
class Thread {
  readonly startedAt = new Date();
  /** resolvers of reloads sent and not yet answered, oldest first. */
  readonly applying: ((error: string | undefined) => void)[] = [];
  bye: ((forced: number) => void) | undefined;
  /** resolves the wait for this thread's ports to close at shutdown. */
  closed: (() => void) | undefined;
  /** set once the thread is gone (it died, or was stopped): nothing more is expected from it. */
  gone = false;
  /** it said "ready": the watchdog watches it from then on. */
  ready = false;
  /** its listening sockets by port, as it last reported them. */
  listeners: [port: number, fds: number[]][] = [];
  /** the heartbeat last seen, and when it last moved (Date.now()). */
  beat = 0;
  beatAt = Date.now();

  constructor(
    readonly index: number,
    readonly worker: Worker,
    readonly restarts: number,
  ) {}

  post(m: ToWorker): void {
    if (!this.gone) this.worker.postMessage(m);
  }
}

export class Workers {
  readonly #threads = new Map<number, Thread>();
  readonly #opts: WorkersOptions;
  #stopping = false;
  /** when the main thread (worker 0) started, for /status. */
  readonly #started = new Date().toISOString();

  constructor(opts: WorkersOptions) {
    this.#opts = opts;
  }

  #watchdog: ReturnType<typeof setInterval> | undefined;

  /**
   * start starts workers 1…count-1 and resolves when every one is listening;
   * it throws if any cannot start. `shares[i]` are the listening sockets
   * worker i adopts from the process this one upgrades (src/control/inherit.ts).
   */
  async start(shares: Map<number, number[]>[] = []): Promise<void> {
    this.#watchdog = setInterval(() => this.#checkHeartbeats(Date.now()), 1000);
    const started: Promise<void>[] = [];
    for (let i = 1; i < this.#opts.count; i++) started.push(this.#spawn(i, 0, shares[i] === undefined ? undefined : [...shares[i]!]));
    const results = await Promise.allSettled(started);
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed !== undefined) {
      this.stop();
      throw failed.reason;
    }
  }

  /** listenerFds lists every worker thread's listening sockets by port (the main thread's are the runtime's). */
  listenerFds(): [port: number, fds: number[]][] {
    return [...this.#threads.values()].filter((t) => !t.gone).flatMap((t) => t.listeners);
  }

  /** #spawn starts the thread for row `index` with the running config; it resolves once the thread listens. */
  #spawn(index: number, restarts: number, inherit?: [port: number, fds: number[]][]): Promise<void> {
    const { runtime, directory } = this.#opts;
    const config = runtime.config!;
    const worker = new Worker(this.#opts.entry);
    const t = new Thread(index, worker, restarts);
    this.#threads.set(index, t);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => reject(new SluiceError("LISTEN_FAILED", `worker ${index} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const settle = () => clearTimeout(timer);
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const m = event.data;
      switch (m.type) {
        case "ready":
          settle();
          t.listeners = m.listeners;
          t.ready = true;
          t.beatAt = Date.now();
          return resolve();
        case "failed":
          settle();
          t.gone = true;
          worker.terminate();
          return reject(new SluiceError("LISTEN_FAILED", `worker ${index}: ${m.error}`));
        case "applied":
          if (m.listeners !== undefined) t.listeners = m.listeners;
          return t.applying.shift()?.(m.error);
        case "tidings":
          return this.#heard(m.news, index);
        case "closed":
          return t.closed?.();
        case "bye":
          return t.bye?.(m.forced);
      }
    };
    worker.addEventListener("error", (e: ErrorEvent) => {
      this.#opts.log.error(`worker ${index} failed: ${e.message}`);
      // Whatever state it is in, it is not trusted any more: stop it; "close" replaces it.
      worker.terminate();
    });
    worker.addEventListener("close", () => {
      settle();
      reject(new SluiceError("LISTEN_FAILED", `worker ${index} exited while starting`));
      this.#lost(t);
    });
    const start: ToWorker = {
      type: "start",
      index,
      workers: this.#opts.count,
      buffer: this.#opts.board.buffer,
      clients: this.#opts.clients.buffer,
      config,
      directory: directory.entries(),
      known: [...runtime.apps.values()].map((a) => [a.name, [...a.targets.discovery.known]]),
      log: this.#opts.logSettings(),
      configPath: this.#opts.configPath,
      fdLimit: this.#opts.fdLimit,
      ...(inherit === undefined ? {} : { inherit }),
    };
    worker.postMessage(start);
    return promise;
  }

  /**
   * #checkHeartbeats stops a worker whose loop has not turned for HANG_MS,
   * so that its listeners close and the kernel sends its share of new
   * connections to the others. Nothing can run in that thread to close its
   * sessions, and Bun does not close a stuck thread's sockets when it stops
   * it (docs/BUN-SOCKETS.md), so this thread resets them first
   * (src/sys/stuck-sockets.ts): their clients learn at once.
   */
  #checkHeartbeats(now: number): void {
    if (this.#stopping) return;
    for (const t of this.#threads.values()) {
      if (!t.ready || t.gone) continue;
      const beat = this.#opts.board.as(t.index).process.mine(G.HEARTBEAT);
      if (beat !== t.beat) {
        t.beat = beat;
        t.beatAt = now;
      } else if (now - t.beatAt >= HANG_MS) {
        // Its sessions are reset first, while the stuck thread cannot touch their descriptors (src/sys/stuck-sockets.ts).
        const found = loopSockets(t.listeners.flatMap(([, fds]) => fds));
        const reset = typeof found === "string" ? found : resetSockets(found);
        this.#opts.log.error(
          `worker ${t.index} has not run for ${Math.round((now - t.beatAt) / 1000)} s (its event loop is stuck): stopping it and starting another; ` +
            (typeof reset === "number" ? `reset its ${reset} open sockets (clients and targets)` : `its open connections could not be reset (${reset}) and stay idle until sluice restarts`),
        );
        t.ready = false;
        t.worker.terminate();
      }
    }
  }

  /** #lost: a thread ended. Unless it was asked to, its gauges are reclaimed and it is replaced. */
  #lost(t: Thread): void {
    const wasGone = t.gone;
    t.gone = true;
    for (const a of t.applying.splice(0)) a("the worker exited");
    t.closed?.();
    t.bye?.(0);
    if (this.#threads.get(t.index) !== t) return;
    this.#threads.delete(t.index);
    // Its sessions died with it: their places in the cap, the apps and the targets are free again.
    this.#opts.board.reclaim(t.index);
    this.#opts.clients.reclaim(t.index);
    if (this.#stopping || wasGone) return;
    const lived = Date.now() - t.startedAt.getTime();
    const pause = lived >= STABLE_MS ? 0 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(t.restarts, 6));
    this.#opts.log.warn(`worker ${t.index} exited; starting a new one${pause > 0 ? ` in ${pause} ms` : ""} (the other workers' connections are untouched)`);
    setTimeout(() => {
      if (this.#stopping) return;
      this.#spawn(t.index, t.restarts + 1).then(
        () => this.#opts.log.info(`worker ${t.index} replaced`),
        (e) => this.#opts.log.error(`worker ${t.index} could not be replaced: ${(e as Error).message}`),
      );
    }, pause);
  }

  /**
   * #heard: what worker `from` told. A dial failure is the owner's to judge
   * (the runtime marks the target, which tells everyone if it flips); a
   * freed place is passed to every other worker and to this thread.
   */
  #heard(news: Tidings, from: number): void {
    if (news.kind === "serve") this.broadcast(news, from);
    this.#opts.runtime.hear(news);
  }

  /** broadcast tells every worker but `except` of an app's news (the owner's target state, DNS answers, a freed place). */
  broadcast(news: Tidings, except?: number): void {
    const directory = news.kind === "targets" ? this.#opts.directory.entries() : undefined;
    for (const t of this.#threads.values()) if (t.index !== except) t.post({ type: "tidings", news, directory });
  }

  /**
   * apply has every worker apply `config` (which the main thread already
   * has) and resolves when all did. A worker that fails to or does not
   * answer in time is stopped and replaced with the new config.
   */
  async apply(config: Config): Promise<void> {
    const waits = [...this.#threads.values()].map((t) => {
      const { promise, resolve } = Promise.withResolvers<string | undefined>();
      const timer = setTimeout(() => resolve(`no answer within ${APPLY_TIMEOUT_MS} ms`), APPLY_TIMEOUT_MS);
      t.applying.push((error) => {
        clearTimeout(timer);
        resolve(error);
      });
      t.post({ type: "apply", config, directory: this.#opts.directory.entries(), log: this.#opts.logSettings() });
      return promise.then((error) => {
        if (error === undefined || t.gone) return;
        this.#opts.log.error(`worker ${t.index} could not apply the reload (${error}); replacing it`);
        t.worker.terminate();
      });
    });
    await Promise.all(waits);
  }

  /** portsClosed resolves once every worker has closed its ports after shutdown() (or `ms` have passed). */
  portsClosed: Promise<void> = Promise.resolve();

  /** shutdown drains every worker as the main thread drains itself and resolves to the sessions they had to close. */
  async shutdown(delayMs: number, timeoutMs: number): Promise<number> {
    this.#stopping = true;
    const closing = [...this.#threads.values()].map((t) => {
      const { promise, resolve } = Promise.withResolvers<void>();
      t.closed = resolve;
      return promise;
    });
    const bound = Bun.sleep(delayMs + 2_000);
    this.portsClosed = Promise.race([Promise.all(closing).then(() => {}), bound]);
    const byes = [...this.#threads.values()].map((t) => {
      const { promise, resolve } = Promise.withResolvers<number>();
      // A worker that does not answer past its own deadline is stopped; its sessions go with the process anyway.
      const timer = setTimeout(() => resolve(0), delayMs + timeoutMs + 2_000);
      t.bye = (forced) => {
        clearTimeout(timer);
        resolve(forced);
      };
      t.post({ type: "shutdown", delayMs, timeoutMs });
      return promise;
    });
    const forced = (await Promise.all(byes)).reduce((a, b) => a + b, 0);
    this.stop();
    return forced;
  }

  /** stop ends every worker at once. */
  stop(): void {
    this.#stopping = true;
    clearInterval(this.#watchdog);
    for (const t of this.#threads.values()) {
      t.gone = true;
      t.worker.terminate();
    }
  }

  /** info lists every worker, the main thread (0) first. */
  info(): WorkerInfo[] {
    const b = this.#opts.board;
    const main: WorkerInfo = { worker: 0, active: b.as(0).process.mine(G.ACTIVE), restarts: 0, started_at: this.#started };
    const rest = [...this.#threads.values()]
      .sort((x, y) => x.index - y.index)
      .map((t) => ({ worker: t.index, active: b.as(t.index).process.mine(G.ACTIVE), restarts: t.restarts, started_at: t.startedAt.toISOString() }));
    return [main, ...rest];
  }

  /** inject makes worker `index` crash or hang (debug builds only: see src/sys/debug.ts); false when there is no such worker. */
  inject(index: number, fault: Fault): boolean {
    const t = this.#threads.get(index);
    if (t === undefined || t.gone) return false;
    t.post({ type: "fault", fault });
    return true;
  }
}
