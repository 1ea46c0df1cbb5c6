/**
 * @module board: the numbers every worker thread of one process shares, in
 * one SharedArrayBuffer, so that balancing, caps, /status and /metrics are
 * the same with N event loops as with one, with no message per connection.
 *
 * Two kinds of number:
 * - a gauge (open sessions, a target's active count, queued clients) is one
 *   Int32 that every worker changes with Atomics, read by all; each worker
 *   also keeps its own share in its row, so the share of a worker that died
 *   can be taken back out (reclaim).
 * - a counter (bytes, connections, close reasons, histogram buckets) is a
 *   Float64 in each worker's own row, written by that worker only with plain
 *   stores, and summed over the rows when read. No atomics, and no overflow
 *   before 2^53.
 *
 * A Cell is one app's, one target's or the process' slice of both. Slots are
 * handed out by the main thread (Directory) and shipped to the workers with
 * each config; they are never reused, so a worker that still holds an old
 * target can never count into a new one.
 */

/** MAX_WORKERS bounds `workers`; the board holds a row for each. */
export const MAX_WORKERS = 64;
/** MAX_APPS and MAX_TARGETS are the slots the board holds over the process' life (names and addresses ever seen). */
export const MAX_APPS = 256;
export const MAX_TARGETS = 16384;

/** Gauges (Int32, atomic) and the row fields that mirror them, per kind of cell. */
/** HEARTBEAT is bumped by each worker every second; the main thread's watchdog reads it (src/control/workers.ts). */
export const G = { ACTIVE: 0, ABANDONED: 1, LOG_DROPPED: 2, HEARTBEAT: 3 } as const;
const G_GAUGES = 2;
const G_FIELDS = 4;
/**
 * BUFFERED_UP/DOWN are bytes held in this worker's queues now: gauges kept
 * as row fields (plain stores on the data path's slow branch, summed when
 * read), cleared with the rest of a dead worker's share.
 */
export const A = { SESSIONS: 0, QUEUED: 1, ACCEPTED: 2, REJECTED: 3, FAILED: 4, LOCAL_ERRORS: 5, BYTES_UP: 6, BYTES_DOWN: 7, CLOSED_BY: 8, HISTOGRAM: 20, BUFFERED_UP: 37, BUFFERED_DOWN: 38 } as const;
const A_GAUGES = 2;
const A_FIELDS = 40;
/** TURN is an app's Int32 after its gauges: the round-robin position every worker takes turns from (not mirrored). */
export const TURN = 2;
const A_WORDS = 3;
/** FLAGS is a target's gauge 1: READY bits written by the health owner (not mirrored, never reclaimed). */
export const T = { ACTIVE: 0, TOTAL: 1, CONNECT_ERRORS: 2, FLAGS: 1 } as const;
const T_GAUGES = 1;
const T_FIELDS = 3;
export const FLAG_HEALTHY = 1;
export const FLAG_ENABLED = 2;

/** Where each kind of cell starts, in Int32 gauges and in a worker's Float64 row. */
const G_I32 = 0;
const A_I32 = 4;
const T_I32 = A_I32 + MAX_APPS * A_WORDS;
const I32_LENGTH = T_I32 + MAX_TARGETS * 2;
const G_ROW = 0;
const A_ROW = G_FIELDS;
const T_ROW = A_ROW + MAX_APPS * A_FIELDS;
const ROW_LENGTH = T_ROW + MAX_TARGETS * T_FIELDS;

