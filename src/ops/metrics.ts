/**
 * @module metrics: the Prometheus text and /status JSON views of the running
 * proxy. Counters live on the data path as plain numbers; they are only
 * formatted here, when scraped.
 */
import { VERSION } from "../sys/version.ts";
import type { App } from "../control/app.ts";
import { probeSockets } from "../upstream/health/probe.ts";
import type { Histogram } from "../sys/histogram.ts";
import type { TargetState } from "../upstream/pool.ts";
import { sampleProcess, type ProcessSample } from "../sys/process-metrics.ts";
import { droppedLines } from "../sys/log.ts";
import { CLOSE_REASONS } from "../datapath/close-reason.ts";
import type { ProxyView } from "../control/views.ts";

/** statusOf is the /status document: the contract's fields plus a few extras. */
export function statusOf(p: ProxyView) {
  return {
    draining: p.draining,
    ...(p.startedAt === undefined ? {} : { process: { pid: process.pid, started_at: p.startedAt, version: VERSION } }),
    ...(p.configInfo === undefined ? {} : { config: p.configInfo }),
    ...(p.workers === undefined ? {} : { workers: p.workers }),
    connections: {
      active: p.limits.active,
      max: p.limits.maxConnections,
      rejected: p.rejected,
      abandoned_dials: p.limits.abandonedDials,
    },
    apps: reported(p).map((a) => ({
      name: a.name,
      ...(p.apps.get(a.name) === a ? {} : { retired: true }),
      ports: a.config.ports,
      balancer: a.config.balancer,
      active: a.counters.open,
      max_connections: a.maxConnections,
      rejected: a.counters.rejected,
      queued: a.counters.queued,
      targets: a.pool.targets.map(targetStatus),
      ...(a.routes.length === 0 ? {} : { routes: a.routes.map((r) => ({ sni: r.config.sni, balancer: r.config.balancer, targets: r.pool.targets.map(targetStatus) })) }),
    })),
  };
}

/** targetStatus is one target as /status shows it; the admin API's drain and enable answer with it too. */
export function targetStatus(t: TargetState) {
  return {
    address: t.address,
    ...(t.origin === undefined ? {} : { origin: t.origin }),
    healthy: t.health.healthy,
    enabled: t.enabled,
    active: t.active,
    total: t.total,
    connect_errors: t.connectErrors,
    ...(t.configWeight === 1 ? {} : { weight: t.configWeight }),
    ...(t.maxConnections === 0 ? {} : { max_connections: t.maxConnections }),
    // why its latest failed check or dial failed (kept after it recovers).
    ...(t.health.lastError === undefined ? {} : { last_error: t.health.lastError }),
  };
}

/** reported lists the live apps, then retired ones whose name no live app has taken (labels must stay unique). */
function reported(p: ProxyView): App[] {
  const apps = [...p.apps.values()];
  for (const a of p.retired ?? []) if (!p.apps.has(a.name) && a.counters.open > 0) apps.push(a);
  return apps;
}

function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

type Row = [labels: string, value: number];

function family(out: string[], name: string, type: "counter" | "gauge", help: string, rows: Row[]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of rows) out.push(labels ? `${name}{${labels}} ${value}` : `${name} ${value}`);
}

/** optional declares a process-wide family only when its value could be read (see process-metrics.ts). */
function optional(out: string[], name: string, type: "counter" | "gauge", help: string, value: number | undefined): void {
  if (value !== undefined) family(out, name, type, help, [["", value]]);
}

/**
 * histograms writes one histogram family: per labelled histogram, cumulative
 * `_bucket{le}` samples ending in `le="+Inf"`, then `_sum` and `_count`.
 */
function histograms(out: string[], name: string, help: string, rows: [labels: string, h: Histogram][]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  for (const [labels, h] of rows) {
    const counts = h.cumulative();
    const sep = labels ? "," : "";
    for (let i = 0; i < counts.length; i++) {
      const le = i < h.bounds.length ? String(h.bounds[i]) : "+Inf";
      out.push(`${name}_bucket{${labels}${sep}le="${le}"} ${counts[i]}`);
    }
    const braces = labels ? `{${labels}}` : "";
    out.push(`${name}_sum${braces} ${h.sum}`, `${name}_count${braces} ${h.count}`);
  }
}

/**
 * renderMetrics is the Prometheus text exposition (format 0.0.4). `proc` is
 * the process' own facts, read from /proc now unless a test passes its own.
 */
