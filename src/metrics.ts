/**
 * @module metrics: the Prometheus text and /status JSON views of the running
 * proxy. Counters live on the data path as plain numbers; they are only
 * formatted here, when scraped.
 */
import type { App } from "./app.ts";
import { probeSockets } from "./health/probe.ts";
import type { Limits } from "./limits.ts";

/** ProxyView is what the views read. */
export interface ProxyView {
  readonly apps: ReadonlyMap<string, App>;
  /** apps a reload removed whose sessions are still open: still reported, so counters do not vanish mid-flight. */
  readonly retired?: Iterable<App>;
  readonly limits: Limits;
  readonly draining: boolean;
  readonly rejected: number;
}

/** statusOf is the /status document: the contract's fields plus a few extras. */
export function statusOf(p: ProxyView) {
  return {
    draining: p.draining,
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
      active: a.sessions.size,
      max_connections: a.maxConnections,
      rejected: a.rejected,
      targets: a.pool.targets.map((t) => ({
        address: t.address,
        ...(t.origin === undefined ? {} : { origin: t.origin }),
        healthy: t.health.healthy,
        enabled: t.enabled,
        active: t.active,
        total: t.total,
        connect_errors: t.connectErrors,
      })),
    })),
  };
}

/** reported lists the live apps, then retired ones whose name no live app has taken (labels must stay unique). */
function reported(p: ProxyView): App[] {
  const apps = [...p.apps.values()];
  for (const a of p.retired ?? []) if (!p.apps.has(a.name) && a.sessions.size > 0) apps.push(a);
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

/** renderMetrics is the Prometheus text exposition (format 0.0.4). */
export function renderMetrics(p: ProxyView): string {
  const apps = reported(p);
  const perTarget = (f: (t: App["pool"]["targets"][number]) => number): Row[] =>
    apps.flatMap((a) => a.pool.targets.map((t): Row => [`app="${label(a.name)}",target="${label(t.address)}"`, f(t)]));
  const perApp = (f: (a: App) => number): Row[] => apps.map((a): Row => [`app="${label(a.name)}"`, f(a)]);
  const out: string[] = [];
  family(out, "sluice_connections_active", "gauge", "Open connections per target, dials in progress included.", perTarget((t) => t.active));
  family(out, "sluice_connections_total", "counter", "Connections established to each target.", perTarget((t) => t.total));
  family(out, "sluice_connect_errors_total", "counter", "Failed or timed-out dials to each target.", perTarget((t) => t.connectErrors));
  family(out, "sluice_target_healthy", "gauge", "1 when the target is healthy, 0 when not.", perTarget((t) => (t.health.healthy ? 1 : 0)));
  const checks: Row[] = apps.flatMap((a) =>
    a.pool.targets.flatMap((t): Row[] => {
      const labels = `app="${label(a.name)}",target="${label(t.address)}"`;
      return [
        [`${labels},result="pass"`, t.checksPassed],
        [`${labels},result="fail"`, t.checksFailed],
      ];
    }),
  );
  family(out, "sluice_health_checks_total", "counter", "Active health checks per target by result.", checks);
  const bytes: Row[] = apps.flatMap((a) => {
    const b = a.bytes();
    return [
      [`app="${label(a.name)}",direction="upstream"`, b.upstream],
      [`app="${label(a.name)}",direction="downstream"`, b.downstream],
    ] as Row[];
  });
  family(out, "sluice_bytes_total", "counter", "Bytes forwarded: upstream is client to target, downstream target to client.", bytes);
  family(out, "sluice_downstream_connections_total", "counter", "Client connections accepted per app.", perApp((a) => a.accepted));
  family(out, "sluice_downstream_connections_active", "gauge", "Open client connections per app.", perApp((a) => a.sessions.size));
  family(out, "sluice_downstream_rejected_total", "counter", "Clients closed at once because the connection cap was reached.", perApp((a) => a.rejected));
  family(out, "sluice_downstream_failed_total", "counter", "Clients closed because no target could be reached.", perApp((a) => a.failed));
  family(out, "sluice_connections_limit", "gauge", "The process-wide connection cap.", [["", p.limits.maxConnections]]);
  family(out, "sluice_abandoned_dials", "gauge", "Timed-out dials whose socket the kernel is still connecting; each holds an fd.", [["", p.limits.abandonedDials]]);
  family(out, "sluice_health_probes_abandoned", "gauge", "Timed-out health probes whose socket the kernel is still connecting (at most one per target, once).", [["", probeSockets.abandoned]]);
  family(
    out,
    "sluice_dns_failures_total",
    "counter",
    "Failed resolutions of host-name targets; each keeps the name's last good addresses.",
    perApp((a) => a.discovery.failed),
  );
  family(out, "sluice_local_errors_total", "counter", "Dials that failed for want of a local resource (EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL); targets stay in rotation.", perApp((a) => a.localErrors));
  family(out, "sluice_draining", "gauge", "1 while shutting down.", [["", p.draining ? 1 : 0]]);
  return out.join("\n") + "\n";
}
