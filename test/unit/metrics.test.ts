import { appConfig } from "../helpers/config.ts";
import { describe, expect, test } from "bun:test";
import type { App } from "../../src/control/app.ts";
import type { LimitsView } from "../../src/sys/limits.ts";
import { roundRobin } from "../../src/upstream/balancer/round-robin.ts";
import type { AppConfig } from "../../src/config/types.ts";
import { CLOSE_REASONS } from "../../src/datapath/close-reason.ts";
import { CONNECT_BUCKETS_S, Histogram } from "../../src/sys/histogram.ts";
import { renderMetrics, statusOf } from "../../src/ops/metrics.ts";
import type { ProxyView } from "../../src/control/views.ts";
import type { ProcessSample } from "../../src/sys/process-metrics.ts";
import pkg from "../../package.json" with { type: "json" };
import { Pool, type TargetState } from "../../src/upstream/pool.ts";
import { parseEndpoint, type Endpoint } from "../../src/net/target.ts";

/**
 * A real App needs sockets and a logger; the views read only a few fields, so
 * these fakes carry just those (a real Pool and real TargetStates) and are
 * cast to App.
 */
interface FakeAppInit {
  name: string;
  ports?: number[];
  targets: string[];
  sessions?: number;
  bytes?: { upstream: number; downstream: number };
  buffered?: { upstream: number; downstream: number };
  accepted?: number;
  rejected?: number;
  failed?: number;
  closedBy?: [string, number][];
}

function fakeApp(init: FakeAppInit): App {
  const endpoints = init.targets.map((t) => parseEndpoint(t) as Endpoint);
  const config: AppConfig = appConfig({ name: init.name, ports: init.ports ?? [5001], targets: endpoints, connectTimeoutMs: 2000 });
  const bytes = init.bytes ?? { upstream: 0, downstream: 0 };
  const buffered = init.buffered ?? { upstream: 0, downstream: 0 };
  return {
    name: init.name,
    config,
    pool: new Pool(endpoints, roundRobin()),
    routes: [],
    get allTargets() {
      return (this as unknown as App).pool.targets;
    },
    sessions: { size: init.sessions ?? 0 },
    counters: {
      open: init.sessions ?? 0,
      queued: 0,
      closed: (r: string) => new Map(init.closedBy ?? []).get(r) ?? 0,
      bytes: () => bytes,
      buffered: () => buffered,
      accepted: init.accepted ?? 0,
      rejected: init.rejected ?? 0,
      failed: init.failed ?? 0,
      localErrors: 0,
      connectDuration: new Histogram(CONNECT_BUCKETS_S),
    },
    targets: { discovery: { resolved: 0, failed: 0 } },
    maxConnections: 480,
  } as unknown as App;
}

/** count brings a target's counters to the given values the way sessions do. */
function count(t: TargetState, n: { active: number; total: number; connectErrors: number }): void {
  for (let i = 0; i < n.active; i++) t.acquire();
  for (let i = 0; i < n.total; i++) t.connected();
  for (let i = 0; i < n.connectErrors; i++) t.dialFailed();
}

function view(apps: App[], extra: { limits?: LimitsView; draining?: boolean; rejected?: number } = {}): ProxyView {
  return {
    apps: new Map(apps.map((a) => [a.name, a])),
    limits: extra.limits ?? { maxConnections: 480, active: 0, abandonedDials: 0 },
    draining: extra.draining ?? false,
    rejected: extra.rejected ?? 0,
  };
}

/** One parsed exposition: families with their HELP/TYPE and samples with decoded labels. */
interface Exposition {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
  /** family names in the order their TYPE lines appear. */
  order: string[];
}

/** parseLabels decodes `k="v",…` with Prometheus escapes (\\, \", \n); it throws on anything else. */
function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i));
    if (!m) throw new Error(`bad label at ${JSON.stringify(text.slice(i))}`);
    i += m[0].length;
    let v = "";
    for (;;) {
      const c = text[i++];
      if (c === undefined) throw new Error("unterminated label value");
      if (c === '"') break;
      if (c === "\n") throw new Error("raw newline in label value");
      if (c === "\\") {
        const e = text[i++];
        if (e === "\\") v += "\\";
        else if (e === '"') v += '"';
        else if (e === "n") v += "\n";
        else throw new Error(`bad escape \\${e}`);
      } else v += c;
    }
    out[m[1]!] = v;
    if (text[i] === ",") i++;
    else if (i < text.length) throw new Error(`expected , at ${i}`);
  }
  return out;
}