export function renderMetrics(p: ProxyView, proc: ProcessSample = sampleProcess()): string {
  const apps = reported(p);
  const perTarget = (f: (t: App["pool"]["targets"][number]) => number): Row[] =>
    apps.flatMap((a) => a.allTargets.map((t): Row => [`app="${label(a.name)}",target="${label(t.address)}"`, f(t)]));
  const perApp = (f: (a: App) => number): Row[] => apps.map((a): Row => [`app="${label(a.name)}"`, f(a)]);
  const out: string[] = [];
  family(out, "sluice_connections_active", "gauge", "Open connections per target, dials in progress included.", perTarget((t) => t.active));
  family(out, "sluice_connections_total", "counter", "Connections established to each target.", perTarget((t) => t.total));
  family(out, "sluice_connect_errors_total", "counter", "Failed or timed-out dials to each target.", perTarget((t) => t.connectErrors));
  family(out, "sluice_target_healthy", "gauge", "1 when the target is healthy, 0 when not.", perTarget((t) => (t.health.healthy ? 1 : 0)));
  const checks: Row[] = apps.flatMap((a) =>
    a.allTargets.flatMap((t): Row[] => {
      const labels = `app="${label(a.name)}",target="${label(t.address)}"`;
      return [
        [`${labels},result="pass"`, t.checksPassed],
        [`${labels},result="fail"`, t.checksFailed],
      ];
    }),
  );
  family(out, "sluice_health_checks_total", "counter", "Active health checks per target by result.", checks);
  const byDirection = (f: (a: App) => { upstream: number; downstream: number }): Row[] =>
    apps.flatMap((a) => {
      const b = f(a);
      return [
        [`app="${label(a.name)}",direction="upstream"`, b.upstream],
        [`app="${label(a.name)}",direction="downstream"`, b.downstream],
      ] as Row[];
    });
  family(out, "sluice_bytes_total", "counter", "Bytes forwarded: upstream is client to target, downstream target to client.", byDirection((a) => a.counters.bytes()));
  family(out, "sluice_buffered_bytes", "gauge", "Bytes held in sluice's queues now, waiting for a slow receiver: upstream towards targets, downstream towards clients.", byDirection((a) => a.counters.buffered()));
  family(out, "sluice_downstream_connections_total", "counter", "Client connections accepted per app.", perApp((a) => a.counters.accepted));
  family(out, "sluice_downstream_connections_active", "gauge", "Open client connections per app.", perApp((a) => a.counters.open));
  family(out, "sluice_downstream_rejected_total", "counter", "Clients closed at once because the connection cap was reached.", perApp((a) => a.counters.rejected));
  family(out, "sluice_downstream_failed_total", "counter", "Clients closed because no target could be reached.", perApp((a) => a.counters.failed));
  // Every reason is a row from the start, so rate() and alerts see the first close of a kind too.
  const closed: Row[] = apps.flatMap((a) => CLOSE_REASONS.map((r): Row => [`app="${label(a.name)}",reason="${r}"`, a.counters.closed(r)]));
  family(out, "sluice_downstream_closed_total", "counter", "Finished client connections by close reason, cap rejections (limit) included.", closed);
  family(out, "sluice_connections_limit", "gauge", "The process-wide connection cap.", [["", p.limits.maxConnections]]);
  family(out, "sluice_abandoned_dials", "gauge", "Timed-out dials whose socket the kernel is still connecting; each holds an fd.", [["", p.limits.abandonedDials]]);
  family(out, "sluice_health_probes_abandoned", "gauge", "Timed-out health probes whose socket the kernel is still connecting (at most one per target, once).", [["", probeSockets.abandoned]]);
  family(
    out,
    "sluice_dns_failures_total",
    "counter",
    "Failed resolutions of host-name targets; each keeps the name's last good addresses.",
    perApp((a) => a.targets.discovery.failed),
  );
  family(out, "sluice_local_errors_total", "counter", "Dials that failed for want of a local resource (EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL); targets stay in rotation.", perApp((a) => a.counters.localErrors));
  family(out, "sluice_log_lines_dropped_total", "counter", "Log lines dropped because stderr was not read fast enough (the queue holds 1 MiB).", [["", p.logDropped ?? droppedLines()]]);
  family(out, "sluice_draining", "gauge", "1 while shutting down.", [["", p.draining ? 1 : 0]]);
  if (p.reloads !== undefined) {
    family(out, "sluice_config_reloads_total", "counter", "Config reloads by result; a failed one leaves the running config in place.", [
      ['result="success"', p.reloads.success],
      ['result="failure"', p.reloads.failure],
    ]);
  }
  if (p.upgrades !== undefined) {
    family(out, "sluice_upgrades_total", "counter", "Binary upgrades this process started, by result; after a failed one this process keeps serving.", [
      ['result="success"', p.upgrades.success],
      ['result="failure"', p.upgrades.failure],
    ]);
  }
  histograms(
    out,
    "sluice_connect_duration_seconds",
    "Time from accepting a client to the target's connect, per app (failed dials and failover included).",
    apps.map((a) => [`app="${label(a.name)}"`, a.counters.connectDuration]),
  );
  family(out, "sluice_build_info", "gauge", "Always 1; the version label is sluice's.", [[`version="${label(VERSION)}"`, 1]]);
  optional(out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.", proc.startTimeSeconds);
  optional(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.", proc.cpuSeconds);
  optional(out, "process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.", proc.residentBytes);
  optional(out, "process_open_fds", "gauge", "Open file descriptors.", proc.openFds);
  return out.join("\n") + "\n";
}
