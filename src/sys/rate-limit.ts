/**
 * @module rate-limit: one kind of repeated log line, written at most once per
 * interval with a count of the ones held back. Each kind gets its own
 * RateLimitedLog, so a flood of one (dial failures) never hides another
 * (clients left with no target). Pure: the clock is passed in.
 */

export class RateLimitedLog {
  #last = -Infinity;
  #suppressed = 0;

  constructor(
    readonly everyMs: number,
    readonly emit: (line: string) => void,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** log writes `line` unless one went out less than everyMs ago; then it is counted, and the next line says `(+N similar)`. */
  log(line: string): boolean {
    const now = this.now();
    if (now - this.#last < this.everyMs) {
      this.#suppressed++;
      return false;
    }
    const more = this.#suppressed > 0 ? ` (+${this.#suppressed} similar)` : "";
    this.#suppressed = 0;
    this.#last = now;
    this.emit(line + more);
    return true;
  }
}
