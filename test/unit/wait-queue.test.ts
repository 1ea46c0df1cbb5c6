/** The wait queue on its own: order, skipping closed items, expiry by the earliest deadline. */
import { expect, test } from "bun:test";
import { WaitQueue } from "../../src/sys/wait-queue.ts";

type Item = { id: string; closed: boolean };
const item = (id: string): Item => ({ id, closed: false });

test("serve takes ready items oldest first, skips closed ones and keeps the rest waiting", () => {
  const q = new WaitQueue<Item>(() => {});
  const [a, b, c, d] = ["a", "b", "c", "d"].map(item) as [Item, Item, Item, Item];
  for (const x of [a, b, c, d]) q.add(x, 60_000);
  b.closed = true;
  const taken: string[] = [];
  q.serve((x) => x !== c, (x) => taken.push(x.id));
  expect(taken).toEqual(["a", "d"]);
  expect(q.size).toBe(1);
  expect(q.drain()).toEqual([c]);
  expect(q.size).toBe(0);
});

test("an item still open at its deadline is expired; a later, shorter wait expires first", async () => {
  const expired: string[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  const q = new WaitQueue<Item>((x) => {
    expired.push(x.id);
    if (expired.length === 2) resolve();
  });
  const slow = item("slow");
  const fast = item("fast");
  const gone = item("gone");
  q.add(slow, 200);
  q.add(gone, 1);
  q.add(fast, 20);
  gone.closed = true;
  await promise;
  expect(expired).toEqual(["fast", "slow"]);
  expect(q.size).toBe(0);
});
