import { describe, expect, test } from "bun:test";
import { HIGH_WATER_MARK, Pipe, type SocketLike } from "../../src/datapath/pipe.ts";
import { Sweeper } from "../../src/sys/sweeper.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

/**
 * FakeSocket is a SocketLike whose write() returns scripted counts. A number
 * accepts at most that many bytes (0: none, -1: the socket is gone); once the
 * script runs out, every write is taken whole. Accepted bytes and every call
 * are recorded in order.
 */
class FakeSocket implements SocketLike {
  readonly script: number[];
  readonly calls: string[] = [];
  #written: number[] = [];

  constructor(...script: number[]) {
    this.script = script;
  }

  write(data: Uint8Array): number {
    const limit = this.script.length > 0 ? this.script.shift()! : data.length;
    const n = limit < 0 ? limit : Math.min(limit, data.length);
    this.calls.push(`write ${data.length} -> ${n}`);
    if (n > 0) this.#written.push(...data.subarray(0, n));
    return n;
  }
  shutdown(): void {
    this.calls.push("shutdown");
  }
  pause(): void {
    this.calls.push("pause");
  }
  resume(): void {
    this.calls.push("resume");
  }

  get written(): number[] {
    return this.#written;
  }
  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }
}

/** bytes makes a chunk of `n` bytes counting up from `from`, so order is visible. */
function bytes(from: number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
}

function range(from: number, n: number): number[] {
  return [...bytes(from, n)];
}

function pipe(dst: FakeSocket | null, highWater = 10): { p: Pipe; src: FakeSocket } {
  const src = new FakeSocket();
  const p = new Pipe(src, highWater);
  p.dst = dst;
  return { p, src };
}

describe("Pipe writes", () => {
  test("a write taken whole is not queued", () => {
    const dst = new FakeSocket();
    const { p } = pipe(dst);
    expect(p.push(bytes(0, 4))).toBe(true);
    expect([p.bytes, p.queued]).toEqual([4, 0]);
    expect(dst.written).toEqual(range(0, 4));
  });

  test("a partial write queues the tail, and drain sends it", () => {
    const dst = new FakeSocket(3);
    const { p } = pipe(dst);
    expect(p.push(bytes(0, 8))).toBe(true);
    expect([p.bytes, p.queued]).toEqual([3, 5]);
    expect(p.flush()).toBe(true);
    expect([p.bytes, p.queued]).toEqual([8, 0]);
    expect(dst.written).toEqual(range(0, 8));
  });

  test("a write of 0 queues the whole chunk", () => {
    const dst = new FakeSocket(0);
    const { p } = pipe(dst);
    p.push(bytes(0, 6));
    expect([p.bytes, p.queued]).toEqual([0, 6]);
    expect(dst.written).toEqual([]);
    p.flush();
    expect(dst.written).toEqual(range(0, 6));
  });

  test("while bytes are queued, new chunks queue behind them instead of jumping ahead", () => {
    const dst = new FakeSocket(2);
    const { p } = pipe(dst, 100);
    p.push(bytes(0, 5));
    p.push(bytes(5, 5));
    p.push(bytes(10, 5));
    // only the first push reached the socket
    expect(dst.calls).toEqual(["write 5 -> 2"]);
    expect(p.queued).toBe(13);
    p.flush();
    expect(dst.written).toEqual(range(0, 15));
  });

  test("a flush that is cut short keeps the rest in order for the next drain", () => {
    const dst = new FakeSocket(0, 1, 2, 0, 4, 0);
    const { p } = pipe(dst, 100);
    p.push(bytes(0, 3)); // 0: all 3 queued
    p.push(bytes(3, 3));
    p.push(bytes(6, 3));
    p.flush(); // 1 of [0..2], stop
    expect(dst.written).toEqual(range(0, 1));
    p.flush(); // 2 (rest of first chunk) then 0 of [3..5]
    expect(dst.written).toEqual(range(0, 3));
    expect(p.queued).toBe(6);
    p.flush(); // 4 of [3..5] is capped at 3, then 0 of [6..8]
    expect(dst.written).toEqual(range(0, 6));
    p.flush(); // script exhausted: all
    expect(dst.written).toEqual(range(0, 9));
    expect([p.bytes, p.queued]).toEqual([9, 0]);
  });

  test("the queue is reused once it empties", () => {
    const dst = new FakeSocket(0, 10, 0, 10);
    const { p } = pipe(dst, 100);
    p.push(bytes(0, 4));
    p.flush();
    p.push(bytes(4, 4));
    p.flush();
    expect(dst.written).toEqual(range(0, 8));
    expect(p.queued).toBe(0);
  });

  test("bytes pushed before dst exists wait and go out in order on the first flush", () => {
    const { p } = pipe(null, 100);
    expect(p.push(bytes(0, 3))).toBe(true);
    expect(p.push(bytes(3, 4))).toBe(true);
    expect(p.flush()).toBe(true);
    expect([p.bytes, p.queued]).toEqual([0, 7]);
    const dst = new FakeSocket();
    p.dst = dst;
    expect(p.flush()).toBe(true);
    expect(dst.written).toEqual(range(0, 7));
    expect([p.bytes, p.queued]).toEqual([7, 0]);
  });

  test("a write of -1 fails the pipe: push returns false and later pushes are dropped", () => {
    const dst = new FakeSocket(-1);
    const { p } = pipe(dst);
    expect(p.push(bytes(0, 4))).toBe(false);
    expect([p.failed, p.done, p.queued, p.bytes]).toEqual([true, true, 0, 0]);
    expect(p.push(bytes(4, 4))).toBe(false);
    expect(dst.calls).toEqual(["write 4 -> -1"]);
  });

  test("a flush that meets -1 fails the pipe and drops the queue", () => {
    const dst = new FakeSocket(0, 4, -1);
    const { p } = pipe(dst, 100);
    p.push(bytes(0, 4));
    p.push(bytes(4, 4));
    expect(p.flush()).toBe(false);
    expect([p.failed, p.queued, p.bytes]).toEqual([true, 0, 4]);
    expect(dst.written).toEqual(range(0, 4));
    expect(p.flush()).toBe(false);
  });

  test("the default high-water mark is 128 KiB", () => {
    expect(HIGH_WATER_MARK).toBe(128 * 1024);
    expect(new Pipe(null).highWater).toBe(HIGH_WATER_MARK);
  });
});

