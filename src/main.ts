/**
 * @module main: the sluice executable: arguments, signals, exit codes.
 * Every expected failure ends in one clear line on stderr and exit code 1.
 */
import { VERSION } from "./sys/version.ts";
import { parseArgs, USAGE, type CliOptions } from "./control/cli.ts";
import { loadConfig, summarize, type Config } from "./config/index.ts";
import { formatDuration } from "./config/duration.ts";
import { ConfigError, describeError as describe } from "./sys/errors.ts";
import { startAdmin } from "./ops/admin.ts";
import type { AdminServer } from "./control/views.ts";
import { bindProblem } from "./datapath/listener.ts";
import { Board, Directory, MAX_WORKERS } from "./sys/board.ts";
import { LocalClientCounts, SharedClientCounts } from "./datapath/client-counts.ts";
import { usableCpus } from "./sys/cpus.ts";
import { configureLog, logger, logSettingsOf, openLog } from "./sys/log.ts";
import { readFdLimit } from "./sys/limits.ts";
import { fdPlan, Runtime } from "./control/runtime.ts";
import { ConfigWatch } from "./control/watch.ts";
import { Workers } from "./control/workers.ts";
import { adoptable, INHERIT_ENV, parseInherited, parseState, share, STATE_ENV, type Inherited } from "./control/inherit.ts";
import { libc } from "./sys/libc.ts";
import { announceReady, handover, startSuccessor, type UpgradeOutcome } from "./control/upgrade.ts";
import { requestUpgrade } from "./control/upgrade-client.ts";
import { sdNotify } from "./sys/sd-notify.ts";
import { resolve as resolvePath } from "node:path";

/**
 * STARTED_FROM is the binary's path as it was at start. An upgrade starts
 * whatever is at that path now; process.execPath, read later, names the
 * replaced file (Linux appends " (deleted)" once a package manager has
 * renamed a new one over it).
 */
/**
 * WORKER_ENTRY is src/worker.ts, built into the executable as its second
 * entry point; named here, beside it, because `new URL(…, import.meta.url)`
 * resolves against this file in the binary and in the source alike.
 */
const WORKER_ENTRY = new URL("./worker.ts", import.meta.url).href;

const STARTED_FROM = process.execPath.replace(/ \(deleted\)$/, "");

/** ADMIN_SETTLE_MS bounds how long a process that upgraded waits for its last admin replies (POST /upgrade's own) before it exits. */
const ADMIN_SETTLE_MS = 2_000;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function fail(message: string): never {
  process.stderr.write(`sluice: ${message}\n`);
  process.exit(1);
}

/** workerCount resolves `workers`: "auto" is one per CPU this process may use (see cpus.ts), at most MAX_WORKERS. */
function workerCount(setting: number | "auto"): number {
  return setting === "auto" ? Math.min(MAX_WORKERS, usableCpus()) : setting;
}

