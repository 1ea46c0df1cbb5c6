/**
 * @module log: the only file that imports consola; it hands out tagged loggers.
 * Nothing on the per-chunk data path logs: only events that happen once per
 * connection failure, health flip or lifecycle step.
 *
 * Lines are one event each, `time level [tag] message`, on stderr, so stdout
 * stays for command output (--check, --version) and log shippers can split
 * lines without guessing. No colours: the lines mostly end up in journald or
 * a container log.
 *
 * Start-up cost matters for a proxy that may be restarted under load:
 * consola's default entry (fancy reporters), `process.stderr` (a Node
 * stream) and node:tty each added 10-25 ms and 5-14 MB RSS to the binary's
 * start, so this uses consola/core and console.error.
 */
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";

export type Logger = Pick<ConsolaInstance, "info" | "warn" | "error" | "success" | "debug">;

export const LOG_LEVELS = { silent: -999, error: 0, warn: 1, info: 3, debug: 4 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

function levelName(o: LogObject): string {
  switch (o.type) {
    case "error":
    case "fatal":
      return "ERROR";
    case "warn":
      return "WARN ";
    case "debug":
    case "trace":
      return "DEBUG";
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
        console.error(`${o.date.toISOString()} ${levelName(o)} ${tag}${msg}`);
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
