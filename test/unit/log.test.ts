import { describe, expect, test } from "bun:test";
import { LogLevels } from "consola/core";
import { LOG_LEVEL_NAMES } from "../../src/config/types.ts";
import { formatLine, logSettingsOf, type Entry } from "../../src/sys/log.ts";

const time = new Date("2026-11-30T12:00:00.000Z");

describe("formatLine text", () => {
  const rows: [name: string, e: Entry, line: string][] = [
    ["plain", { time, level: "info", tag: "sluice", msg: "ready" }, "2026-11-30T12:00:00.000Z INFO  [sluice] ready\n"],
    ["no tag", { time, level: "warn", tag: "", msg: "hm" }, "2026-11-30T12:00:00.000Z WARN  hm\n"],
    ["levels line up", { time, level: "debug", tag: "t", msg: "x" }, "2026-11-30T12:00:00.000Z DEBUG [t] x\n"],
    [
      "fields as key=value",
      { time, level: "info", tag: "access", msg: "connection", fields: { app: "web", port: 8080, target: null, ok: true } },
      "2026-11-30T12:00:00.000Z INFO  [access] connection app=web port=8080 target=- ok=true\n",
    ],
    [
      "values with spaces, quotes or = are quoted",
      { time, level: "error", tag: "t", msg: "m", fields: { a: "x y", b: 'say "hi"', c: "k=v", d: "" } },
      '2026-11-30T12:00:00.000Z ERROR [t] m a="x y" b="say \\"hi\\"" c="k=v" d=""\n',
    ],
  ];
  for (const [name, e, line] of rows) test(name, () => expect(formatLine("text", e)).toBe(line));

  test("a message with a newline is still one line in JSON", () => {
    const line = formatLine("json", { time, level: "error", tag: "t", msg: "a\nb" });
    expect(line.split("\n").length).toBe(2);
    expect(JSON.parse(line).msg).toBe("a\nb");
  });
});

describe("formatLine json", () => {
  test("one object per line with time, level, tag, msg and the fields", () => {
    const line = formatLine("json", { time, level: "info", tag: "access", msg: "connection", fields: { app: "web", target: null, bytes_up: 5 } });
    expect(line.endsWith("\n")).toBe(true);
    expect(line.indexOf("\n")).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual({ time: "2026-11-30T12:00:00.000Z", level: "info", tag: "access", msg: "connection", app: "web", target: null, bytes_up: 5 });
  });

  test("a field cannot overwrite time, level or msg", () => {
    const o = JSON.parse(formatLine("json", { time, level: "warn", tag: "", msg: "real", fields: { msg: "fake", level: "debug" } }));
    expect(o.msg).toBe("real");
    expect(o.level).toBe("warn");
    expect(o.tag).toBeUndefined();
  });
});

describe("logSettingsOf", () => {
  const table = { format: "json" as const, level: "warn" as const, access: true };
  test("the config's table when no flag is given", () => {
    expect(logSettingsOf(table, {})).toEqual({ format: "json", level: "warn", access: true });
  });
  test("flags win over the table", () => {
    expect(logSettingsOf(table, { logFormat: "text", logLevel: "debug" })).toEqual({ format: "text", level: "debug", access: true });
  });
  test("before a config is loaded: text, info, no access log", () => {
    expect(logSettingsOf(undefined, {})).toEqual({ format: "text", level: "info", access: false });
  });
  test("a table without a level leaves info", () => {
    expect(logSettingsOf({ format: "text", level: undefined, access: false }, {}).level).toBe("info");
  });
});

test("every level name the config accepts is one of consola's", () => {
  for (const name of LOG_LEVEL_NAMES) expect(typeof LogLevels[name]).toBe("number");
});