async function main(): Promise<void> {
  let opts: CliOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    fail(`${describe(e)}\n${USAGE}`);
  }
  if (opts.help) {
    process.stdout.write(USAGE + "\n");
    return;
  }
  if (opts.version) {
    process.stdout.write(`sluice ${VERSION}\n`);
    return;
  }
  configureLog(logSettingsOf(undefined, opts));

  let config: Config;
  try {
    config = await loadConfig(opts.config);
  } catch (e) {
    fail(describe(e));
  }
  if (opts.upgrade) {
    const binary = opts.binary === undefined ? undefined : resolvePath(opts.binary);
    let answer: { ok: boolean; message: string };
    try {
      answer = await requestUpgrade(config, binary);
    } catch (e) {
      fail(describe(e));
    }
    if (!answer.ok) fail(answer.message);
    process.stdout.write(`sluice: ${answer.message}\n`);
    return;
  }
  if (opts.check) {
    // What only this machine can tell: whether `bind` is one of its addresses.
    const bindWhy = bindProblem(config.bind);
    if (bindWhy !== undefined) fail(describe(new ConfigError([{ path: "bind", message: bindWhy }], opts.config)));
    const plan = fdPlan(config, await readFdLimit(), workerCount(opts.workers ?? config.workers));
    if (plan.warning !== undefined) process.stderr.write(`sluice: ${plan.overCommitted ? "" : "warning: "}${plan.warning}\n`);
    if (plan.overCommitted) process.exit(1);
    process.stdout.write(summarize(config) + "\n");
    return;
  }

  configureLog(logSettingsOf(config.log, opts));
  // stderr is set up before any worker thread shares it.
  openLog();
  const log = logger("sluice");
  const count = workerCount(opts.workers ?? config.workers);
  const fdLimit = await readFdLimit();
  // Started by a running sluice as its upgrade: adopt its listening sockets (src/control/inherit.ts).
  let handed: Inherited = { ports: new Map() };
  try {
    const text = process.env[INHERIT_ENV];
    if (text !== undefined) handed = parseInherited(text);
  } catch (e) {
    fail(describe(e));
  }
  const drainedBefore = parseState(process.env[STATE_ENV]);
  delete process.env[INHERIT_ENV];
  delete process.env[STATE_ENV];
  const { keep: inherited, close: unused } = adoptable(handed, new Set(config.apps.flatMap((a) => a.ports)), config.admin?.address);
  const c = libc();
  if (typeof c !== "string") for (const fd of unused) c.close(fd);
  const shares = share(inherited.ports, count);
  const board = Board.create(count);
  const directory = new Directory();
  const clients = count > 1 ? new SharedClientCounts(SharedClientCounts.allocate(count)) : new LocalClientCounts();
  let workers: Workers | undefined;
  const runtime = new Runtime(log, {
    configPath: opts.config,
    fdLimit,
    load: loadConfig,
    startAdmin,
    board,
    directory,
    clients,
    workers: count,
    // Always shared, so that an upgrade's new process may run more workers than this one.
    reusePort: "first",
    inherited: shares[0],
    inheritedAdmin: inherited.admin,
    tell: (news) => workers?.broadcast(news),
    afterApply: async (next) => {
      configureLog(logSettingsOf(next.log, opts));
      await workers?.apply(next);
    },
    onApplied: (next) => void follow(next),
  });
  // Signals are taken before any port accepts: an orchestrator may stop an instance the moment it answers, and
  // the default action would kill it without a drain. One that comes while sluice is still starting waits for
  // the start to finish, then drains (or reloads) as it would at any other time.
  let started = false;
  let early: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!started) {
      // A stop outranks a reload or an upgrade asked for in the same instant.
      if (early === undefined || signal === "SIGTERM" || signal === "SIGINT") early = signal;
      return;
    }
    if (signal === "SIGHUP") {
      if (!stopping) void runtime.reload("signal");
    } else if (signal === "SIGUSR2") void upgrade(STARTED_FROM, "signal");
    else stop(signal);
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR2"] as const) process.on(signal, () => onSignal(signal));

  try {
    runtime.start(config);
  } catch (e) {
    fail(describe(e));
  }
  // Targets an operator drained stay drained across an upgrade; set before any worker starts or anything is dialled.
  for (const [name, addresses] of Object.entries(drainedBefore)) {
    for (const address of addresses) runtime.apps.get(name)?.targets.setEnabled(address, false, "as in the process this one replaces");
  }
  if (count > 1) {
    workers = new Workers({ entry: WORKER_ENTRY, count, board, directory, clients: clients as SharedClientCounts, runtime, log, configPath: opts.config, fdLimit, logSettings: () => logSettingsOf(runtime.config?.log, opts) });
    runtime.workerInfo = () => workers!.info();
    runtime.injectFault = (i, fault) => workers!.inject(i, fault);
    try {
      await workers.start(shares);
    } catch (e) {
      runtime.close();
      fail(describe(e));
    }
  }

  // The file watch follows the config's own `watch` key, reload after reload.
  let watcher: ConfigWatch | undefined;
  function follow(next: Config): Promise<void> | undefined {
    if (next.watch && watcher === undefined) {
      watcher = new ConfigWatch(opts.config, () => void runtime.reload("file"), (m) => log.warn(m));
      return watcher.start();
    } else if (!next.watch && watcher !== undefined) {
      watcher.stop();
      watcher = undefined;
    }
  }
  await follow(config);

  let stopping = false;
  let upgrading = false;
  /**
   * upgrade starts `binary` as this process's successor (src/control/upgrade.ts) and,
   * once it serves, closes this process's ports and drains it. A successor
   * that fails leaves this process serving as before.
   */
  const upgrade = async (binary: string, trigger: string): Promise<UpgradeOutcome> => {
    if (stopping) return { ok: false, error: "shutting down" };
    if (upgrading) return { ok: false, error: "an upgrade is already under way" };
    upgrading = true;
    const { sockets, state } = handover(runtime, workers);
    // A compiled binary's argv is [bun, /$bunfs/root/…, …args]; under `bun src/main.ts` the script is an argument too.
    const args = process.argv.slice(process.argv[1]?.startsWith("/$bunfs/") ? 2 : 1);
    log.info(`upgrade (${trigger}): starting ${binary} with ${plural([...sockets.ports.values()].flat().length, "listening socket")}`);
    const outcome = await startSuccessor({ binary, args, sockets, state });
    upgrading = false;
    if (!outcome.ok) {
      runtime.upgrades.failure++;
      log.error(`upgrade failed, this process keeps serving: ${outcome.error}`);
      return outcome;
    }
    runtime.upgrades.success++;
    log.success(`upgraded to sluice ${outcome.version} (pid ${outcome.pid}); this process closes its ports and drains`);
    sdNotify(`MAINPID=${outcome.pid}`);
    // The successor answers on the admin port now (the same socket): this process must not take its requests,
    // but the reply to a POST /upgrade still has to get out before it exits.
    retiredAdmin = runtime.admin;
    retiredAdmin?.stop(false);
    runtime.admin = undefined;
    stop("upgrade", 0);
    return outcome;
  };
  runtime.upgrade = (binary) => upgrade(binary ?? STARTED_FROM, "http");
  let stoppedBy = "";
  let retiredAdmin: AdminServer | undefined;
  const stop = (signal: string, delayMs?: number) => {
    if (stopping) {
      // After an upgrade this process drains anyway; a service manager's stop must not cut its sessions short.
      if (stoppedBy === "upgrade") {
        stoppedBy = signal;
        log.info(`${signal}: already draining after an upgrade`);
        return;
      }
      log.warn(`${signal} again: closing ${plural(runtime.limits.active, "connection")} now`);
      process.exit(0);
    }
    stopping = true;
    stoppedBy = signal;
    if (signal !== "upgrade") sdNotify("STOPPING=1");
    watcher?.stop();
    const now0 = runtime.config ?? config;
    // An upgrade's successor already serves: no lame-duck delay.
    const now = delayMs === undefined ? now0 : { ...now0, shutdownDelayMs: delayMs };
    const delay = now.shutdownDelayMs > 0 ? `after ${formatDuration(now.shutdownDelayMs)} of accepting while /healthz says draining, ` : "";
    const announce = () => log.info(`${signal}: ${delay}draining ${plural(runtime.limits.active, "open connection")} (up to ${formatDuration(now.shutdownTimeoutMs)})`);
    const others = workers?.shutdown(now.shutdownDelayMs, now.shutdownTimeoutMs);
    // Without a delay, the line says the ports are closed: in every worker, not just this thread.
    if (workers === undefined || now.shutdownDelayMs > 0) announce();
    else void workers.portsClosed.then(announce);
    void runtime.shutdown(now.shutdownDelayMs, now.shutdownTimeoutMs, others).then(async (forced) => {
      await retiredAdmin?.settled(ADMIN_SETTLE_MS);
      log.info(forced > 0 ? `closed ${plural(forced, "connection")} still open at the deadline; bye` : "all connections finished; bye");
      process.exit(0);
    });
  };

  // Announced only now: a script that acts on seeing "ready" must find the watch in place.
  for (const app of config.apps) {
    log.info(
      `app ${app.name}: ports ${app.ports.join(", ")} -> ${app.targets.map((t) => t.address).join(", ")} (${app.balancer})`,
    );
  }
  const admin = config.admin ? `, admin on http://${config.admin.address}` : "";
  log.success(
    `sluice ${VERSION} ready: ${plural(config.apps.length, "app")}, ${plural(runtime.listeners.size, "port")} on ${config.bind}, ${plural(count, "worker")}, cap ${plural(runtime.limits.maxConnections, "connection")}${admin}`,
  );
  started = true;
  announceReady(process.pid, VERSION);
  sdNotify(`MAINPID=${process.pid}\nREADY=1`);
  if (early !== undefined) onSignal(early);
}

await main();
