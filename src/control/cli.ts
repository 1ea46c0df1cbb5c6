/**
 * @module cli: command-line parsing. Pure: argv in, options or a usage error out.
 */
import { SluiceError } from "../sys/errors.ts";
import { LOG_FORMATS, LOG_LEVEL_NAMES, type LogFormat, type LogLevelName } from "../config/types.ts";

export interface CliOptions {
  config: string;
  check: boolean;
  help: boolean;
  version: boolean;
  /** undefined: the config's [log] level, else info. */
  logLevel: LogLevelName | undefined;
  /** undefined: the config's [log] format. */
  logFormat: LogFormat | undefined;
  /** undefined: the config's `workers`. */
  workers: number | "auto" | undefined;
  /** `sluice upgrade`: ask the running process to upgrade (src/control/upgrade-client.ts). */
  upgrade: boolean;
  /** with upgrade: the binary to start instead of the running one's path. */
  binary: string | undefined;
}

export const USAGE = `Usage: sluice [options]
       sluice upgrade [-c PATH] [--binary PATH]

A TCP proxy and load balancer.

sluice upgrade asks the sluice running on that config (through its admin API)
to start the new binary at its own path, or at --binary, hand it every
listening socket and drain; nothing is refused meanwhile.

Options:
  -c, --config PATH     config file (default ./config.toml; a .json path is read as JSON)
      --check           validate the config, print a summary or every problem, and exit
      --log-level LEVEL debug | info | warn | error | silent (overrides [log] level; default info)
      --log-format FMT  text | json: one line per event, JSON one object per line (overrides [log] format)
      --workers N       event loops sharing every port: 1-64, or auto = one per usable CPU (overrides workers)
  -v, --version         print the version and exit
  -h, --help            print this help and exit

Signals:
  SIGTERM, SIGINT  stop (after shutdown_delay), let open connections finish up to
                   shutdown_timeout, exit 0; a second signal exits at once
  SIGHUP           reload the config file (so does saving it, unless watch = false)
  SIGUSR2          upgrade to the binary at the path sluice was started from

Admin API (when the config has an [admin] table; default http://127.0.0.1:9900):
  GET  /healthz  /status  /metrics
  POST /reload   /upgrade   /apps/{app}/targets/{address}/drain   .../enable
       (a bearer token when [admin] token is set; else only on a loopback address)`;

/** parseArgs reads user arguments (argv without the runtime and script); it throws SluiceError USAGE. */
export function parseArgs(args: readonly string[]): CliOptions {
  const o: CliOptions = {
    config: "config.toml",
    check: false,
    help: false,
    version: false,
    logLevel: undefined,
    logFormat: undefined,
    workers: undefined,
    upgrade: args[0] === "upgrade",
    binary: undefined,
  };
  for (let i = o.upgrade ? 1 : 0; i < args.length; i++) {
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
      case "--log-level":
        o.logLevel = oneOf(flag, value(), LOG_LEVEL_NAMES);
        break;
      case "--log-format":
        o.logFormat = oneOf(flag, value(), LOG_FORMATS);
        break;
      case "--workers": {
        const w = value();
        if (w === "auto") o.workers = w;
        else if (/^\d+$/.test(w) && Number(w) >= 1 && Number(w) <= 64) o.workers = Number(w);
        else throw new SluiceError("USAGE", `--workers must be auto or 1-64`);
        break;
      }
      case "--binary":
        if (!o.upgrade) throw new SluiceError("USAGE", "--binary goes with `sluice upgrade`");
        o.binary = value();
        break;
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
  if (o.upgrade && (o.check || o.workers !== undefined)) throw new SluiceError("USAGE", "`sluice upgrade` takes only -c and --binary");
  return o;
}

/** oneOf checks `v` against a closed set of words. */
function oneOf<T extends string>(flag: string, v: string, words: readonly T[]): T {
  if (!(words as readonly string[]).includes(v)) throw new SluiceError("USAGE", `${flag} must be one of ${words.join(", ")}`);
  return v as T;
}

/** flagOnly rejects `--check=false` and the like: a switch that silently ignored its value would mislead. */
function flagOnly(flag: string, inline: string | undefined): true {
  if (inline !== undefined) throw new SluiceError("USAGE", `${flag} takes no value`);
  return true;
}
