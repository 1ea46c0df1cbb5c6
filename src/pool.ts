/**
 * @module pool: the targets of one app, their live state, and its balancer.
 * Target state is keyed by address so a reload that keeps an address keeps
 * its counters and health.
 */
import type { Balancer } from "./balancer/index.ts";
import { HealthState } from "./health/state.ts";
import type { Endpoint } from "./target.ts";

/** TargetState is one configured target at run time. */
export class TargetState {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** the configured host name:port this address came from, when it came from DNS. */
  readonly origin: string | undefined;
  /** sessions dialling or connected to this target. */
  active = 0;
  /** connections established to this target, ever. */
  total = 0;
  connectErrors = 0;
  /** active health checks that passed and failed (local shortages are not counted). */
  checksPassed = 0;
  checksFailed = 0;
  readonly health = new HealthState(true);
  /** false while an operator drains the target. */
  enabled = true;

  constructor(endpoint: Endpoint) {
    this.host = endpoint.host;
    this.port = endpoint.port;
    this.address = endpoint.address;
    this.origin = endpoint.origin;
  }

  get ready(): boolean {
    return this.health.healthy && this.enabled;
  }
}

/** Pool hands out targets for new connections: ready ones first, then (fail open) the rest. */
export class Pool {
  targets: TargetState[];
  #ready: TargetState[] = [];

  constructor(
    endpoints: readonly Endpoint[],
    public balancer: Balancer,
    previous?: Pool,
  ) {
    const old = new Map(previous?.targets.map((t) => [t.address, t]));
    this.targets = endpoints.map((e) => old.get(e.address) ?? new TargetState(e));
    this.refresh();
  }

  /** refresh rebuilds the ready list; call it after any health or enabled change. */
  refresh(): void {
    this.#ready = this.targets.filter((t) => t.ready);
  }

  /**
   * pick chooses the next target to dial, skipping those already `tried`.
   * Ready targets come first; when none is left, the others are tried too, so
   * an app whose every target looks down still gets a chance to connect.
   */
  pick(tried: readonly TargetState[] | null): TargetState | undefined {
    if (tried === null) {
      const list = this.#ready.length > 0 ? this.#ready : this.targets;
      return list.length === 0 ? undefined : list[this.balancer.pick(list)];
    }
    let list = this.#ready.filter((t) => !tried.includes(t));
    if (list.length === 0) list = this.targets.filter((t) => !tried.includes(t));
    return list.length === 0 ? undefined : list[this.balancer.pick(list)];
  }
}