function parse(text: string): Exposition {
  const x: Exposition = { help: new Map(), type: new Map(), samples: [], order: [] };
  let current: string | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP (\w+) (.+)$/.exec(line))) {
      expect(x.help.has(m[1]!)).toBe(false);
      x.help.set(m[1]!, m[2]!);
    } else if ((m = /^# TYPE (\w+) (counter|gauge|histogram)$/.exec(line))) {
      // HELP comes first, and TYPE precedes the family's samples
      expect(x.help.has(m[1]!)).toBe(true);
      expect(x.type.has(m[1]!)).toBe(false);
      x.type.set(m[1]!, m[2]!);
      x.order.push(m[1]!);
      current = m[1];
    } else if ((m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line))) {
      // a histogram's samples are its name plus _bucket, _sum or _count
      const family = x.type.get(current!) === "histogram" ? m[1]!.replace(/_(bucket|sum|count)$/, "") : m[1];
      expect(family).toBe(current!);
      const value = Number(m[3]);
      expect(Number.isFinite(value) || m[3] === "+Inf").toBe(true);
      x.samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? ""), value });
    } else {
      throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    }
  }
  return x;
}

/** valueOf finds the one sample of `name` whose labels are exactly `labels`. */
function valueOf(x: Exposition, name: string, labels: Record<string, string>): number | undefined {
  const key = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort());
  const found = x.samples.filter((s) => s.name === name && key(s.labels) === key(labels));
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

/** PROC is a fixed process sample, so expositions do not depend on this test process. */
const PROC: ProcessSample = { startTimeSeconds: 1796018145.21, cpuSeconds: 0.05, residentBytes: 30_060_544, openFds: 12 };

const CONTRACT: [name: string, type: "counter" | "gauge", labels: string[]][] = [
  ["sluice_connections_active", "gauge", ["app", "target"]],
  ["sluice_connections_total", "counter", ["app", "target"]],
  ["sluice_connect_errors_total", "counter", ["app", "target"]],
  ["sluice_target_healthy", "gauge", ["app", "target"]],
  ["sluice_bytes_total", "counter", ["app", "direction"]],
];

function sample(): { p: ProxyView; web: App; db: App } {
  const web = fakeApp({
    name: "web",
    ports: [5001, 5200],
    targets: ["127.0.0.1:9001", "[::1]:9002"],
    sessions: 3,
    bytes: { upstream: 1234, downstream: 98765 },
    buffered: { upstream: 0, downstream: 131072 },
    accepted: 40,
    rejected: 2,
    failed: 1,
    closedBy: [
      ["client-closed", 30],
      ["limit", 2],
      ["connect-failed", 1],
    ],
  });
  const db = fakeApp({ name: "db", ports: [5432], targets: ["db.internal:5432"], accepted: 7 });
  const [t1, t2] = web.pool.targets;
  count(t1!, { active: 2, total: 30, connectErrors: 0 });
  count(t2!, { active: 1, total: 9, connectErrors: 4 });
  t2!.health.markDown(1, "ECONNREFUSED");
  const p = view([web, db], { limits: { maxConnections: 480, active: 3, abandonedDials: 1 }, draining: false, rejected: 2 });
  return { p, web, db };
}

