/**
 * @module health/checker: timer-driven active checks of a pool's targets (a
 * TCP connect, or a connect and a `send`/`expect` conversation).
 * One round every `interval`, give or take a tenth so that many apps started
 * together do not probe in lockstep; probes go through the process-wide
 * budget, and a target whose previous probe is still queued or in flight is
 * skipped, so a slow target never piles up probes.
 */
import { systemClock, type Clock, type Timer } from "../../sys/clock.ts";
import type { HealthConfig } from "../../config/types.ts";
import { isLocalError } from "../../sys/limits.ts";
import type { TargetState } from "../pool.ts";
import { ProbeBudget, sharedBudget } from "./budget.ts";
import { tcpProbe, type Probe } from "./probe.ts";

export type { Probe } from "./probe.ts";

/** JITTER is the spread of each interval: ±10 %. */
const JITTER = 0.1;

/** HealthChecker probes every target of a pool each interval and reports each result. */
export class HealthChecker {
  #timer: Timer | undefined;
  #running = false;
  #inflight = new Set<TargetState>();

  constructor(
    private readonly targets: () => readonly TargetState[],
    public config: HealthConfig,
    private readonly onResult: (target: TargetState, flipped: boolean, error: string | null) => void,
    private readonly clock: Clock = systemClock,
    private readonly probe: Probe = tcpProbe,
    private readonly budget: ProbeBudget = sharedBudget,
    private readonly random: () => number = Math.random,
  ) {}

  /** start runs the first round at once, so a dead target is found before much traffic meets it. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#round();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #round(): void {
    if (!this.#running) return;
    for (const t of this.targets()) {
      if (this.#inflight.has(t)) continue;
      this.#inflight.add(t);
      this.budget.run(() => this.#check(t));
    }
    const spread = 1 + JITTER * (2 * this.random() - 1);
    this.#timer = this.clock.setTimeout(() => this.#round(), Math.round(this.config.intervalMs * spread));
  }

  async #check(t: TargetState): Promise<void> {
    try {
      if (!this.#running) return;
      const { timeoutMs, send, expect } = this.config;
      const error = await this.probe(t.host, t.port, timeoutMs, { send, expect });
      // A probe that failed for want of a local fd says nothing about the target.
      if (!this.#running || (error !== null && isLocalError(error))) return;
      if (error === null) t.checksPassed++;
      else t.checksFailed++;
      const { rise, fall } = this.config;
      const flipped = t.health.observe(error === null, rise, fall, this.clock.now(), error ?? undefined);
      this.onResult(t, flipped, error);
    } finally {
      this.#inflight.delete(t);
    }
  }
}
