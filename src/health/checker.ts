/**
 * @module health/checker: timer-driven active TCP checks of a pool's targets.
 * One round every `interval`; a target whose previous probe is still in flight
 * is skipped, so a slow target never piles up probes.
 */
import { systemClock, type Clock, type Timer } from "../clock.ts";
import type { HealthConfig } from "../config/types.ts";
import { errorCode } from "../errors.ts";
import type { TargetState } from "../pool.ts";

/** Probe connects to host:port and resolves null on success or the failure's reason. It never rejects. */
export type Probe = (host: string, port: number, timeoutMs: number) => Promise<string | null>;

/** tcpProbe is a plain TCP connect: success means the target accepted the connection. */
export const tcpProbe: Probe = (host, port, timeoutMs) =>
  new Promise((resolve) => {
    let settled = false;
    const settle = (result: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => settle(`no connection within ${timeoutMs}ms`), timeoutMs);
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open(s) {
          // A connection that opens after the timeout is still a failed check.
          if (settled) s.terminate();
          else {
            settle(null);
            s.end();
          }
        },
        data() {},
        connectError(_s, e) {
          settle(errorCode(e));
        },
        error() {},
      },
    }).catch((e: unknown) => settle(errorCode(e)));
  });

/** HealthChecker probes every target of a pool each interval and reports each result. */
export class HealthChecker {
  #timer: Timer | undefined;
  #running = false;
  #inflight = new Set<TargetState>();

  constructor(
    private readonly targets: () => readonly TargetState[],
    public config: HealthConfig,
    private readonly onResult: (target: TargetState, flipped: boolean) => void,
    private readonly clock: Clock = systemClock,
    private readonly probe: Probe = tcpProbe,
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
      void this.probe(t.host, t.port, this.config.timeoutMs).then((error) => {
        this.#inflight.delete(t);
        if (!this.#running) return;
        const { rise, fall } = this.config;
        const flipped = t.health.observe(error === null, rise, fall, this.clock.now(), error ?? undefined);
        this.onResult(t, flipped);
      });
    }
    this.#timer = this.clock.setTimeout(() => this.#round(), this.config.intervalMs);
  }
}
