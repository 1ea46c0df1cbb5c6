import { expect, test } from "bun:test";
import { COLLECT_AFTER_BYTES, released } from "../../src/sys/heap.ts";

test("released schedules one collection once a thread has let go of enough, however many report before it runs", () => {
  const half = COLLECT_AFTER_BYTES / 2;
  expect([released(half - 1), released(half), released(half), released(COLLECT_AFTER_BYTES)]).toEqual([false, true, false, false]);
});