describe("renderMetrics", () => {
  test("is parseable text exposition ending in one newline", () => {
    const text = renderMetrics(sample().p);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.endsWith("\n\n")).toBe(false);
    parse(text);
  });

  for (const [name, type, labels] of CONTRACT) {
    test(`has the contract's ${name}{${labels.join(",")}} as a ${type} with HELP`, () => {
      const x = parse(renderMetrics(sample().p));
      expect(x.type.get(name)).toBe(type);
      expect(x.help.get(name)?.length ?? 0).toBeGreaterThan(0);
      const rows = x.samples.filter((s) => s.name === name);
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(Object.keys(r.labels).sort()).toEqual([...labels].sort());
    });
  }

  test("per-target families carry one sample per target with its values", () => {
    const x = parse(renderMetrics(sample().p));
    const rows: [name: string, app: string, target: string, value: number][] = [
      ["sluice_connections_active", "web", "127.0.0.1:9001", 2],
      ["sluice_connections_active", "web", "[::1]:9002", 1],
      ["sluice_connections_active", "db", "db.internal:5432", 0],
      ["sluice_connections_total", "web", "127.0.0.1:9001", 30],
      ["sluice_connections_total", "web", "[::1]:9002", 9],
      ["sluice_connect_errors_total", "web", "127.0.0.1:9001", 0],
      ["sluice_connect_errors_total", "web", "[::1]:9002", 4],
      ["sluice_target_healthy", "web", "127.0.0.1:9001", 1],
      ["sluice_target_healthy", "web", "[::1]:9002", 0],
      ["sluice_target_healthy", "db", "db.internal:5432", 1],
    ];
    for (const [name, app, target, value] of rows) expect([name, app, target, valueOf(x, name, { app, target })]).toEqual([name, app, target, value]);
    for (const name of ["sluice_connections_active", "sluice_connections_total", "sluice_connect_errors_total", "sluice_target_healthy"]) {
      expect(x.samples.filter((s) => s.name === name)).toHaveLength(3);
    }
  });

  test("bytes are split by direction: upstream is client to target, downstream target to client", () => {
    const x = parse(renderMetrics(sample().p));
    expect(valueOf(x, "sluice_bytes_total", { app: "web", direction: "upstream" })).toBe(1234);
    expect(valueOf(x, "sluice_bytes_total", { app: "web", direction: "downstream" })).toBe(98765);
    expect(valueOf(x, "sluice_bytes_total", { app: "db", direction: "upstream" })).toBe(0);
    expect(x.samples.filter((s) => s.name === "sluice_bytes_total")).toHaveLength(4);
  });

  test("buffered bytes are a gauge per app and direction", () => {
    const x = parse(renderMetrics(sample().p));
    expect(valueOf(x, "sluice_buffered_bytes", { app: "web", direction: "downstream" })).toBe(131072);
    expect(valueOf(x, "sluice_buffered_bytes", { app: "web", direction: "upstream" })).toBe(0);
    expect(valueOf(x, "sluice_buffered_bytes", { app: "db", direction: "downstream" })).toBe(0);
    expect(x.type.get("sluice_buffered_bytes")).toBe("gauge");
  });

  test("per-app and process-wide families", () => {
    const x = parse(renderMetrics(sample().p));
    const rows: [name: string, labels: Record<string, string>, value: number, type: string][] = [
      ["sluice_downstream_connections_total", { app: "web" }, 40, "counter"],
      ["sluice_downstream_connections_total", { app: "db" }, 7, "counter"],
      ["sluice_downstream_connections_active", { app: "web" }, 3, "gauge"],
      ["sluice_downstream_rejected_total", { app: "web" }, 2, "counter"],
      ["sluice_downstream_failed_total", { app: "web" }, 1, "counter"],
      ["sluice_downstream_failed_total", { app: "db" }, 0, "counter"],
      ["sluice_downstream_closed_total", { app: "web", reason: "client-closed" }, 30, "counter"],
      ["sluice_downstream_closed_total", { app: "web", reason: "limit" }, 2, "counter"],
      ["sluice_downstream_closed_total", { app: "web", reason: "connect-failed" }, 1, "counter"],
      ["sluice_downstream_closed_total", { app: "web", reason: "idle-timeout" }, 0, "counter"],
      ["sluice_downstream_closed_total", { app: "db", reason: "internal-error" }, 0, "counter"],
      ["sluice_log_lines_dropped_total", {}, 0, "counter"],
      ["sluice_connections_limit", {}, 480, "gauge"],
      ["sluice_draining", {}, 0, "gauge"],
    ];
    for (const [name, labels, value, type] of rows) {
      expect([name, valueOf(x, name, labels), x.type.get(name)]).toEqual([name, value, type]);
    }
  });

  test("sluice_downstream_closed_total has a row for every app and every close reason, counted or not", () => {
    const x = parse(renderMetrics(sample().p));
    for (const app of ["web", "db"]) {
      for (const reason of CLOSE_REASONS) expect(valueOf(x, "sluice_downstream_closed_total", { app, reason })).toBeNumber();
    }
  });

  test("draining shows as 1", () => {
    const x = parse(renderMetrics(view([], { draining: true })));
    expect(valueOf(x, "sluice_draining", {})).toBe(1);
  });

  test("every metric name has the sluice_ prefix (process_ for the standard process facts) and counters end in _total", () => {
    const x = parse(renderMetrics(sample().p, PROC));
    for (const name of x.order) {
      expect(name.startsWith("sluice_") || name.startsWith("process_")).toBe(true);
      expect(name.endsWith("_total")).toBe(x.type.get(name) === "counter");
    }
  });

  test("with no apps, every family is still declared and per-target ones are empty", () => {
    const x = parse(renderMetrics(view([]), {}));
    for (const [name] of CONTRACT) expect(x.type.has(name)).toBe(true);
    expect(x.type.get("sluice_connect_duration_seconds")).toBe("histogram");
    expect(x.samples.map((s) => s.name).sort()).toEqual([
      "sluice_abandoned_dials",
      "sluice_build_info",
      "sluice_connections_limit",
      "sluice_draining",
      "sluice_health_probes_abandoned",
      "sluice_log_lines_dropped_total",
    ]);
  });

  test("sluice_build_info carries package.json's version", () => {
    const x = parse(renderMetrics(view([]), {}));
    expect(x.type.get("sluice_build_info")).toBe("gauge");
    expect(valueOf(x, "sluice_build_info", { version: pkg.version })).toBe(1);
  });

  test("process facts are the standard process_ families, each left out when it cannot be read", () => {
    const x = parse(renderMetrics(view([]), PROC));
    const rows: [name: string, type: string, value: number][] = [
      ["process_start_time_seconds", "gauge", 1796018145.21],
      ["process_cpu_seconds_total", "counter", 0.05],
      ["process_resident_memory_bytes", "gauge", 30_060_544],
      ["process_open_fds", "gauge", 12],
    ];
    for (const [name, type, value] of rows) expect([name, x.type.get(name), valueOf(x, name, {})]).toEqual([name, type, value]);
    const some = parse(renderMetrics(view([]), { openFds: 3 }));
    expect(some.order.filter((n) => n.startsWith("process_"))).toEqual(["process_open_fds"]);
  });

  test("sluice_connect_duration_seconds is a histogram per app: cumulative buckets up to +Inf, then _sum and _count", () => {
    const { p, web } = sample();
    for (const s of [0.0003, 0.002, 0.002, 0.4, 30]) web.counters.connectDuration.observe(s);
    const x = parse(renderMetrics(p, PROC));
    const name = "sluice_connect_duration_seconds";
    const buckets = x.samples.filter((s) => s.name === `${name}_bucket` && s.labels.app === "web");
    expect(buckets.map((b) => b.labels.le)).toEqual([...CONNECT_BUCKETS_S.map(String), "+Inf"]);
    const at = (le: string) => buckets.find((b) => b.labels.le === le)?.value;
    expect([at("0.0005"), at("0.001"), at("0.0025"), at("0.25"), at("0.5"), at("10"), at("+Inf")]).toEqual([1, 1, 3, 3, 4, 4, 5]);
    const counts = buckets.map((b) => b.value);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(valueOf(x, `${name}_count`, { app: "web" })).toBe(5);
    expect(valueOf(x, `${name}_sum`, { app: "web" })).toBeCloseTo(30.4043, 9);
    expect(valueOf(x, `${name}_count`, { app: "db" })).toBe(0);
    expect(valueOf(x, `${name}_bucket`, { app: "db", le: "+Inf" })).toBe(0);
  });

  test("label values escape backslash, double quote and newline", () => {
    const name = 'we"ird\\app\nname';
    const text = renderMetrics(view([fakeApp({ name, targets: ["10.0.0.1:80"] })]));
    expect(text).toContain(`sluice_target_healthy{app="we\\"ird\\\\app\\nname",target="10.0.0.1:80"} 1\n`);
    const x = parse(text);
    expect(valueOf(x, "sluice_target_healthy", { app: name, target: "10.0.0.1:80" })).toBe(1);
    expect(valueOf(x, "sluice_bytes_total", { app: name, direction: "upstream" })).toBe(0);
    expect(valueOf(x, "sluice_downstream_connections_total", { app: name })).toBe(0);
  });
});

