/**
 * @module pool: the targets of one app, their live state, and its balancer.
 * Target state is keyed by address so a reload that keeps an address keeps
 * its counters and health.
 */
import type { Balancer } from "./balancer/index.ts";
import { Cell, FLAG_ENABLED, FLAG_HEALTHY, T } from "../sys/board.ts";
import { HealthState } from "./health/state.ts";
import type { Endpoint } from "../net/target.ts";

/** TargetState is one configured target at run time. */
export class TargetState {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** the configured host name:port this address came from, when it came from DNS. */
  readonly origin: string | undefined;
  readonly health = new HealthState(true);
  /** false while an operator drains the target. */
  enabled = true;
  /** active health checks that passed and failed (local shortages are not counted); the health owner's own. */
  checksPassed = 0;
  checksFailed = 0;
  /** the configured weight (1-1000). */
  configWeight = 1;
  /** the most sessions this target takes at once; 0: no limit. */
  maxConnections = 0;
  /** slow start: until this time (performance.now() ms) the weight ramps up; 0: no ramp. */
  #rampUntil = 0;
  #rampMs = 0;

  /**
   * `cell` holds the counts every worker shares (src/sys/board.ts). `owner`: this
   * thread runs the health checks, so `health` and `enabled` are the truth
   * and publish() copies them to the board; a worker that is not the owner
   * reads readiness from the board's flags.
   */
  constructor(
    endpoint: Endpoint,
    readonly cell: Cell = Cell.local(2, 3, 1),
    readonly owner = true,
  ) {
    this.host = endpoint.host;
    this.port = endpoint.port;
    this.address = endpoint.address;
    this.origin = endpoint.origin;
    this.configure(endpoint);
    if (owner) this.publish();
  }

  /** sessions dialling or connected to this target, in every worker. */
  get active(): number {
    return this.cell.level(T.ACTIVE);
  }
  /** connections established to this target, ever. */
  get total(): number {
    return this.cell.get(T.TOTAL);
  }
  get connectErrors(): number {
    return this.cell.get(T.CONNECT_ERRORS);
  }

  /** acquire counts a session dialling this target; false when it is at max_connections (another worker took the last place). */
  acquire(): boolean {
    if (this.maxConnections > 0) return this.cell.raiseBelow(T.ACTIVE, this.maxConnections);
    this.cell.raise(T.ACTIVE, 1);
    return true;
  }
  release(): void {
    this.cell.raise(T.ACTIVE, -1);
  }
  /** connected: a dial of this target succeeded. */
  connected(): void {
    this.cell.add(T.TOTAL);
  }
  dialFailed(): void {
    this.cell.add(T.CONNECT_ERRORS);
  }

  /** publish puts the owner's health and enabled state on the board for the other workers. */
  publish(): void {
    this.cell.store(T.FLAGS, (this.health.healthy ? FLAG_HEALTHY : 0) | (this.enabled ? FLAG_ENABLED : 0));
  }

  /** configure takes the weight and cap a (re)loaded config gives this address. */
  configure(endpoint: Endpoint): void {
    this.configWeight = endpoint.weight ?? 1;
    this.maxConnections = endpoint.maxConnections ?? 0;
  }

  get ready(): boolean {
    if (this.owner) return this.health.healthy && this.enabled;
    return this.cell.level(T.FLAGS) === (FLAG_HEALTHY | FLAG_ENABLED);
  }

  /** full: at its max_connections, so not picked until a session of it ends. */
  get full(): boolean {
    return this.maxConnections > 0 && this.active >= this.maxConnections;
  }

  /**
   * weight is what balancers see: the configured weight, or during slow
   * start a share of it that grows linearly from 10 % to 100 %.
   */
  get weight(): number {
    if (this.#rampUntil === 0) return this.configWeight;
    const left = this.#rampUntil - performance.now();
    if (left <= 0) {
      this.#rampUntil = 0;
      return this.configWeight;
    }
    return this.configWeight * (0.1 + (0.9 * (this.#rampMs - left)) / this.#rampMs);
  }

  /** slowStart begins a ramp of `ms` from now (a target that just turned healthy). */
  slowStart(ms: number, now = performance.now()): void {
    if (ms <= 0) return;
    this.#rampMs = ms;
    this.#rampUntil = now + ms;
  }
}

/** Pool hands out targets for new connections: ready ones first, then (fail open) the rest. */
export class Pool {
  targets: TargetState[];
  #ready: TargetState[] = [];
  /** some target has a max_connections, so pick must skip full ones. */
  #capped = false;

  constructor(
    endpoints: readonly Endpoint[],
    public balancer: Balancer,
    previous?: { readonly targets: readonly TargetState[] },
    /** makes the state of an address not seen before (the app binds it to the board). */
    make: (e: Endpoint) => TargetState = (e) => new TargetState(e),
  ) {
    const old = new Map(previous?.targets.map((t) => [t.address, t]));
    this.targets = endpoints.map((e) => {
      const kept = old.get(e.address);
      kept?.configure(e);
      return kept ?? make(e);
    });
    this.refresh();
  }

  /** refresh rebuilds the ready list; call it after any health or enabled change. */
  refresh(): void {
    for (const t of this.targets) if (t.owner) t.publish();
    this.#ready = this.targets.filter((t) => t.ready);
    this.#capped = this.targets.some((t) => t.maxConnections > 0);
  }

  /** capped is true when some target has a max_connections: only then can a pick find every target full. */
  get capped(): boolean {
    return this.#capped;
  }

  /**
   * pick chooses the next target to dial, skipping those already `tried`.
   * Ready targets come first; when none is left, the others are tried too, so
   * an app whose every target looks down still gets a chance to connect.
   */
  pick(tried: readonly TargetState[] | null): TargetState | undefined {
    const t = this.#pick(tried);
    // In a worker that is not the owner the ready list is rebuilt when the main thread says so, a message
    // later; the board's flags are already current (an admin drain returns only after writing them).
    if (t !== undefined && !t.owner && !t.ready && this.#ready.includes(t)) {
      this.refresh();
      return this.#pick(tried);
    }
    return t;
  }

  #pick(tried: readonly TargetState[] | null): TargetState | undefined {
    if (tried === null && !this.#capped) {
      const list = this.#ready.length > 0 ? this.#ready : this.targets;
      return list.length === 0 ? undefined : list[this.balancer.pick(list)];
    }
    const tier = this.#tier(tried);
    const list = this.#capped ? tier.filter((t) => !t.full) : tier;
    return list.length === 0 ? undefined : list[this.balancer.pick(list)];
  }

  /**
   * waiting says why pick found nothing for a session that has tried `tried`:
   * true when the targets it may use (the untried ready ones, or with none
   * ready the untried rest) exist but are all at their max_connections, so
   * the session should queue rather than give up. Full ready targets are
   * waited for, not passed over for ones that are down: fail-open is for an
   * app with nothing ready, not for one that is busy.
   */
  waiting(tried: readonly TargetState[] | null): boolean {
    if (!this.#capped) return false;
    const tier = this.#tier(tried);
    return tier.length > 0 && tier.every((t) => t.full);
  }

  /** #tier is what a session may dial next: the untried ready targets, or with none, every untried one. */
  #tier(tried: readonly TargetState[] | null): TargetState[] {
    const untried = (t: TargetState) => tried === null || !tried.includes(t);
    const ready = this.#ready.filter(untried);
    return ready.length > 0 ? ready : this.targets.filter(untried);
  }
}
