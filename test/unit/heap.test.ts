import { expect, test } from "bun:test";
import { collectSoon } from "../../src/sys/heap.ts";

test("collectSoon schedules one collection however many ask before it runs", () => {
  const first = collectSoon();
  expect([first, collectSoon(), collectSoon()]).toEqual([true, false, false]);
});