describe("Pipe backpressure", () => {
  test("the source is paused once the queue reaches the high-water mark, not before", () => {
    const dst = new FakeSocket(0, 0, 0);
    const { p, src } = pipe(dst, 10);
    p.push(bytes(0, 9));
    expect(src.calls).toEqual([]);
    p.push(bytes(9, 1));
    expect(src.calls).toEqual(["pause"]);
    expect(p.queued).toBe(10);
  });

  test("the source is paused once however much more arrives", () => {
    const dst = new FakeSocket(0);
    const { p, src } = pipe(dst, 10);
    p.push(bytes(0, 12));
    p.push(bytes(12, 5));
    p.push(bytes(17, 5));
    expect(src.count("pause")).toBe(1);
    expect(p.queued).toBe(22);
  });

  test("a partial write counts only the unsent tail towards the mark", () => {
    const dst = new FakeSocket(5);
    const { p, src } = pipe(dst, 10);
    p.push(bytes(0, 14)); // 9 queued
    expect(src.calls).toEqual([]);
  });

  test("the source resumes once the queue falls to half the mark, not above", () => {
    const dst = new FakeSocket(0, 5, 1);
    const { p, src } = pipe(dst, 10);
    p.push(bytes(0, 12)); // queued 12, paused
    p.flush(); // 5 sent: queued 7 > 5
    expect(src.calls).toEqual(["pause"]);
    p.flush(); // 1 sent: queued 6 > 5
    expect(p.queued).toBe(6);
    expect(src.calls).toEqual(["pause"]);
    p.flush(); // script exhausted: all sent
    expect(src.calls).toEqual(["pause", "resume"]);
    expect(dst.written).toEqual(range(0, 12));
  });

  test("resumes at exactly half the mark", () => {
    const dst = new FakeSocket(0, 5);
    const { p, src } = pipe(dst, 10);
    p.push(bytes(0, 10));
    p.flush(); // queued 5 = 10 >> 1
    expect(p.queued).toBe(5);
    expect(src.calls).toEqual(["pause", "resume"]);
  });

  test("pause and resume alternate over repeated fill and drain", () => {
    const dst = new FakeSocket(0, 0, 0, 100, 0);
    const { p, src } = pipe(dst, 4);
    p.push(bytes(0, 4)); // 0 taken: 4 queued, pause
    p.flush(); // 0 taken: still paused
    p.push(bytes(4, 2)); // queued behind: 6, already paused
    p.flush(); // 0 taken
    p.flush(); // all taken: resume
    p.push(bytes(6, 4)); // 0 taken: pause again
    p.flush(); // all taken: resume again
    expect(src.calls).toEqual(["pause", "resume", "pause", "resume"]);
    expect(dst.written).toEqual(range(0, 10));
  });

  test("a pipe without a source queues past the mark without pausing anything", () => {
    const p = new Pipe(null, 4);
    expect(p.push(bytes(0, 8))).toBe(true);
    expect(p.queued).toBe(8);
  });
});