/** Board is this thread's view of the shared numbers: `worker` is the row it writes. */
export class Board {
  readonly i32: Int32Array;
  readonly f64: Float64Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly workers: number,
    readonly worker: number,
  ) {
    this.i32 = new Int32Array(buffer, 0, I32_LENGTH);
    this.f64 = new Float64Array(buffer, I32_LENGTH * 4, ROW_LENGTH * workers);
  }

  /** create allocates a board for `workers` threads; this thread writes row 0. */
  static create(workers = 1): Board {
    if (workers < 1 || workers > MAX_WORKERS) throw new RangeError(`workers must be 1-${MAX_WORKERS}`);
    return new Board(new SharedArrayBuffer(I32_LENGTH * 4 + ROW_LENGTH * workers * 8), workers, 0);
  }

  /** as is the same board seen from another worker's thread. */
  as(worker: number): Board {
    return new Board(this.buffer, this.workers, worker);
  }

  get process(): Cell {
    return this.#cell(G_I32, G_ROW, G_GAUGES);
  }
  /** app is the cell of an app slot; -1 (the board is full): a private one. */
  app(slot: number): Cell {
    return slot < 0 ? Cell.local(A_WORDS, A_FIELDS, A_GAUGES) : this.#cell(A_I32 + slot * A_WORDS, A_ROW + slot * A_FIELDS, A_GAUGES);
  }
  target(slot: number): Cell {
    return slot < 0 ? Cell.local(2, T_FIELDS, T_GAUGES) : this.#cell(T_I32 + slot * 2, T_ROW + slot * T_FIELDS, T_GAUGES);
  }
  #cell(g: number, row: number, gauges: number): Cell {
    return new Cell(this.i32, this.f64, g, row, gauges, this.workers, ROW_LENGTH, this.worker);
  }

  /**
   * reclaim takes the gauges of `worker`, which has stopped for good, out of
   * the totals (its sessions died with it) and zeroes its share. Its
   * counters stay: what it forwarded was forwarded.
   */
  reclaim(worker: number): void {
    const dead = this.as(worker);
    const cells = [dead.process];
    for (let a = 0; a < MAX_APPS; a++) {
      const app = dead.app(a);
      cells.push(app);
      app.clear(A.BUFFERED_UP);
      app.clear(A.BUFFERED_DOWN);
    }
    for (let t = 0; t < MAX_TARGETS; t++) cells.push(dead.target(t));
    for (const c of cells) c.zeroShare();
  }
}

/**
 * Cell is one slice of the board: `gauges` Int32s from `g`, mirrored by the
 * first fields of a row that starts at `row` in every worker's block.
 */
export class Cell {
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  /** this worker's row. */
  readonly #own: number;

  constructor(
    i32: Int32Array,
    f64: Float64Array,
    readonly g: number,
    readonly row: number,
    readonly gauges: number,
    readonly workers = 1,
    readonly stride = 0,
    worker = 0,
  ) {
    this.#i32 = i32;
    this.#f64 = f64;
    this.#own = worker * stride + row;
  }

  /** local is a cell of `words` Int32s (the first `gauges` of them gauges) and `fields` numbers that no other thread sees. */
  static local(words: number, fields: number, gauges = words): Cell {
    // Atomics work on a plain Int32Array too, and a SharedArrayBuffer is far dearer to make.
    return new Cell(new Int32Array(words), new Float64Array(fields), 0, 0, Math.min(gauges, fields));
  }

  /** level is gauge `k` summed over every worker. */
  level(k: number): number {
    return this.#i32[this.g + k]!;
  }

  /** mine is this worker's own value of field `k`. */
  mine(k: number): number {
    return this.#f64[this.#own + k]!;
  }

