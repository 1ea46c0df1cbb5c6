/**
 * @module pipe: moves bytes one way, from a source socket to a destination.
 *
 * Bun's write() takes what the kernel accepts and buffers nothing, so what is
 * left over waits here, in order. Past the high-water mark the source is
 * paused, which stops kernel reads and lets TCP push back on the sender; the
 * destination's `drain` flushes the queue and resumes the source. A session's
 * memory is therefore bounded by two high-water marks plus one read each way,
 * however fast either peer sends.
 *
 * When the largest read from the source is known (`readCap`: the session
 * capped the source socket's kernel receive buffer), the source is paused
 * before the read that could carry the queue past the mark, so the queue
 * never holds more than `highWater` bytes. Without it a read can be as large
 * as Bun's 512 KiB and the bound is the mark plus that read.
 *
 * A queued tail is usually a view into the read it came from, which keeps the
 * whole read alive. A pipe that stays paused across two sweeps of `stalls` (a
 * receiver that stopped reading, not one that is merely slower) copies each
 * such view into a buffer of its own size, so a stalled session holds its
 * queued bytes and no more; see compact().
 */
import { released } from "../sys/heap.ts";
import type { Sweepable, Sweeper } from "../sys/sweeper.ts";

/** SocketLike is the part of a Bun socket a Pipe uses; tests can pass fakes. */
export interface SocketLike {
  write(data: Uint8Array): number;
  shutdown(halfClose?: boolean): void;
  pause(): void;
  resume(): void;
}

/** HIGH_WATER_MARK is the default queued byte count at which the source is paused. */
export const HIGH_WATER_MARK = 128 * 1024;

const EMPTY = new Uint8Array(0);

/** Pipe is one direction of a session. `dst` is null while the upstream is still being dialled. */
export class Pipe implements Sweepable {
  dst: SocketLike | null = null;
  /** bytes written to dst so far. */
  bytes = 0;
  /** a counter on the board that every byte counted in `bytes` is added to as well (the app's total), or null. */
  tally: Float64Array | null = null;
  tallyAt = 0;
  /** bytes read from src and not yet taken by dst. */
  queued = 0;
  /** a gauge (the app's bytes held in queues, one direction) that follows `queued`, or null. */
  held: Float64Array | null = null;
  heldAt = 0;
  /** the queue length at which src is paused: highWater less the largest read src can deliver (see setReadCap). */
  #pauseAt: number;
  /** the queue length at which a paused src is resumed: half the mark, so src refills while dst still has work, unless a read could then carry the queue past the mark. */
  #resumeAt: number;
  /** the source sent FIN (or closed cleanly): nothing more will be pushed. */
  srcEnded = false;
  /** the FIN has been passed on: dst's write side is shut. */
  dstShut = false;
  /** a write to dst failed (it was reset or closed under us): the stream is cut, never to be ended cleanly. */
  failed = false;
  #queue: Uint8Array[] | null = null;
  #head = 0;
  #paused = false;
  /** bytes at the front of the queue that are ours (a PROXY header), not the source's: written but not counted. */
  #overhead = 0;
  /** the sweeper that finds pipes paused for long (the app's), or null: queues are then never compacted. */
  stalls: Sweeper | null = null;
  /** counts pauses, so a sweep can tell one long pause from several short ones. */
  #pauses = 0;
  /** the pause the previous sweep saw, or -1. */
  #seen = -1;

  constructor(
    public src: SocketLike | null,
    readonly highWater = HIGH_WATER_MARK,
  ) {
    this.#pauseAt = highWater;
    this.#resumeAt = highWater >> 1;
  }

  /**
   * setReadCap tells the pipe that no read from src is larger than `bytes`,
   * so pausing once the queue passes `highWater - bytes` keeps it at or under
   * `highWater` (and with a cap as large as the mark, src is paused as soon as
   * dst pushes back at all).
   */
  setReadCap(bytes: number): void {
    this.#pauseAt = Math.max(1, this.highWater - bytes);
    this.#resumeAt = Math.min(this.highWater >> 1, this.#pauseAt - 1);
  }

  /** done is true once this direction needs nothing more: its FIN passed on, or its stream cut. */
  get done(): boolean {
    return this.dstShut || this.failed;
  }

