/**
 * @module log: the only file that imports consola; it hands out tagged loggers.
 * Nothing on the per-chunk data path logs: only events that happen once per
 * connection failure, health flip or lifecycle step.
 *
 * Lines are one event each, `time level [tag] message`, on stderr, so stdout
 * stays for command output (--check, --version) and log shippers can split
 * lines without guessing.
 */
import { createConsola, type ConsolaInstance, type LogObject } from "consola";

export type Logger = Pick<ConsolaInstance, "info" | "warn" | "error" | "success" | "debug">;

export const LOG_LEVELS = { silent: -999, error: 0, warn: 1, info: 3, debug: 4 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

const color = process.stderr.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);

function levelName(o: LogObject): string {
  switch (o.type) {
    case "error":
    case "fatal":
      return paint(31, "ERROR");
    case "warn":
      return paint(33, "WARN ");
    case "success":
      return paint(32, "INFO ");
    case "debug":
    case "trace":
      return paint(90, "DEBUG");
    default:
      return "INFO ";
  }
}

const root = createConsola({
  level: LOG_LEVELS.info,
  reporters: [
    {
      log(o: LogObject) {
        const tag = o.tag ? `[${o.tag}] ` : "";
        const msg = o.args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
        process.stderr.write(`${o.date.toISOString()} ${levelName(o)} ${tag}${msg}\n`);
      },
    },
  ],
});

/** logger returns a logger whose lines are prefixed with `tag`. */
export function logger(tag: string): Logger {
  return root.withTag(tag);
}

/** setLogLevel changes the level of every logger handed out, before or after. */
export function setLogLevel(level: LogLevelName): void {
  root.level = LOG_LEVELS[level];
}
