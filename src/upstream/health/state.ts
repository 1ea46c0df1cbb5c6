/**
 * @module health/state: rise/fall hysteresis for one target. Pure: the caller
 * passes in each observation and the time it was made.
 */

/** HealthState flips only after `rise` passes in a row (down→up) or `fall` failures in a row (up→down). */
export class HealthState {
  healthy: boolean;
  /** consecutive results that disagree with the current state. */
  streak = 0;
  /** when the state last flipped (clock ms); 0 at start. */
  since = 0;
  /** why the last failure happened, for /status and logs. */
  lastError: string | undefined;

  constructor(healthy = true) {
    this.healthy = healthy;
  }

  /** observe records one active check result and returns true when the state flipped. */
  observe(ok: boolean, rise: number, fall: number, now: number, error?: string): boolean {
    if (!ok) this.lastError = error;
    if (ok === this.healthy) {
      this.streak = 0;
      return false;
    }
    this.streak++;
    if (this.streak < (ok ? rise : fall)) return false;
    return this.#flip(ok, now);
  }

  /** markDown is passive marking: a failed dial takes the target out at once, whatever `fall` says. */
  markDown(now: number, error?: string): boolean {
    this.lastError = error;
    if (!this.healthy) {
      this.streak = 0;
      return false;
    }
    return this.#flip(false, now);
  }

  #flip(healthy: boolean, now: number): true {
    this.healthy = healthy;
    this.streak = 0;
    this.since = now;
    return true;
  }
}
