/**
 * @module worker: the entry of a worker thread other than the main one. It
 * runs a Runtime that is not the owner: its own listeners on every port
 * (joined with SO_REUSEPORT), its own sessions, and the shared board for
 * every count; no health checker, no DNS refresh, no admin API. The main
 * thread starts it with a config and tells it of reloads, target news and
 * the drain (src/control/worker-protocol.ts).
 */
import { Board, Directory, G } from "./sys/board.ts";
import { SharedClientCounts } from "./datapath/client-counts.ts";
import { debugHooks } from "./sys/debug.ts";
import { describeErrorLine } from "./sys/errors.ts";
import { configureLog, logger, tallyDrops } from "./sys/log.ts";
import { diff } from "./control/plan.ts";
import { Runtime } from "./control/runtime.ts";
import type { FromWorker, ToWorker } from "./control/worker-protocol.ts";

declare const self: Worker;

/** HEARTBEAT_MS: how often a worker shows the main thread that its loop runs. */
const HEARTBEAT_MS = 1000;

function send(m: FromWorker): void {
  self.postMessage(m);
}

let runtime: Runtime | undefined;
const directory = new Directory(false);
let log = logger("worker");

/**
 * die: an error escaped every handler (a bug). Left to Bun, the thread's
 * sockets would all be closed with a FIN, so every client and target of its
 * sessions would see a clean end of a stream that was cut: they are reset
 * first, then the thread exits and the main thread starts another.
 */
function die(e: unknown): void {
  log.error(`crashed, resetting its ${runtime?.limits.own ?? 0} open connections: ${(e as Error)?.stack ?? String(e)}`);
  try {
    runtime?.abort();
  } finally {
    // Bun sends the resets from its loop: exiting in this tick would close the sockets with a FIN after all.
    setTimeout(() => process.exit(1), 0);
  }
}
process.on("uncaughtException", die);
process.on("unhandledRejection", die);

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  switch (m.type) {
    case "start":
      return start(m);
    case "apply":
      directory.load(m.directory);
      configureLog(m.log);
      try {
        runtime!.apply(diff(runtime!.config, m.config), m.config);
        send({ type: "applied", listeners: runtime!.listenerFds() });
      } catch (e) {
        send({ type: "applied", error: describeErrorLine(e) });
      }
      return;
    case "tidings":
      if (m.directory !== undefined) directory.load(m.directory);
      return runtime?.hear(m.news);
    case "shutdown":
      void runtime?.shutdown(m.delayMs, m.timeoutMs, undefined, () => send({ type: "closed" })).then((forced) => send({ type: "bye", forced }));
      return;
    case "fault":
      if (typeof SLUICE_RELEASE === "undefined" && debugHooks) {
        setTimeout(() => {
          if (m.fault === "crash") throw new Error("injected crash (debug hook)");
          // A stuck loop: only the main thread's watchdog can end it.
          for (;;);
        });
      }
      return;
  }
};

function start(m: Extract<ToWorker, { type: "start" }>): void {
  configureLog(m.log);
  directory.load(m.directory);
  const board = new Board(m.buffer, m.workers, m.index);
  log = logger(`worker/${m.index}`);
  runtime = new Runtime(log, {
    configPath: m.configPath,
    fdLimit: m.fdLimit,
    board,
    directory,
    clients: new SharedClientCounts(m.clients, m.index),
    owner: false,
    tell: (news) => send({ type: "tidings", news }),
    reusePort: "join",
    workers: m.workers,
    inherited: new Map(m.inherit ?? []),
  });
  try {
    runtime.start(m.config);
  } catch (e) {
    send({ type: "failed", error: describeErrorLine(e) });
    return;
  }
  for (const [app, known] of m.known) runtime.hear({ kind: "targets", app, known });
  const me = board.process;
  tallyDrops((n) => me.add(G.LOG_DROPPED, n));
  // The watchdog in the main thread sees this thread's loop turn by this count (src/control/workers.ts).
  setInterval(() => me.add(G.HEARTBEAT, 1), HEARTBEAT_MS);
  send({ type: "ready", listeners: runtime.listenerFds() });
}