  /** push forwards a chunk read from src. It returns false when a write to dst failed: the caller must reset. */
  push(chunk: Uint8Array): boolean {
    if (this.failed) return false;
    const dst = this.dst;
    if (this.queued === 0 && dst !== null) {
      const n = dst.write(chunk);
      if (n === chunk.length) {
        this.#count(n);
        return true;
      }
      if (n < 0) return this.#fail();
      this.#count(n);
      // A view, no copy: Bun hands each data call a fresh buffer. It pins the whole read, which matters only
      // if dst stays stalled, and then compact() copies it out.
      chunk = chunk.subarray(n);
    }
    (this.#queue ??= []).push(chunk);
    this.#hold(chunk.length);
    if (!this.#paused && this.queued >= this.#pauseAt && this.src !== null) {
      this.#paused = true;
      this.#pauses++;
      this.src.pause();
      this.stalls?.add(this);
    }
    return true;
  }

  /**
   * sweep runs once a sweep interval while this pipe is paused. The first
   * sweep that sees a pause remembers it; if the next one finds the same pause
   * still on, the receiver has stalled and the queue is compacted. It returns
   * true (drop me) once the pipe has resumed or been compacted.
   */
  sweep(): boolean {
    if (!this.#paused || this.failed) return true;
    if (this.#seen !== this.#pauses) {
      this.#seen = this.#pauses;
      return false;
    }
    released(this.compact());
    return true;
  }

  /**
   * compact copies every queued chunk that is a view into a larger buffer
   * into one of its own size, and returns how many bytes of buffers that lets
   * go. Order and byte counts are unchanged. It costs one copy of what is
   * queued, so it is for stalled pipes only, never the flowing path.
   */
  compact(): number {
    const q = this.#queue;
    if (q === null) return 0;
    let freed = 0;
    for (let i = this.#head; i < q.length; i++) {
      const c = q[i]!;
      const spare = c.buffer.byteLength - c.byteLength;
      if (spare > 0) {
        q[i] = own(c);
        freed += spare;
      }
    }
    return freed;
  }

  /**
   * prepend puts `header` before everything queued, so it is the first thing
   * dst receives. Its bytes are written like any others but not counted in
   * `bytes`, which stays what the source sent.
   */
  prepend(header: Uint8Array): void {
    const q = (this.#queue ??= []);
    if (this.#head > 0) q[--this.#head] = header;
    else q.unshift(header);
    this.#hold(header.length);
    this.#overhead += header.length;
  }

  /** flush writes what is queued, on connect or on dst's drain. It returns false when a write to dst failed. */
  flush(): boolean {
    const dst = this.dst;
    if (dst === null || this.failed) return !this.failed;
    const q = this.#queue;
    if (q !== null) {
      while (this.#head < q.length) {
        const c = q[this.#head]!;
        const n = dst.write(c);
        if (n < 0) return this.#fail();
        this.#hold(-n);
        if (this.#overhead > 0) {
          const ours = Math.min(n, this.#overhead);
          this.#overhead -= ours;
          this.#count(n - ours);
        } else this.#count(n);
        if (n < c.length) {
          q[this.#head] = c.subarray(n);
          break;
        }
        // Drop the reference now: a long queue would otherwise pin every chunk until it empties.
        q[this.#head++] = EMPTY;
      }
      if (this.#head === q.length) {
        q.length = 0;
        this.#head = 0;
      }
    }
    if (this.#paused && this.queued <= this.#resumeAt && this.src !== null) {
      this.#paused = false;
      this.src.resume();
    }
    if (this.queued === 0 && this.srcEnded) this.#shutDst();
    return true;
  }

  /**
   * end records the source's FIN; it is passed on once the queue is empty.
   * `closing` says the session closes dst as soon as this direction is done,
   * so with nothing queued the FIN is left to that close: one syscall fewer
   * per connection on the accept-heavy path.
   */
  end(closing = false): void {
    if (this.srcEnded) return;
    this.srcEnded = true;
    if (this.queued !== 0 || this.failed) return;
    if (closing) this.dstShut = true;
    else if (this.dst !== null) this.#shutDst();
  }

  /** discard drops what is queued: the session is closing and nothing more will be written. */
  discard(): void {
    this.#queue = null;
    this.#head = 0;
    this.#hold(-this.queued);
  }

  #hold(n: number): void {
    this.queued += n;
    if (this.held !== null) this.held[this.heldAt]! += n;
  }

  #count(n: number): void {
    this.bytes += n;
    if (this.tally !== null) this.tally[this.tallyAt]! += n;
  }

  #shutDst(): void {
    if (this.dstShut) return;
    this.dstShut = true;
    this.dst!.shutdown();
  }

  #fail(): false {
    this.failed = true;
    this.discard();
    return false;
  }
}

/**
 * own is a copy of `view` in a buffer of its own size. Not view.slice():
 * Bun's reads are Node Buffers, whose slice() is a view like subarray().
 */
function own(view: Uint8Array): Uint8Array {
  return new Uint8Array(view);
}
