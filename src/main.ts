/**
 * @module main: the sluice executable: arguments, signals, exit codes.
 * Every expected failure ends in one clear line on stderr and exit code 1.
 */
import pkg from "../package.json" with { type: "json" };
import { parseArgs, USAGE, type CliOptions } from "./cli.ts";
import { loadConfig, summarize, type Config } from "./config/index.ts";
import { formatDuration } from "./config/duration.ts";
import { ConfigError, describeError as describe } from "./errors.ts";
import { startAdmin } from "./admin.ts";
import { bindProblem } from "./listener.ts";
import { Board, Directory, MAX_WORKERS } from "./board.ts";
import { LocalClientCounts, SharedClientCounts } from "./client-counts.ts";
import { usableCpus } from "./cpus.ts";
import { configureLog, logger, logSettingsOf, openLog } from "./log.ts";
import { readFdLimit } from "./limits.ts";
import { fdPlan, Runtime } from "./runtime.ts";
import { ConfigWatch } from "./watch.ts";
import { Workers } from "./workers.ts";

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
    process.stdout.write(`sluice ${pkg.version}\n`);
    return;
  }
  configureLog(logSettingsOf(undefined, opts));

  let config: Config;
  try {
    config = await loadConfig(opts.config);
  } catch (e) {
    fail(describe(e));
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
    reusePort: count > 1 ? "first" : false,
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
      if (signal !== "SIGHUP" || early === undefined) early = signal;
      return;
    }
    if (signal === "SIGHUP") {
      if (!stopping) void runtime.reload("signal");
    } else stop(signal);
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => onSignal(signal));

  try {
    runtime.start(config);
  } catch (e) {
    fail(describe(e));
  }
  if (count > 1) {
    workers = new Workers({ count, board, directory, clients: clients as SharedClientCounts, runtime, log, configPath: opts.config, fdLimit, logSettings: () => logSettingsOf(runtime.config?.log, opts) });
    runtime.workerInfo = () => workers!.info();
    runtime.injectFault = (i, fault) => workers!.inject(i, fault);
    try {
      await workers.start();
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
  const stop = (signal: string) => {
    if (stopping) {
      log.warn(`${signal} again: closing ${plural(runtime.limits.active, "connection")} now`);
      process.exit(0);
    }
    stopping = true;
    watcher?.stop();
    const now = runtime.config ?? config;
    const delay = now.shutdownDelayMs > 0 ? `after ${formatDuration(now.shutdownDelayMs)} of accepting while /healthz says draining, ` : "";
    const announce = () => log.info(`${signal}: ${delay}draining ${plural(runtime.limits.active, "open connection")} (up to ${formatDuration(now.shutdownTimeoutMs)})`);
    const others = workers?.shutdown(now.shutdownDelayMs, now.shutdownTimeoutMs);
    // Without a delay, the line says the ports are closed: in every worker, not just this thread.
    if (workers === undefined || now.shutdownDelayMs > 0) announce();
    else void workers.portsClosed.then(announce);
    void runtime.shutdown(now.shutdownDelayMs, now.shutdownTimeoutMs, others).then((forced) => {
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
    `sluice ${pkg.version} ready: ${plural(config.apps.length, "app")}, ${plural(runtime.listeners.size, "port")} on ${config.bind}, ${plural(count, "worker")}, cap ${plural(runtime.limits.maxConnections, "connection")}${admin}`,
  );
  started = true;
  if (early !== undefined) onSignal(early);
}

await main();
