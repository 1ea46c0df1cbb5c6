import { expect, test } from "bun:test";
import { RateLimitedLog } from "../../src/sys/rate-limit.ts";

test("one line per interval, the next says how many were held back", () => {
  let now = 0;
  const out: string[] = [];
  const r = new RateLimitedLog(1000, (l) => void out.push(l), () => now);
  expect(r.log("a")).toBe(true);
  for (let i = 0; i < 5; i++) r.log("a");
  now = 999;
  r.log("a");
  now = 1000;
  r.log("b");
  expect(out).toEqual(["a", "b (+6 similar)"]);
});

test("two limiters do not share a budget: a flood of one kind leaves the other visible", () => {
  let now = 0;
  const out: string[] = [];
  const dial = new RateLimitedLog(1000, (l) => void out.push(l), () => now);
  const noTarget = new RateLimitedLog(1000, (l) => void out.push(l), () => now);
  for (let i = 0; i < 30; i++) {
    dial.log("dial to 127.0.0.1:1 failed: ECONNREFUSED");
    noTarget.log("client closed: no target reachable (1 tried)");
    now += 10;
  }
  expect(out).toEqual(["dial to 127.0.0.1:1 failed: ECONNREFUSED", "client closed: no target reachable (1 tried)"]);
});
