/**
 * @module plan: what it takes to go from one config to the next, as data.
 * Pure: no sockets, no timers. Start-up is the plan from no config at all, so
 * start and reload share one code path (Runtime.apply) and this module's unit
 * tests cover both without opening a port.
 */
import type { AppConfig, Config } from "../config/types.ts";

/** TargetChange lists the configured targets an app gained and lost. */
export interface TargetChange {
  app: string;
  added: string[];
  removed: string[];
}

export interface Plan {
  /** ports to bind, with the app each will serve. */
  open: { port: number; app: string }[];
  /** ports to close; their open sessions carry on. */
  close: number[];
  /** open ports that now serve another app. */
  repoint: { port: number; app: string }[];
  /** apps new in this config. */
  create: AppConfig[];
  /** apps kept by name whose config changed. */
  update: AppConfig[];
  /** apps kept by name with an identical config: nothing to do. */
  unchanged: string[];
  /** apps no longer in the config; their open sessions carry on (or drain, per on_remove). */
  retire: string[];
  /** targets added and removed per kept or retired app (for logs and on_remove). */
  targets: TargetChange[];
  /** the admin listener moves: undefined when it stays where it is. */
  admin: { from: string | undefined; to: string | undefined } | undefined;
  /** the bind address the ports use: a running proxy keeps its own (ports would have to close). */
  bind: string;
  /** things the operator should hear that are not errors. */
  notes: string[];
}

/** asJson: JSON.stringify throws on bigints, which IPv6 CIDR blocks hold. */
const asJson = (_: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : v);

/** sameApp compares two app configs by value; Endpoint order matters (it is the balancer's order). */
function sameApp(a: AppConfig, b: AppConfig): boolean {
  return JSON.stringify(a, asJson) === JSON.stringify(b, asJson);
}

function targetChange(name: string, before: AppConfig | undefined, after: AppConfig | undefined): TargetChange | undefined {
  const was = new Set(before?.targets.map((t) => t.address));
  const is = new Set(after?.targets.map((t) => t.address));
  const added = [...is].filter((a) => !was.has(a));
  const removed = [...was].filter((a) => !is.has(a));
  return added.length > 0 || removed.length > 0 ? { app: name, added, removed } : undefined;
}

/**
 * diff returns the plan that turns `current` (undefined: nothing running yet)
 * into `next`. Apps are matched by name, listeners by port: a port that stays
 * is never closed, even when it moves to another app.
 */
export function diff(current: Config | undefined, next: Config): Plan {
  const before = new Map(current?.apps.map((a) => [a.name, a]));
  const after = new Map(next.apps.map((a) => [a.name, a]));
  const ownerBefore = new Map<number, string>();
  for (const a of current?.apps ?? []) for (const p of a.ports) ownerBefore.set(p, a.name);
  const ownerAfter = new Map<number, string>();
  for (const a of next.apps) for (const p of a.ports) ownerAfter.set(p, a.name);

  const plan: Plan = {
    open: [],
    close: [],
    repoint: [],
    create: [],
    update: [],
    unchanged: [],
    retire: [],
    targets: [],
    admin: undefined,
    bind: current?.bind ?? next.bind,
    notes: [],
  };
  if (current !== undefined && next.bind !== current.bind) {
    plan.notes.push(`bind stays ${current.bind} until restart (config says ${next.bind})`);
  }
  if (current !== undefined && next.workers !== current.workers) {
    plan.notes.push(`workers stays as started until restart (config says ${next.workers})`);
  }
  for (const [port, app] of ownerAfter) {
    const was = ownerBefore.get(port);
    if (was === undefined) plan.open.push({ port, app });
    else if (was !== app) plan.repoint.push({ port, app });
  }
  for (const port of ownerBefore.keys()) if (!ownerAfter.has(port)) plan.close.push(port);
  for (const [name, app] of after) {
    const was = before.get(name);
    if (was === undefined) plan.create.push(app);
    // An app's config carries its resolved [health], so a changed [health] updates every app it reaches.
    else if (sameApp(was, app)) plan.unchanged.push(name);
    else plan.update.push(app);
    if (was !== undefined) {
      const change = targetChange(name, was, app);
      if (change !== undefined) plan.targets.push(change);
    }
  }
  for (const [name, app] of before) {
    if (after.has(name)) continue;
    plan.retire.push(name);
    plan.targets.push(targetChange(name, app, undefined)!);
  }
  const from = current?.admin?.address;
  const to = next.admin?.address;
  if (current === undefined ? to !== undefined : from !== to) plan.admin = { from, to };
  return plan;
}

/** isEmpty is true when applying the plan would change nothing but settings of kept apps. */
export function changesNothing(plan: Plan): boolean {
  return (
    plan.open.length + plan.close.length + plan.repoint.length + plan.create.length + plan.update.length + plan.retire.length === 0 &&
    plan.admin === undefined
  );
}

/**
 * summary is the one log line a reload writes, listing only what changed, e.g.
 * `ports +5003 -5002; apps +b ~a -c; targets a:+127.0.0.1:9002 -127.0.0.1:9001`.
 */
export function summary(plan: Plan): string {
  const parts: string[] = [];
  const ports = [
    ...plan.open.map((o) => `+${o.port}`),
    ...plan.close.map((p) => `-${p}`),
    ...plan.repoint.map((r) => `${r.port}->${r.app}`),
  ];
  if (ports.length > 0) parts.push(`ports ${ports.join(" ")}`);
  const apps = [...plan.create.map((a) => `+${a.name}`), ...plan.update.map((a) => `~${a.name}`), ...plan.retire.map((n) => `-${n}`)];
  if (apps.length > 0) parts.push(`apps ${apps.join(" ")}`);
  const targets = plan.targets
    .filter((t) => !plan.retire.includes(t.app))
    .map((t) => `${t.app}:${[...t.added.map((a) => `+${a}`), ...t.removed.map((a) => `-${a}`)].join(",")}`);
  if (targets.length > 0) parts.push(`targets ${targets.join(" ")}`);
  if (plan.admin !== undefined) parts.push(`admin ${plan.admin.from ?? "off"}->${plan.admin.to ?? "off"}`);
  return parts.length > 0 ? parts.join("; ") : "no change";
}
