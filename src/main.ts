/**
 * @module main: the sluice executable: arguments, signals, exit codes.
 * Every expected failure ends in one clear line on stderr and exit code 1.
 */
import pkg from "../package.json" with { type: "json" };
import { parseArgs, USAGE } from "./cli.ts";
import { loadConfig, summarize, type Config } from "./config/index.ts";
import { formatDuration } from "./config/duration.ts";
import { ConfigError, SluiceError } from "./errors.ts";
import { logger, setLogLevel } from "./log.ts";
import { readFdLimit } from "./limits.ts";
import { fdPlan, Proxy } from "./proxy.ts";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function fail(message: string): never {
  process.stderr.write(`sluice: ${message}\n`);
  process.exit(1);
}

function describe(e: unknown): string {
  if (e instanceof ConfigError) {
    const where = e.file ?? "config";
    return `invalid config ${where} (${plural(e.issues.length, "problem")}):\n${e.issues.map((i) => `  ${i.path ? `${i.path}: ` : ""}${i.message}`).join("\n")}`;
  }
  if (e instanceof SluiceError) return e.message;
  return `internal error: ${(e as Error)?.message ?? String(e)}`;
}

async function main(): Promise<void> {
  let opts;
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
  setLogLevel(opts.logLevel);

  let config: Config;
  try {
    config = await loadConfig(opts.config);
  } catch (e) {
    fail(describe(e));
  }
  if (opts.check) {
    const plan = fdPlan(config, await readFdLimit());
    if (plan.warning !== undefined) process.stderr.write(`sluice: ${plan.overCommitted ? "" : "warning: "}${plan.warning}\n`);
    if (plan.overCommitted) process.exit(1);
    process.stdout.write(summarize(config) + "\n");
    return;
  }

  const log = logger("sluice");
  let proxy: Proxy;
  try {
    proxy = Proxy.start(config, log, await readFdLimit());
  } catch (e) {
    fail(describe(e));
  }

  for (const app of config.apps) {
    log.info(
      `app ${app.name}: ports ${app.ports.join(", ")} -> ${app.targets.map((t) => t.address).join(", ")} (${app.balancer})`,
    );
  }
  const admin = config.admin ? `, admin on http://${config.admin.address}` : "";
  log.success(
    `sluice ${pkg.version} ready: ${plural(config.apps.length, "app")}, ${plural(proxy.listeners.size, "port")} on ${config.bind}, cap ${plural(proxy.limits.maxConnections, "connection")}${admin}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn(`${signal} again: closing ${plural(proxy.limits.active, "connection")} now`);
      process.exit(0);
    }
    stopping = true;
    log.info(`${signal}: draining ${plural(proxy.limits.active, "open connection")} (up to ${formatDuration(config.shutdownTimeoutMs)})`);
    void proxy.drain(config.shutdownTimeoutMs).then((forced) => {
      log.info(forced > 0 ? `closed ${plural(forced, "connection")} still open at the deadline; bye` : "all connections finished; bye");
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", async () => {
    if (stopping) return;
    let next;
    try {
      next = await loadConfig(opts.config);
      for (const note of proxy.reload(next)) log.warn(`reload: ${note}`);
    } catch (e) {
      log.error(`SIGHUP: reload failed, the running config stays: ${describe(e).replace(/\n\s*/g, "; ")}`);
      return;
    }
    config = next;
    log.success(
      `reloaded ${opts.config}: ${plural(next.apps.length, "app")}, ${plural(proxy.listeners.size, "port")}, ${plural(proxy.limits.active, "open connection")} kept`,
    );
  });
}

await main();
