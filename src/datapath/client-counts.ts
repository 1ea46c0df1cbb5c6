/**
 * @module client-counts: open connections per (app, client IP), for
 * max_connections_per_client. With one worker thread a Map does; with
 * several, the count must be one for the process or a client could open the
 * limit once per thread, so it is a hash table in a SharedArrayBuffer that
 * every worker locks briefly (a spin lock around a few array reads: no
 * message, no allocation per connection).
 *
 * take() checks and counts in one step, so two threads can never both let
 * in a client's last allowed connection.
 */
import { clientIp } from "../net/acl.ts";

export interface ClientCounts {
  /** take counts one more connection of `ip` to app `app` unless it already has `max`; false: refuse it. */
  take(app: number, ip: string, max: number): boolean;
  /** release gives back a connection take() counted. */
  release(app: number, ip: string): void;
  /** open is the count of `ip` at `app` now. */
  open(app: number, ip: string): number;
}

/** LocalClientCounts is the one-thread table. */
export class LocalClientCounts implements ClientCounts {
  readonly #m = new Map<string, number>();

  take(app: number, ip: string, max: number): boolean {
    const k = `${app} ${ip}`;
    const n = this.#m.get(k) ?? 0;
    if (n >= max) return false;
    this.#m.set(k, n + 1);
    return true;
  }

  release(app: number, ip: string): void {
    const k = `${app} ${ip}`;
    const n = (this.#m.get(k) ?? 1) - 1;
    if (n > 0) this.#m.set(k, n);
    else this.#m.delete(k);
  }

  open(app: number, ip: string): number {
    return this.#m.get(`${app} ${ip}`) ?? 0;
  }
}

/** Entry layout: four words of the IPv6 (or v4-mapped) address, the app slot, the count, then each worker's share of it. */
const KEY_WORDS = 6;
const APP = 4;
const COUNT = 5;
/** an entry never used ends a probe; one whose count fell to 0 is a tombstone that take() may reuse. */
const EMPTY = -1;
/** the lock word, the count of entries ever used (live or tombstone) and the worker count, before the entries. */
const LOCK = 0;
const USED = 1;
const WORKERS = 2;
const HEADER = 3;

/** SHARED_CLIENT_ENTRIES bounds the distinct (app, client) pairs with open connections at once. */
export const SHARED_CLIENT_ENTRIES = 1 << 16;

/**
 * SharedClientCounts is the table every worker thread shares. Open
 * addressing with linear probing; at 3/4 of the entries used (tombstones
 * included) it is rebuilt in place under the lock. When full of live
 * entries a new client is let in uncounted (`overflowed` says how often):
 * refusing clients for want of table space would be worse than a limit
 * that is briefly not applied.
 */
export class SharedClientCounts implements ClientCounts {
  readonly #a: Int32Array;
  readonly #mask: number;
  /** words per entry. */
  readonly #words: number;
  /** where this worker's share sits in an entry. */
  readonly #mine: number;
  overflowed = 0;
  readonly #key = new Int32Array(4);

  /** `buffer` from allocate(); `worker` is the row this thread counts in (0: the main thread). */
  constructor(
    readonly buffer: SharedArrayBuffer = SharedClientCounts.allocate(1),
    worker = 0,
  ) {
    this.#a = new Int32Array(buffer);
    this.#words = KEY_WORDS + this.#a[WORKERS]!;
    this.#mask = (this.#a.length - HEADER) / this.#words - 1;
    this.#mine = KEY_WORDS + worker;
  }

  /** allocate makes a table for `workers` threads of `entries` (a power of two) with every entry empty. */
  static allocate(workers: number, entries = SHARED_CLIENT_ENTRIES): SharedArrayBuffer {
    const words = KEY_WORDS + workers;
    const buf = new SharedArrayBuffer((HEADER + entries * words) * 4);
    const a = new Int32Array(buf);
    a[WORKERS] = workers;
    for (let i = 0; i < entries; i++) a[HEADER + i * words + APP] = EMPTY;
    return buf;
  }

