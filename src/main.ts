/**
 * @module main: the sluice executable: arguments, signals, exit codes.
 * Every expected failure ends in one clear line on stderr and exit code 1.
 */
import pkg from "../package.json" with { type: "json" };
import { parseArgs, USAGE, type CliOptions } from "./cli.ts";
import { loadConfig, summarize, type Config } from "./config/index.ts";
import { formatDuration } from "./config/duration.ts";
import { ConfigError, describeError as describe } from "./errors.ts";
import { bindProblem } from "./listener.ts";
import { configureLog, logger, logSettingsOf } from "./log.ts";
import { readFdLimit } from "./limits.ts";
import { fdPlan, Runtime } from "./runtime.ts";
import { ConfigWatch } from "./watch.ts";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function fail(message: string): never {
  process.stderr.write(`sluice: ${message}\n`);
  process.exit(1);
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
    const plan = fdPlan(config, await readFdLimit());
    if (plan.warning !== undefined) process.stderr.write(`sluice: ${plan.overCommitted ? "" : "warning: "}${plan.warning}\n`);
    if (plan.overCommitted) process.exit(1);
    process.stdout.write(summarize(config) + "\n");
    return;
  }

  configureLog(logSettingsOf(config.log, opts));
  const log = logger("sluice");
  const runtime = new Runtime(log, {
    configPath: opts.config,
    fdLimit: await readFdLimit(),
    onApplied: (next) => {
      configureLog(logSettingsOf(next.log, opts));
      void follow(next);
    },
  });
  try {
    runtime.start(config);
  } catch (e) {
    fail(describe(e));
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
    log.info(`${signal}: ${delay}draining ${plural(runtime.limits.active, "open connection")} (up to ${formatDuration(now.shutdownTimeoutMs)})`);
    void runtime.shutdown(now.shutdownDelayMs, now.shutdownTimeoutMs).then((forced) => {
      log.info(forced > 0 ? `closed ${plural(forced, "connection")} still open at the deadline; bye` : "all connections finished; bye");
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {
    if (!stopping) void runtime.reload("signal");
  });

  // Announced only now: a script that signals on seeing "ready" must find the handlers and the watch in place.
  for (const app of config.apps) {
    log.info(
      `app ${app.name}: ports ${app.ports.join(", ")} -> ${app.targets.map((t) => t.address).join(", ")} (${app.balancer})`,
    );
  }
  const admin = config.admin ? `, admin on http://${config.admin.address}` : "";
  log.success(
    `sluice ${pkg.version} ready: ${plural(config.apps.length, "app")}, ${plural(runtime.listeners.size, "port")} on ${config.bind}, cap ${plural(runtime.limits.maxConnections, "connection")}${admin}`,
  );
}

await main();