  /** raise moves gauge `k` by `d` (±). */
  raise(k: number, d: number): void {
    Atomics.add(this.#i32, this.g + k, d);
    this.#f64[this.#own + k]! += d;
  }

  /** raiseBelow adds one to gauge `k` only while it is under `limit`; false when it is not. */
  raiseBelow(k: number, limit: number): boolean {
    const i = this.g + k;
    for (;;) {
      const n = Atomics.load(this.#i32, i);
      if (n >= limit) return false;
      if (Atomics.compareExchange(this.#i32, i, n, n + 1) === n) break;
    }
    this.#f64[this.#own + k]! += 1;
    return true;
  }

  /** turn takes the next number of the Int32 word `k` (a shared round-robin position), 0 to 2^31-1 and round again. */
  turn(k: number): number {
    return Atomics.add(this.#i32, this.g + k, 1) & 0x7fffffff;
  }

  /** add adds `d` to counter `k` of this worker's row. */
  add(k: number, d = 1): void {
    this.#f64[this.#own + k]! += d;
  }

  /** clear zeroes this worker's field `k` (a row gauge of a worker that is gone). */
  clear(k: number): void {
    this.#f64[this.#own + k] = 0;
  }

  /** get is counter `k` summed over every worker's row. */
  get(k: number): number {
    let n = 0;
    const f = this.#f64;
    for (let w = 0, at = this.row + k; w < this.workers; w++, at += this.stride) n += f[at]!;
    return n;
  }

  /** store sets gauge `k` as a whole (flags, written by one owner). */
  store(k: number, v: number): void {
    Atomics.store(this.#i32, this.g + k, v);
  }

  /** the row and the index in it of counter `k`, for a hot path that adds without a call (Pipe). */
  counter(k: number): { f64: Float64Array; at: number } {
    return { f64: this.#f64, at: this.#own + k };
  }

  zeroShare(): void {
    for (let k = 0; k < this.gauges; k++) {
      const share = this.#f64[this.#own + k]!;
      if (share !== 0) {
        Atomics.sub(this.#i32, this.g + k, share);
        this.#f64[this.#own + k] = 0;
      }
    }
  }
}

/** localAppCell is an app cell no other thread sees (an app without a board: unit tests). */
export function localAppCell(): Cell {
  return Cell.local(A_WORDS, A_FIELDS, A_GAUGES);
}

/** Store is where a Histogram keeps its numbers: a slice of a Cell, or a private array. */
export interface Store {
  add(i: number, d: number): void;
  get(i: number): number;
}

/** cellStore is fields `base`… of `cell` as a Store. */
export function cellStore(cell: Cell, base: number): Store {
  return { add: (i, d) => cell.add(base + i, d), get: (i) => cell.get(base + i) };
}

/** localStore is a private Store of `n` numbers (unit tests, standalone uses). */
export function localStore(n: number): Store {
  const a = new Float64Array(n);
  return { add: (i, d) => void (a[i]! += d), get: (i) => a[i]! };
}

/**
 * Directory hands out slots: app names and (app, address) pairs. The main
 * thread allocates; workers get a copy with each config (entries) and only
 * look up. A slot is never reused (see the module comment); once the board
 * is full a new name or address gets -1: it still works, with counts private
 * to each worker (logged by the caller).
 */
export class Directory {
  readonly #apps = new Map<string, number>();
  readonly #targets = new Map<string, number>();
  readonly #owner: boolean;

  constructor(owner = true) {
    this.#owner = owner;
  }

  app(name: string): number {
    return this.#slot(this.#apps, name, MAX_APPS);
  }

  target(app: number, address: string): number {
    return this.#slot(this.#targets, `${app} ${address}`, MAX_TARGETS);
  }

  #slot(map: Map<string, number>, key: string, max: number): number {
    const known = map.get(key);
    if (known !== undefined) return known;
    if (!this.#owner || map.size >= max) return -1;
    map.set(key, map.size);
    return map.size - 1;
  }

  /** entries is what a worker needs to look up every slot handed out so far. */
  entries(): DirectoryEntries {
    return { apps: [...this.#apps], targets: [...this.#targets] };
  }

  /** load replaces a worker's copy. */
  load(e: DirectoryEntries): void {
    this.#apps.clear();
    this.#targets.clear();
    for (const [k, v] of e.apps) this.#apps.set(k, v);
    for (const [k, v] of e.targets) this.#targets.set(k, v);
  }
}

export interface DirectoryEntries {
  apps: [string, number][];
  targets: [string, number][];
}