describe("Pipe end of stream", () => {
  test("with nothing queued, end shuts dst at once", () => {
    const dst = new FakeSocket();
    const { p } = pipe(dst);
    p.push(bytes(0, 3));
    expect(p.done).toBe(false);
    p.end();
    expect(dst.calls).toEqual(["write 3 -> 3", "shutdown"]);
    expect([p.srcEnded, p.dstShut, p.done]).toEqual([true, true, true]);
  });

  test("the FIN waits for the queue to empty, then follows the last byte", () => {
    const dst = new FakeSocket(1, 1, 0);
    const { p } = pipe(dst, 100);
    p.push(bytes(0, 4)); // 1 sent, 3 queued
    p.end();
    expect(dst.count("shutdown")).toBe(0);
    expect(p.done).toBe(false);
    p.flush(); // 1 sent, 2 queued
    p.flush(); // 0 sent
    expect(dst.count("shutdown")).toBe(0);
    p.flush(); // all
    expect(dst.calls.at(-1)).toBe("shutdown");
    expect(dst.written).toEqual(range(0, 4));
    expect(p.done).toBe(true);
  });

  test("a FIN before dst exists is passed on after the first flush", () => {
    const { p } = pipe(null);
    p.push(bytes(0, 2));
    p.end();
    expect([p.srcEnded, p.dstShut]).toEqual([true, false]);
    const dst = new FakeSocket();
    p.dst = dst;
    p.flush();
    expect(dst.calls).toEqual(["write 2 -> 2", "shutdown"]);
  });

  test("a FIN with nothing sent before dst exists is passed on by the first flush", () => {
    const { p } = pipe(null);
    p.end();
    const dst = new FakeSocket();
    p.dst = dst;
    p.flush();
    expect(dst.calls).toEqual(["shutdown"]);
  });

  test("shutdown happens once, whatever is called after", () => {
    const dst = new FakeSocket();
    const { p } = pipe(dst);
    p.end();
    p.end();
    p.flush();
    p.flush();
    expect(dst.count("shutdown")).toBe(1);
  });

  test("end on a failed pipe never shuts dst: a cut stream gets no FIN", () => {
    const dst = new FakeSocket(-1);
    const { p } = pipe(dst);
    p.push(bytes(0, 2));
    p.end();
    p.flush();
    expect(dst.count("shutdown")).toBe(0);
  });
});

