import { describe, expect, test } from "bun:test";
import { accessFields, clientOf, rejectedFields, type SessionFacts } from "../../src/datapath/access-log.ts";
import { formatLine } from "../../src/sys/log.ts";

function facts(over: Partial<SessionFacts> = {}): SessionFacts {
  return {
    openedAt: 1000,
    connectMs: 0.4567,
    dialled: 1,
    target: { address: "127.0.0.1:9000" },
    up: {},
    upPipe: { bytes: 5 },
    downPipe: { bytes: 11 },
    firstClose: "client",
    reason: "client-closed",
    ...over,
  };
}

describe("accessFields", () => {
  test("a served connection: every contract field, in order", () => {
    const f = accessFields("web", 8080, "127.0.0.1:5555", facts(), 1012.3456);
    expect(Object.keys(f)).toEqual(["app", "port", "client", "target", "tried", "connect_ms", "duration_ms", "bytes_up", "bytes_down", "first_close", "reason"]);
    expect(f).toEqual({
      app: "web",
      port: 8080,
      client: "127.0.0.1:5555",
      target: "127.0.0.1:9000",
      tried: 1,
      connect_ms: 0.46,
      duration_ms: 12.35,
      bytes_up: 5,
      bytes_down: 11,
      first_close: "client",
      reason: "client-closed",
    });
  });

  test("a failed dial: no target, null connect_ms, every dial counted", () => {
    const f = accessFields("web", 8080, "127.0.0.1:5555", facts({ connectMs: undefined, dialled: 3, target: null, up: null, firstClose: "sluice", reason: "connect-failed" }), 1005);
    expect([f.target, f.connect_ms, f.tried, f.first_close, f.reason]).toEqual([null, null, 3, "sluice", "connect-failed"]);
  });

  test("a dial still in flight at shutdown names no target", () => {
    const f = accessFields("web", 1, "c", facts({ up: null, connectMs: undefined, firstClose: "sluice", reason: "shutdown" }), 1001);
    expect(f.target).toBeNull();
  });

  test("a cap rejection", () => {
    expect(rejectedFields("db", 5432, "[::1]:40000")).toEqual({
      app: "db",
      port: 5432,
      client: "[::1]:40000",
      target: null,
      tried: 0,
      connect_ms: null,
      duration_ms: 0,
      bytes_up: 0,
      bytes_down: 0,
      first_close: "sluice",
      reason: "limit",
    });
  });

  test("as a text line: key=value pairs, - for null", () => {
    const line = formatLine("text", { time: new Date(0), level: "info", tag: "access", msg: "connection", fields: rejectedFields("db", 5432, "127.0.0.1:1") });
    expect(line).toBe(
      "1970-01-01T00:00:00.000Z INFO  [access] connection app=db port=5432 client=127.0.0.1:1 target=- tried=0 connect_ms=- duration_ms=0 bytes_up=0 bytes_down=0 first_close=sluice reason=limit\n",
    );
  });
});

describe("clientOf", () => {
  const rows: [remoteAddress: string, remotePort: number | undefined, client: string][] = [
    ["127.0.0.1", 5555, "127.0.0.1:5555"],
    ["::1", 5555, "[::1]:5555"],
    // A v4 client of a dual-stack (::) listener, as Bun reports it.
    ["::ffff:127.0.0.1", 5555, "127.0.0.1:5555"],
    ["fe80::1", 1, "[fe80::1]:1"],
    // Bun forgets remotePort once a socket is closed.
    ["127.0.0.1", undefined, "127.0.0.1:0"],
  ];
  for (const [remoteAddress, remotePort, client] of rows) test(`${remoteAddress} ${remotePort}`, () => expect(clientOf({ remoteAddress, remotePort })).toBe(client));
});
