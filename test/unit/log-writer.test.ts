import { describe, expect, test } from "bun:test";
import { LineQueue, type FdLike } from "../../src/sys/log-writer.ts";

/** FakeFd takes up to `room` bytes, then answers -1 (EAGAIN) until a reader frees room; `dead` makes writes throw (EPIPE). */
class FakeFd implements FdLike {
  room: number;
  dead = false;
  got = "";
  writes = 0;
  constructor(room = Infinity) {
    this.room = room;
  }
  write(b: Uint8Array): number {
    this.writes++;
    if (this.dead) throw Object.assign(new Error("EPIPE"), { code: "EPIPE" });
    if (this.room <= 0) return -1;
    const n = Math.min(this.room, b.length);
    this.got += new TextDecoder().decode(b.subarray(0, n));
    this.room -= n;
    return n;
  }
  /** read frees the room a reader makes. */
  read(n: number): void {
    this.room += n;
  }
}

/** rig: a queue on a FakeFd whose retries only run when the test calls tick(). */
function rig(room: number, capBytes = 100) {
  const fd = new FakeFd(room);
  const timers: (() => void)[] = [];
  const q = new LineQueue(fd, { capBytes, schedule: (fn) => void timers.push(fn), notice: (n) => `dropped ${n}\n` });
  const tick = () => {
    for (const fn of timers.splice(0)) fn();
  };
  return { fd, q, tick, timers };
}

describe("LineQueue", () => {
  test("writes straight through while the fd takes everything", () => {
    const { fd, q, timers } = rig(Infinity);
    q.write("a\n");
    q.write("b\n");
    expect(fd.got).toBe("a\nb\n");
    expect(q.pending).toBe(0);
    expect(timers.length).toBe(0);
  });

  test("keeps the rest of a short write and sends it, in order, once the fd has room", () => {
    const { fd, q, tick } = rig(3);
    q.write("hello\n");
    q.write("world\n");
    expect(fd.got).toBe("hel");
    expect(q.pending).toBe(9);
    fd.read(100);
    tick();
    expect(fd.got).toBe("hello\nworld\n");
    expect(q.pending).toBe(0);
  });

  test("never calls the fd again for a line while older lines wait", () => {
    const { fd, q } = rig(0);
    q.write("one\n");
    const before = fd.writes;
    q.write("two\n");
    expect(fd.writes).toBe(before);
  });

  test("past the cap whole lines are dropped and counted, and one notice follows the drain", () => {
    const { fd, q, tick } = rig(0, 20);
    for (let i = 0; i < 10; i++) q.write(`line ${i}\n`); // 7 bytes each: 2 fit the 20-byte cap
    expect(q.dropped).toBe(8);
    expect(q.pending).toBe(14);
    fd.read(1000);
    tick();
    expect(fd.got).toBe("line 0\nline 1\ndropped 8\n");
    expect(q.dropped).toBe(8);
    // Later lines flow again, with no second notice.
    q.write("line 10\n");
    expect(fd.got).toBe("line 0\nline 1\ndropped 8\nline 10\n");
  });

  test("memory stays bounded however many lines a stuck reader leaves behind", () => {
    const { q } = rig(0, 1000);
    for (let i = 0; i < 100_000; i++) q.write(`connection ${i} closed\n`);
    expect(q.pending).toBeLessThanOrEqual(1000);
    expect(q.dropped).toBeGreaterThan(99_000);
  });

  test("keeps retrying while a backlog or an unreported drop remains", () => {
    const { fd, q, tick, timers } = rig(0, 10);
    q.write("aaaa\n");
    q.write("bbbbbbbb\n"); // over the cap: dropped
    expect(timers.length).toBe(1);
    tick();
    expect(timers.length).toBe(1); // still nothing written: armed again
    fd.read(5);
    tick();
    expect(fd.got).toBe("aaaa\n");
    expect(timers.length).toBe(1); // the notice is still owed
    fd.read(100);
    tick();
    expect(fd.got).toBe("aaaa\ndropped 1\n");
    expect(timers.length).toBe(0);
  });

  test("a failed fd (EPIPE) drops what is queued and does not throw", () => {
    const { fd, q, tick } = rig(2);
    q.write("abcdef\n");
    fd.dead = true;
    expect(() => q.write("x\n")).not.toThrow();
    tick();
    expect(q.pending).toBe(0);
    expect(q.dropped).toBeGreaterThan(0);
  });

  test("flushSync retries until the queue is empty, within its time bound", () => {
    const { fd, q } = rig(0);
    q.write("bye\n");
    let now = 0;
    // A reader frees room after 3 ms of sleeping.
    const ok = q.flushSync(100, () => now, (ms) => {
      now += ms;
      if (now === 3) fd.read(100);
    });
    expect(ok).toBe(true);
    expect(fd.got).toBe("bye\n");
  });

  test("flushSync gives up at its deadline when nobody reads", () => {
    const { q } = rig(0);
    q.write("bye\n");
    let now = 0;
    expect(q.flushSync(50, () => now, (ms) => void (now += ms))).toBe(false);
    expect(now).toBe(50);
  });
});