describe("statusOf", () => {
  test("has the contract's fields, per app and per target", () => {
    const { p, web } = sample();
    web.pool.targets[0]!.enabled = false;
    expect(statusOf(p)).toEqual({
      draining: false,
      connections: { active: 3, max: 480, rejected: 2, abandoned_dials: 1 },
      apps: [
        {
          name: "web",
          ports: [5001, 5200],
          balancer: "round-robin",
          active: 3,
          max_connections: 480,
          rejected: 2,
          queued: 0,
          targets: [
            { address: "127.0.0.1:9001", healthy: true, enabled: false, active: 2, total: 30, connect_errors: 0 },
            { address: "[::1]:9002", healthy: false, enabled: true, active: 1, total: 9, connect_errors: 4, last_error: "ECONNREFUSED" },
          ],
        },
        {
          name: "db",
          ports: [5432],
          balancer: "round-robin",
          active: 0,
          max_connections: 480,
          rejected: 0,
          queued: 0,
          targets: [{ address: "db.internal:5432", healthy: true, enabled: true, active: 0, total: 0, connect_errors: 0 }],
        },
      ],
    });
  });

  test("survives a JSON round trip unchanged", () => {
    const s = statusOf(sample().p);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  test("draining and an empty proxy", () => {
    expect(statusOf(view([], { draining: true, limits: { maxConnections: 7, active: 0, abandonedDials: 0 } }))).toEqual({
      draining: true,
      connections: { active: 0, max: 7, rejected: 0, abandoned_dials: 0 },
      apps: [],
    });
  });
});
