import { describe, expect, test } from "bun:test";
import { FakeClock } from "../helpers/fake-clock.ts";
import { coarse, Sweeper, type Sweepable } from "../../src/sys/sweeper.ts";

/** Deadline is done once a sweep sees `now >= at`; it records every sweep time. */
class Deadline implements Sweepable {
  readonly seen: number[] = [];
  constructor(readonly at: number) {}
  sweep(now: number): boolean {
    this.seen.push(now);
    return now >= this.at;
  }
}

describe("Sweeper", () => {
  test("the first add schedules one sweep a resolution later; later adds share it", () => {
    const clock = new FakeClock(1000);
    const s = new Sweeper(100, clock);
    expect(clock.dueTimes()).toEqual([]);
    s.add(new Deadline(5000));
    s.add(new Deadline(5000));
    expect(clock.dueTimes()).toEqual([1100]);
    expect(s.size).toBe(2);
  });

  test("items are swept each resolution until their sweep returns true", () => {
    const clock = new FakeClock();
    const s = new Sweeper(100, clock);
    const d = new Deadline(250);
    s.add(d);
    clock.advance(1000);
    expect(d.seen).toEqual([100, 200, 300]);
    expect(s.size).toBe(0);
  });

  test("each item is dropped on its own sweep; the timer runs while any is left", () => {
    const clock = new FakeClock();
    const s = new Sweeper(100, clock);
    const early = new Deadline(100);
    const late = new Deadline(300);
    s.add(early);
    s.add(late);
    clock.advance(100);
    expect([s.size, clock.dueTimes()]).toEqual([1, [200]]);
    clock.advance(200);
    expect(early.seen).toEqual([100]);
    expect(late.seen).toEqual([100, 200, 300]);
    expect([s.size, clock.dueTimes()]).toEqual([0, []]);
  });

  test("a deleted item is never swept, and an empty sweep stops the timer", () => {
    const clock = new FakeClock();
    const s = new Sweeper(100, clock);
    const d = new Deadline(1000);
    s.add(d);
    s.delete(d);
    expect(s.size).toBe(0);
    clock.advance(100);
    expect(d.seen).toEqual([]);
    expect(clock.dueTimes()).toEqual([]);
  });

  test("an add after the timer stopped starts it again", () => {
    const clock = new FakeClock();
    const s = new Sweeper(100, clock);
    s.add(new Deadline(0));
    clock.advance(500);
    expect(clock.dueTimes()).toEqual([]);
    const d = new Deadline(0);
    s.add(d);
    expect(clock.dueTimes()).toEqual([600]);
    clock.advance(100);
    expect(d.seen).toEqual([600]);
  });

  test("stop cancels the timer and forgets every item", () => {
    const clock = new FakeClock();
    const s = new Sweeper(100, clock);
    const d = new Deadline(1000);
    s.add(d);
    s.stop();
    expect([s.size, clock.dueTimes()]).toEqual([0, []]);
    clock.advance(1000);
    expect(d.seen).toEqual([]);
  });

  test("coarse.now follows the clock at the first add and at each sweep", () => {
    const clock = new FakeClock(5000);
    const s = new Sweeper(100, clock);
    s.add(new Deadline(5300));
    expect(coarse.now).toBe(5000);
    clock.advance(100);
    expect(coarse.now).toBe(5100);
    clock.advance(100);
    expect(coarse.now).toBe(5200);
    s.stop();
  });
});
