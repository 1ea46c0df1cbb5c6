/**
 * @module health/budget: how many health probes may be in flight at once,
 * process-wide. Each probe holds a socket, and a round over thousands of
 * targets started in one go would block the event loop for seconds and take
 * fds from clients; with a budget, probes queue first come, first served.
 */

/** MAX_PROBES_IN_FLIGHT is the default budget; the fd reserve counts it. */
export const MAX_PROBES_IN_FLIGHT = 128;

/** ProbeBudget runs tasks with at most `max` of them unfinished at a time. */
export class ProbeBudget {
  #running = 0;
  #waiting: (() => void)[] = [];
  #head = 0;

  constructor(readonly max = MAX_PROBES_IN_FLIGHT) {}

  get running(): number {
    return this.#running;
  }
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** run starts `task` now if a slot is free, or once one is; the slot frees when its promise settles. */
  run(task: () => Promise<unknown>): void {
    if (this.#running < this.max) this.#start(task);
    else this.#waiting.push(() => this.#start(task));
  }

  #start(task: () => Promise<unknown>): void {
    this.#running++;
    void task().finally(() => {
      this.#running--;
      const next = this.#waiting[this.#head];
      if (next === undefined) return;
      this.#waiting[this.#head++] = undefined as never;
      if (this.#head === this.#waiting.length) {
        this.#waiting.length = 0;
        this.#head = 0;
      }
      next();
    });
  }
}

/** sharedBudget is the one budget of the process, shared by every app's checker. */
export const sharedBudget = new ProbeBudget();
