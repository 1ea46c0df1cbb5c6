/**
 * @module log: the only file that imports consola; it hands out tagged loggers.
 * Nothing on the per-chunk data path logs: only events that happen once per
 * connection failure, health flip or lifecycle step.
 */
import { createConsola, type ConsolaInstance } from "consola";

export type Logger = Pick<ConsolaInstance, "info" | "warn" | "error" | "success" | "debug" | "start" | "box" | "log">;

export const LOG_LEVELS = { silent: -999, error: 0, warn: 1, info: 3, debug: 4 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

const root = createConsola({
  level: LOG_LEVELS.info,
  formatOptions: { date: true, colors: process.stderr.isTTY === true, compact: true },
});

/** logger returns a logger whose lines are prefixed with `tag`. */
export function logger(tag: string): Logger {
  return root.withTag(tag);
}

/** setLogLevel changes the level of every logger handed out, before or after. */
export function setLogLevel(level: LogLevelName): void {
  root.level = LOG_LEVELS[level];
}
