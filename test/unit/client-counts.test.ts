/**
 * Per-client connection counts: the Map of one thread and the shared table
 * of several, driven side by side with the same operations.
 */
import { describe, expect, test } from "bun:test";
import { LocalClientCounts, SharedClientCounts, type ClientCounts } from "../../src/datapath/client-counts.ts";

const kinds: [string, () => ClientCounts][] = [
  ["local", () => new LocalClientCounts()],
  ["shared", () => new SharedClientCounts(SharedClientCounts.allocate(2, 64))],
];

for (const [name, make] of kinds) {
  describe(`${name} counts`, () => {
    test("take stops at max per (app, client), release gives back", () => {
      const c = make();
      expect([c.take(0, "10.0.0.1", 2), c.take(0, "10.0.0.1", 2), c.take(0, "10.0.0.1", 2)]).toEqual([true, true, false]);
      // Another app, another client: counted apart.
      expect([c.take(1, "10.0.0.1", 2), c.take(0, "10.0.0.2", 2)]).toEqual([true, true]);
      c.release(0, "10.0.0.1");
      expect([c.open(0, "10.0.0.1"), c.take(0, "10.0.0.1", 2), c.take(0, "10.0.0.1", 2)]).toEqual([1, true, false]);
    });

    test("IPv6 and v4-mapped addresses", () => {
      const c = make();
      expect(c.take(0, "2001:db8::1", 1)).toBe(true);
      expect(c.take(0, "2001:db8::1", 1)).toBe(false);
      expect(c.take(0, "2001:db8::2", 1)).toBe(true);
      c.release(0, "2001:db8::1");
      expect(c.open(0, "2001:db8::1")).toBe(0);
    });
  });
}

describe("shared table", () => {
  test("two workers count one limit; each releases only its own", () => {
    const buf = SharedClientCounts.allocate(2, 64);
    const [w0, w1] = [new SharedClientCounts(buf, 0), new SharedClientCounts(buf, 1)];
    expect([w0.take(3, "127.0.0.1", 3), w1.take(3, "127.0.0.1", 3), w1.take(3, "127.0.0.1", 3), w0.take(3, "127.0.0.1", 3)]).toEqual([true, true, true, false]);
    w0.release(3, "127.0.0.1");
    w0.release(3, "127.0.0.1");
    expect(w1.open(3, "127.0.0.1")).toBe(2);
  });

  test("reclaim takes a dead worker's connections off every client", () => {
    const buf = SharedClientCounts.allocate(2, 64);
    const [w0, w1] = [new SharedClientCounts(buf, 0), new SharedClientCounts(buf, 1)];
    w0.take(0, "10.0.0.1", 9);
    w1.take(0, "10.0.0.1", 9);
    w1.take(0, "10.0.0.2", 9);
    w0.reclaim(1);
    expect([w0.open(0, "10.0.0.1"), w0.open(0, "10.0.0.2")]).toEqual([1, 0]);
  });

  test("churn through many more clients than entries: tombstones are reused and the table rebuilt", () => {
    const c = new SharedClientCounts(SharedClientCounts.allocate(1, 64));
    for (let i = 0; i < 5000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      expect(c.take(0, ip, 1)).toBe(true);
      // Keep about 20 live at a time.
      if (i >= 20) {
        const j = i - 20;
        c.release(0, `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`);
      }
    }
    expect(c.overflowed).toBe(0);
    expect(c.open(0, "10.0.19.135")).toBe(1);
    expect(c.open(0, "10.0.0.1")).toBe(0);
  });

  test("a table full of live clients lets a new one in uncounted, and says so", () => {
    const c = new SharedClientCounts(SharedClientCounts.allocate(1, 16));
    let refused = 0;
    for (let i = 0; i < 40; i++) if (!c.take(0, `10.0.0.${i}`, 1)) refused++;
    expect(refused).toBe(0);
    expect(c.overflowed).toBeGreaterThan(0);
    // Those counted still are.
    expect(c.take(0, "10.0.0.0", 1)).toBe(false);
  });
});