  /** reclaim takes the share of `worker`, which died with its sessions, out of every count. */
  reclaim(worker: number): void {
    this.#locked(() => {
      const a = this.#a;
      for (let i = 0; i <= this.#mask; i++) {
        const at = HEADER + i * this.#words;
        const share = a[at + KEY_WORDS + worker]!;
        if (a[at + APP]! === EMPTY || share === 0) continue;
        a[at + COUNT]! -= share;
        a[at + KEY_WORDS + worker] = 0;
      }
    });
  }

  take(app: number, ip: string, max: number): boolean {
    return this.#locked(() => {
      const at = this.#find(app, ip, true);
      if (at < 0) {
        this.overflowed++;
        return true;
      }
      const a = this.#a;
      if (a[at + COUNT]! >= max) return false;
      a[at + COUNT]!++;
      a[at + this.#mine]!++;
      return true;
    });
  }

  release(app: number, ip: string): void {
    this.#locked(() => {
      const at = this.#find(app, ip, false);
      // Only what this thread counted: a count reclaimed from a dead worker is never taken twice.
      if (at >= 0 && this.#a[at + this.#mine]! > 0) {
        this.#a[at + COUNT]!--;
        this.#a[at + this.#mine]!--;
      }
    });
  }

  open(app: number, ip: string): number {
    return this.#locked(() => {
      const at = this.#find(app, ip, false);
      return at < 0 ? 0 : this.#a[at + COUNT]!;
    });
  }

  #locked<T>(f: () => T): T {
    const a = this.#a;
    // Held for a probe of a few entries; a rebuild (rare) holds it longer.
    while (Atomics.compareExchange(a, LOCK, 0, 1) !== 0);
    try {
      return f();
    } finally {
      Atomics.store(a, LOCK, 0);
    }
  }

  /** #find returns the index of the entry of (app, ip); with `insert`, one is made; -1: absent (or no room). */
  #find(app: number, ip: string, insert: boolean): number {
    const k = this.#key;
    keyOf(ip, k);
    const a = this.#a;
    let h = Math.imul(k[0]! ^ Math.imul(k[1]!, 0x9e3779b1) ^ Math.imul(k[2]!, 0x85ebca6b) ^ Math.imul(k[3]!, 0xc2b2ae35) ^ app, 0x27d4eb2f);
    h ^= h >>> 15;
    let tomb = -1;
    for (let probe = 0; probe <= this.#mask; probe++) {
      const at = HEADER + ((h + probe) & this.#mask) * this.#words;
      const owner = a[at + APP]!;
      if (owner === EMPTY) {
        if (!insert) return -1;
        if (tomb >= 0) return this.#claim(tomb, app);
        if ((a[USED]! + 1) * 4 > (this.#mask + 1) * 3) {
          // Too few never-used entries left for short probes: rebuild, then look again.
          if (!this.#rebuild()) return -1;
          return this.#find(app, ip, insert);
        }
        a[USED]!++;
        return this.#claim(at, app);
      }
      if (owner === app && a[at]! === k[0] && a[at + 1]! === k[1] && a[at + 2]! === k[2] && a[at + 3]! === k[3]) return at;
      if (tomb < 0 && a[at + COUNT]! === 0) tomb = at;
    }
    return insert && tomb >= 0 ? this.#claim(tomb, app) : -1;
  }

  #claim(at: number, app: number): number {
    const a = this.#a;
    const k = this.#key;
    a[at] = k[0]!;
    a[at + 1] = k[1]!;
    a[at + 2] = k[2]!;
    a[at + 3] = k[3]!;
    a[at + APP] = app;
    a.fill(0, at + COUNT, at + this.#words);
    return at;
  }

  /** #rebuild drops the tombstones and places the live entries again; false when the live ones alone fill 3/4. */
  #rebuild(): boolean {
    const a = this.#a;
    const live: Int32Array[] = [];
    for (let i = 0; i <= this.#mask; i++) {
      const at = HEADER + i * this.#words;
      if (a[at + APP]! !== EMPTY && a[at + COUNT]! > 0) live.push(a.slice(at, at + this.#words));
      a[at + APP] = EMPTY;
    }
    a[USED] = 0;
    if ((live.length + 1) * 4 > (this.#mask + 1) * 3) {
      for (const e of live) this.#place(e);
      return false;
    }
    for (const e of live) this.#place(e);
    return true;
  }

  #place(e: Int32Array): void {
    const a = this.#a;
    let h = Math.imul(e[0]! ^ Math.imul(e[1]!, 0x9e3779b1) ^ Math.imul(e[2]!, 0x85ebca6b) ^ Math.imul(e[3]!, 0xc2b2ae35) ^ e[APP]!, 0x27d4eb2f);
    h ^= h >>> 15;
    for (let probe = 0; ; probe++) {
      const at = HEADER + ((h + probe) & this.#mask) * this.#words;
      if (a[at + APP]! === EMPTY) {
        a.set(e, at);
        a[USED]!++;
        return;
      }
    }
  }
}

/** keyOf writes `ip` as four 32-bit words of its IPv6 form (IPv4 as ::ffff:a.b.c.d); an unparsable text hashes its characters. */
function keyOf(ip: string, out: Int32Array): void {
  const c = clientIp(ip);
  if (c === undefined) {
    let h = 0;
    for (let i = 0; i < ip.length; i++) h = Math.imul(h ^ ip.charCodeAt(i), 0x01000193);
    out.set([-1, -1, -1, h]);
  } else if (c.v === 4) {
    out.set([0, 0, 0xffff, c.n | 0]);
  } else {
    const n = c.n;
    out.set([Number((n >> 96n) & 0xffffffffn) | 0, Number((n >> 64n) & 0xffffffffn) | 0, Number((n >> 32n) & 0xffffffffn) | 0, Number(n & 0xffffffffn) | 0]);
  }
}