describe("Pipe.prepend (a PROXY header)", () => {
  test("the header goes out first, before what was queued, and is not counted as the source's bytes", () => {
    const { p } = pipe(null);
    expect(p.push(bytes(100, 4))).toBe(true);
    p.prepend(bytes(1, 3));
    const dst = new FakeSocket();
    p.dst = dst;
    expect(p.flush()).toBe(true);
    expect(dst.written).toEqual([...range(1, 3), ...range(100, 4)]);
    expect(p.bytes).toBe(4);
    expect(p.queued).toBe(0);
  });

  test("a header written in pieces is still left out of the count, and later pushes go straight through", () => {
    const { p } = pipe(null);
    p.prepend(bytes(1, 5));
    const dst = new FakeSocket(2, 2, 7);
    p.dst = dst;
    expect(p.flush()).toBe(true); // 2 of 5
    expect(p.bytes).toBe(0);
    expect(p.flush()).toBe(true); // 2 more, then the last 1
    expect(p.flush()).toBe(true);
    expect(p.bytes).toBe(0);
    expect(p.push(bytes(50, 3))).toBe(true);
    expect(p.bytes).toBe(3);
    expect(dst.written).toEqual([...range(1, 5), ...range(50, 3)]);
  });

  test("a failed header write is a failed pipe", () => {
    const { p } = pipe(null);
    p.prepend(bytes(1, 5));
    p.dst = new FakeSocket(-1);
    expect(p.flush()).toBe(false);
    expect(p.failed).toBe(true);
  });
});

describe("Pipe with a read cap (the source's receive buffer is capped)", () => {
  test("the source is paused before a read of the cap could carry the queue past the mark", () => {
    const dst = new FakeSocket(0, 0, 0, 0);
    const { p, src } = pipe(dst, 10);
    p.setReadCap(4); // pause at 6 queued: 6 - 1 + 4 never passes 10
    p.push(bytes(0, 4));
    expect(src.calls).toEqual([]);
    p.push(bytes(4, 2));
    expect(src.calls).toEqual(["pause"]);
    expect(p.queued).toBe(6);
  });

  test("a cap as large as the mark pauses the source at the first byte dst refuses, and resumes it only when empty", () => {
    const dst = new FakeSocket(3, 0, 4);
    const { p, src } = pipe(dst, 10);
    p.setReadCap(10);
    p.push(bytes(0, 10)); // 3 taken, 7 queued: paused
    expect(src.calls).toEqual(["pause"]);
    p.flush(); // 0 taken
    p.flush(); // 4 taken: 3 left, still paused
    expect([p.queued, src.count("resume")]).toEqual([3, 0]);
    p.flush(); // the rest
    expect([p.queued, src.calls.at(-1)]).toEqual([0, "resume"]);
    expect(dst.written).toEqual(range(0, 10));
  });

  test("with any sequence of reads no larger than the cap, the queue never passes the mark", () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let run = 0; run < 200; run++) {
      const mark = 4 + rand(60);
      const cap = 1 + rand(mark);
      const dst = new FakeSocket(...Array.from({ length: 400 }, () => rand(3) === 0 ? rand(cap * 2) : 0));
      const src = new FakeSocket();
      let paused = false;
      src.pause = () => void (paused = true);
      src.resume = () => void (paused = false);
      const p = new Pipe(src, mark);
      p.dst = dst;
      p.setReadCap(cap);
      let sent = 0;
      for (let step = 0; step < 300; step++) {
        if (!paused && rand(2) === 0) {
          const n = 1 + rand(cap);
          p.push(bytes(sent, n));
          sent += n;
        } else p.flush();
        expect(p.queued).toBeLessThanOrEqual(mark);
      }
    }
  });
});

describe("Pipe's held-bytes gauge", () => {
  test("follows the queue through push, prepend, flush and discard", () => {
    const dst = new FakeSocket(2, 0);
    const { p } = pipe(dst, 100);
    const gauge = new Float64Array(3);
    p.held = gauge;
    p.heldAt = 1;
    p.push(bytes(0, 8)); // 2 taken, 6 held
    expect(gauge[1]).toBe(6);
    p.prepend(bytes(0, 3));
    expect(gauge[1]).toBe(9);
    p.flush(); // 0 taken
    expect(gauge[1]).toBe(9);
    p.push(bytes(8, 5));
    expect(gauge[1]).toBe(14);
    p.discard();
    expect([gauge[1], p.queued, gauge[0], gauge[2]]).toEqual([0, 0, 0, 0]);
  });

  test("a failed write gives back everything held", () => {
    const dst = new FakeSocket(0, -1);
    const { p } = pipe(dst, 100);
    const gauge = new Float64Array(1);
    p.held = gauge;
    p.push(bytes(0, 8));
    expect(gauge[0]).toBe(8);
    expect(p.flush()).toBe(false);
    expect(gauge[0]).toBe(0);
  });
});

