/**
 * @module log: the only file that imports consola; it hands out tagged loggers.
 * Nothing on the per-chunk data path logs: only events that happen once per
 * connection (the access log, when on), failure, health flip or lifecycle step.
 *
 * Lines are one event each on stderr, so stdout stays for command output
 * (--check, --version) and log shippers can split lines without guessing.
 * Two formats: `text`, `time LEVEL [tag] message key=value …`, and `json`,
 * one object per line with `time`, `level`, `tag`, `msg` and the fields. No
 * colours: the lines mostly end up in journald or a container log.
 *
 * Writing never blocks: lines go through a bounded LineQueue on a
 * non-blocking stderr (log-writer.ts), and lines that do not fit are dropped
 * and counted (droppedLines, sluice_log_lines_dropped_total).
 *
 * Start-up cost matters for a proxy that may be restarted under load:
 * consola's default entry (fancy reporters), `process.stderr` (a Node
 * stream) and node:tty each added 10-25 ms and 5-14 MB RSS to the binary's
 * start, so this uses consola/core and writes fd 2 itself.
 */
import { createConsola, LogLevels, type LogObject } from "consola/core";
import { EXIT_FLUSH_MS, LineQueue, stderrFd } from "./log-writer.ts";

/** The [log] table's choices live here, not in config/, so that logging sits below every layer that logs. */
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVEL_NAMES = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export interface LogConfig {
  format: LogFormat;
  /** undefined: the command line's level (info unless --log-level says otherwise). */
  level: LogLevelName | undefined;
  /** one line per finished client connection. */
  access: boolean;
}

/** Fields are the structured part of a line: `key=value` in text, properties in JSON. */
export type Fields = Readonly<Record<string, string | number | boolean | null | undefined>>;

type LogFn = (msg: string, fields?: Fields) => void;
export interface Logger {
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  success: LogFn;
  debug: LogFn;
}

/** Entry is one line before formatting. */
export interface Entry {
  time: Date;
  level: "debug" | "info" | "warn" | "error";
  tag: string;
  msg: string;
  fields?: Fields | undefined;
}

const TEXT_LEVEL = { debug: "DEBUG", info: "INFO ", warn: "WARN ", error: "ERROR" } as const;

/** formatLine renders one entry, newline included. Pure. */
export function formatLine(format: LogFormat, e: Entry): string {
  if (format === "json") {
    const o: Record<string, unknown> = { time: e.time.toISOString(), level: e.level };
    if (e.tag) o.tag = e.tag;
    o.msg = e.msg;
    if (e.fields !== undefined) {
      for (const k in e.fields) if (!(k in o)) o[k] = e.fields[k] ?? null;
    }
    return JSON.stringify(o) + "\n";
  }
  let line = `${e.time.toISOString()} ${TEXT_LEVEL[e.level]} ${e.tag ? `[${e.tag}] ` : ""}${e.msg}`;
  if (e.fields !== undefined) for (const k in e.fields) line += ` ${k}=${textValue(e.fields[k])}`;
  return line + "\n";
}

