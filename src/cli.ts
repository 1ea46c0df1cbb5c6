/**
 * @module cli: command-line parsing. Pure: argv in, options or a usage error out.
 */
import { SluiceError } from "./errors.ts";
import { LOG_LEVELS, type LogLevelName } from "./log.ts";

export interface CliOptions {
  config: string;
  check: boolean;
  help: boolean;
  version: boolean;
  logLevel: LogLevelName;
}

export const USAGE = `Usage: sluice [options]

A TCP proxy and load balancer.

Options:
  -c, --config PATH     config file (default ./config.toml; a .json path is read as JSON)
      --check           validate the config, print a summary or every problem, and exit
      --log-level LEVEL debug | info | warn | error | silent (default info)
  -v, --version         print the version and exit
  -h, --help            print this help and exit

Signals: SIGTERM/SIGINT drain and exit; a second one exits at once.`;

/** parseArgs reads user arguments (argv without the runtime and script); it throws SluiceError USAGE. */
export function parseArgs(args: readonly string[]): CliOptions {
  const o: CliOptions = { config: "config.toml", check: false, help: false, version: false, logLevel: "info" };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") throw new SluiceError("USAGE", `${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "-c":
      case "--config":
        o.config = value();
        break;
      case "--check":
        o.check = flagOnly(flag, inline);
        break;
      case "--log-level": {
        const v = value();
        if (!Object.hasOwn(LOG_LEVELS, v)) throw new SluiceError("USAGE", `--log-level must be one of ${Object.keys(LOG_LEVELS).join(", ")}`);
        o.logLevel = v as LogLevelName;
        break;
      }
      case "-v":
      case "--version":
        o.version = flagOnly(flag, inline);
        break;
      case "-h":
      case "--help":
        o.help = flagOnly(flag, inline);
        break;
      default:
        throw new SluiceError("USAGE", `unknown argument ${JSON.stringify(a)}`);
    }
  }
  return o;
}

/** flagOnly rejects `--check=false` and the like: a switch that silently ignored its value would mislead. */
function flagOnly(flag: string, inline: string | undefined): true {
  if (inline !== undefined) throw new SluiceError("USAGE", `${flag} takes no value`);
  return true;
}