describe("Pipe compaction (a receiver that stalled)", () => {
  /** stalled: a 10-byte read (a Node Buffer, as Bun hands them) of which dst took 3: 7 bytes queued as a view. */
  function stalled() {
    const clock = new FakeClock();
    const stalls = new Sweeper(1000, clock);
    const dst = new FakeSocket(3);
    const { p, src } = pipe(dst, 4);
    p.stalls = stalls;
    const read = Buffer.from(bytes(0, 10));
    p.push(read);
    return { clock, stalls, dst, p, src, read };
  }

  test("a pause puts the pipe on the stall sweeper; the first sweep only remembers it, the second copies the queue out", () => {
    const { clock, stalls, dst, p, read } = stalled();
    expect(stalls.size).toBe(1);
    clock.advance(1000);
    expect(stalls.size).toBe(1);
    clock.advance(1000);
    expect(stalls.size).toBe(0);
    // The queue no longer shares the read's memory: what the read's buffer holds now does not reach dst.
    read.fill(0);
    p.flush();
    expect(dst.written).toEqual(range(0, 10));
    expect(p.queued).toBe(0);
  });

  test("before the second sweep the queue is still a view into the read (the flowing path copies nothing)", () => {
    const { clock, dst, p, read } = stalled();
    clock.advance(1000);
    read.fill(0);
    p.flush();
    expect(dst.written).toEqual([...range(0, 3), 0, 0, 0, 0, 0, 0, 0]);
  });

  test("compact keeps order and counts, and says how much buffer it let go", () => {
    const dst = new FakeSocket(3);
    const { p } = pipe(dst, 100);
    p.push(Buffer.from(bytes(0, 10))); // 7 queued: a view of 10
    p.push(Buffer.from(bytes(10, 5))); // a whole read: nothing to let go
    expect([p.compact(), p.queued, p.compact()]).toEqual([3, 12, 0]);
    p.flush();
    expect(dst.written).toEqual(range(0, 15));
  });

  test("a pipe that resumes before the second sweep leaves the sweeper uncompacted", () => {
    const { clock, stalls, dst, p, src, read } = stalled();
    clock.advance(1000);
    p.flush(); // everything taken: resumed
    expect(src.calls).toEqual(["pause", "resume"]);
    clock.advance(1000);
    expect(stalls.size).toBe(0);
    expect(dst.written).toEqual(range(0, 10));
    expect(read.length).toBe(10);
  });

  test("paused, resumed and paused again between two sweeps counts as a new pause: compaction waits one more sweep", () => {
    const clock = new FakeClock();
    const stalls = new Sweeper(1000, clock);
    const dst = new FakeSocket(3, 0, 7, 3);
    const { p, src } = pipe(dst, 4);
    p.stalls = stalls;
    const first = Buffer.from(bytes(0, 10));
    p.push(first); // 3 taken: paused
    clock.advance(1000); // this pause is remembered
    p.flush(); // 0 taken
    p.flush(); // the 7: resumed
    const second = Buffer.from(bytes(10, 10));
    p.push(second); // 3 taken: paused again
    expect(src.calls).toEqual(["pause", "resume", "pause"]);
    clock.advance(1000); // a different pause from the one remembered: not compacted yet
    second.fill(0);
    expect(stalls.size).toBe(1);
    second.set(bytes(10, 10));
    clock.advance(1000); // the same pause again: compacted
    expect(stalls.size).toBe(0);
    second.fill(0);
    p.flush();
    expect(dst.written).toEqual(range(0, 20));
  });

  test("a failed pipe leaves the sweeper at its next sweep", () => {
    const { clock, stalls, p } = stalled();
    p.dst = new FakeSocket(-1);
    expect(p.flush()).toBe(false);
    clock.advance(1000);
    expect(stalls.size).toBe(0);
  });
});