/** textValue: bare when it has no space, quote or `=`; JSON-quoted otherwise; `-` for null. */
function textValue(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return "-";
  if (typeof v !== "string") return String(v);
  return v !== "" && !/[\s"=\\]/.test(v) ? v : JSON.stringify(v);
}

function levelOf(type: LogObject["type"]): Entry["level"] {
  switch (type) {
    case "error":
    case "fatal":
      return "error";
    case "warn":
      return "warn";
    case "debug":
    case "trace":
      return "debug";
    default:
      return "info";
  }
}

function isFields(a: unknown): a is Fields {
  return typeof a === "object" && a !== null && !(a instanceof Error) && !Array.isArray(a);
}

/** LogSettings: what configureLog sets; the config's [log] table and the command line decide. */
export interface LogSettings {
  format: LogFormat;
  level: LogLevelName;
  /** one line per finished client connection. */
  access: boolean;
}

const settings: LogSettings = { format: "text", level: "info", access: false };

let queue: LineQueue | undefined;

/** out is the stderr queue, made on the first line (so --help or --check never touch fd 2's flags). */
function out(): LineQueue {
  if (queue !== undefined) return queue;
  const f = stderrFd();
  const q = (queue = new LineQueue(f, {
    onDrop: (n) => dropTally?.(n),
    notice: (n) => formatLine(settings.format, { time: new Date(), level: "warn", tag: "log", msg: `${n} log line${n === 1 ? "" : "s"} dropped: stderr was not read fast enough`, fields: { dropped: n } }),
  }));
  process.on("exit", () => {
    q.flushSync(EXIT_FLUSH_MS);
    f.restore();
  });
  return q;
}

/** threshold is the numeric level lines must not exceed (consola's numbers: error 0 … debug 4). */
let threshold = LogLevels.info;

const root = createConsola({
  // Loggers filter by `threshold` themselves: consola copies its level into
  // each withTag() child, so a later change would not reach them.
  level: LogLevels.verbose,
  // One event, one line: consola's folding of repeats would delay lines on a timer; apps rate-limit their own.
  throttle: 0,
  reporters: [
    {
      log(o: LogObject) {
        const args = o.args;
        const fields = args.length > 1 && isFields(args[args.length - 1]) ? (args[args.length - 1] as Fields) : undefined;
        const parts = fields === undefined ? args : args.slice(0, -1);
        const msg = parts.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
        out().write(formatLine(settings.format, { time: o.date, level: levelOf(o.type), tag: o.tag, msg, fields }));
      },
    },
  ],
});

/** logger returns a logger whose lines are tagged `tag`; a line above the current level costs one comparison. */
export function logger(tag: string): Logger {
  const c = root.withTag(tag);
  const at =
    (type: "info" | "warn" | "error" | "success" | "debug"): LogFn =>
    (msg, fields) => {
      if (LogLevels[type] > threshold) return;
      if (fields === undefined) c[type](msg);
      else c[type](msg, fields);
    };
  return { info: at("info"), warn: at("warn"), error: at("error"), success: at("success"), debug: at("debug") };
}

/**
 * configureLog changes the format, level or access switch of every logger
 * handed out, before or after; start-up and every reload call it with the
 * config's [log] table under the command line's overrides.
 */
export function configureLog(next: Partial<LogSettings>): void {
  if (next.format !== undefined) settings.format = next.format;
  if (next.level !== undefined) {
    settings.level = next.level;
    threshold = LogLevels[next.level];
  }
  if (next.access !== undefined) settings.access = next.access;
}

/**
 * logSettingsOf is what the config's [log] table (undefined before it is
 * loaded) and the command line ask for together: a flag wins over the
 * table, and the level is info when neither names one.
 */
export function logSettingsOf(
  config: LogConfig | undefined,
  cli: { readonly logLevel?: LogLevelName | undefined; readonly logFormat?: LogFormat | undefined },
): LogSettings {
  return {
    format: cli.logFormat ?? config?.format ?? "text",
    level: cli.logLevel ?? config?.level ?? "info",
    access: config?.access ?? false,
  };
}

/** setLogLevel is configureLog({ level }). */
export function setLogLevel(level: LogLevelName): void {
  configureLog({ level });
}

/** debugOn: debug lines are written; per-connection debug lines check it before building their text. */
export function debugOn(): boolean {
  return LogLevels.debug <= threshold;
}

/** logSettings is the current format, level and access switch. */
export function logSettings(): Readonly<LogSettings> {
  return settings;
}

/**
 * accessLog writes one access line (`msg: "connection"`, tag `access`). It
 * does not go through consola: no level applies (the `access` switch alone
 * decides) and it is the one line written per connection, so it stays short.
 */
export function accessLog(fields: Fields): void {
  out().write(formatLine(settings.format, { time: new Date(), level: "info", tag: "access", msg: "connection", fields }));
}

let dropTally: ((n: number) => void) | undefined;

/** tallyDrops has every dropped line counted by `f` too (a worker thread's go on the board for the main thread's /metrics). */
export function tallyDrops(f: (n: number) => void): void {
  dropTally = f;
}

/** openLog sets stderr up now (non-blocking when it is a pipe), before worker threads that share it start writing. */
export function openLog(): void {
  out();
}

/** droppedLines counts log lines dropped since start because stderr was not read. */
export function droppedLines(): number {
  return queue?.dropped ?? 0;
}

/** isLogLevel: the type guard for --log-level and the like. */
export function isLogLevel(v: string): v is LogLevelName {
  return (LOG_LEVEL_NAMES as readonly string[]).includes(v);
}
