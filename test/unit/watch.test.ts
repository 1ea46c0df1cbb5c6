/** The config watch's debounce rule, on a fake clock. */
import { expect, test } from "bun:test";
import { Debouncer } from "../../src/control/watch.ts";

function fakeClock() {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout: ((fn: () => void, ms: number) => {
      timers.set(++seq, { at: now + ms, fn });
      return seq;
    }) as unknown as typeof setTimeout,
    clearTimeout: ((id: number) => void timers.delete(id)) as unknown as typeof clearTimeout,
    advance(ms: number) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now) {
          timers.delete(id);
          t.fn();
        }
      }
    },
  };
}

test("a burst of events fires once, after the directory has been quiet for the wait", () => {
  const clock = fakeClock();
  let fired = 0;
  const d = new Debouncer(250, () => fired++, clock);
  for (let i = 0; i < 10; i++) {
    d.poke();
    clock.advance(100);
  }
  expect(fired).toBe(0);
  clock.advance(149);
  expect(fired).toBe(0);
  clock.advance(1);
  expect(fired).toBe(1);
  clock.advance(10_000);
  expect(fired).toBe(1);
});

test("events after a fire fire again; cancel drops a pending one", () => {
  const clock = fakeClock();
  let fired = 0;
  const d = new Debouncer(250, () => fired++, clock);
  d.poke();
  clock.advance(250);
  d.poke();
  clock.advance(250);
  expect(fired).toBe(2);
  d.poke();
  d.cancel();
  clock.advance(1000);
  expect(fired).toBe(2);
});
