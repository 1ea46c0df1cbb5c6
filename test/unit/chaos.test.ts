/**
 * The chaos suite's judge must itself be right: a receiver that missed a
 * truncation or a corrupt byte would make every chaos row a false pass.
 */
import { describe, expect, test } from "bun:test";
import { classify, header, HEADER, prng, Receiver, slice } from "../../scripts/chaos/pattern.ts";
import { End } from "../../scripts/chaos/endpoint.ts";
import { badOutcomes, markdown, passed, runStreams, tally, total, type Row } from "../../scripts/chaos/tally.ts";

function stream(id: number, declared: number): Buffer {
  return Buffer.concat([header(id, declared), slice(id, 0, declared)]);
}

/** feed splits `b` into chunks of seeded random sizes, as a socket would. */
function feed(r: Receiver, b: Buffer, seed = 1): void {
  const rand = prng(seed);
  for (let off = 0; off < b.length; ) {
    const n = Math.min(b.length - off, 1 + Math.floor(rand() * 70_000));
    r.push(b.subarray(off, off + n));
    off += n;
  }
}

describe("classify", () => {
  test.each([
    [10, 10, false, "fin", "ok"],
    [10, 9, false, "fin", "truncated"],
    [0, 0, false, "fin", "ok"],
    [-1, 0, false, "fin", "truncated"],
    [10, 3, false, "reset", "reset"],
    [10, 10, false, "reset", "reset"],
    [10, 10, true, "fin", "corrupt"],
    [10, 3, true, "reset", "corrupt"],
  ] as const)("declared %d, got %d, corrupt %p, %s → %s", (declared, got, corrupt, ending, want) => {
    expect(classify(declared, got, corrupt, ending)).toBe(want);
  });
});

describe("Receiver", () => {
  test("a whole stream in random chunks is ok; every cut short of it is truncated", () => {
    const b = stream(42, 300_000);
    const whole = new Receiver();
    feed(whole, b);
    expect(whole.verdict("fin")).toBe("ok");
    expect(whole.bytes).toBe(b.length);
    for (const cut of [0, 1, HEADER - 1, HEADER, HEADER + 1, 150_000, b.length - 1]) {
      const r = new Receiver();
      feed(r, b.subarray(0, cut), cut);
      expect(r.verdict("fin")).toBe("truncated");
      expect(r.verdict("reset")).toBe("reset");
    }
  });

  test("a flipped, dropped, repeated or extra byte anywhere is corrupt", () => {
    const b = stream(7, 100_000);
    const rand = prng(9);
    for (let i = 0; i < 50; i++) {
      const at = HEADER + Math.floor(rand() * (b.length - HEADER - 1));
      const flipped = Buffer.from(b);
      flipped[at] = flipped[at]! ^ 0xff;
      const dropped = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
      const repeated = Buffer.concat([b.subarray(0, at + 1), b.subarray(at)]);
      for (const bad of [flipped, dropped, repeated]) {
        const r = new Receiver();
        feed(r, bad, i);
        expect(r.verdict("fin")).toBe("corrupt");
      }
    }
    const extra = new Receiver();
    feed(extra, Buffer.concat([b, Buffer.from([0])]));
    expect(extra.verdict("fin")).toBe("corrupt");
  });

  test("another stream's bytes are corrupt", () => {
    const r = new Receiver();
    feed(r, Buffer.concat([header(1, 5000), slice(2, 0, 5000)]));
    expect(r.verdict("fin")).toBe("corrupt");
  });
});

describe("tally", () => {
  const row = (t: Partial<ReturnType<typeof tally>>, allowed: Row["allowed"], problems: string[] = []): Row => ({
    scenario: "s",
    via: "sluice",
    tally: { ...tally(), ...t },
    allowed,
    notes: [],
    problems,
  });

  test("a row passes only with allowed outcomes and no problems", () => {
    expect(passed(row({ reset: 5 }, ["reset"]))).toBe(true);
    expect(badOutcomes(row({ reset: 5, truncated: 1 }, ["ok", "reset"]))).toEqual(["1 truncated"]);
    expect(passed(row({ ok: 1 }, ["ok"], ["fds grew"]))).toBe(false);
    expect(markdown([row({ ok: 2, corrupt: 1 }, ["ok"])])).toContain("FAIL: 1 corrupt");
  });

  test("runStreams runs exactly count streams, at most concurrency at once, and counts throws and hangs", async () => {
    let inFlight = 0;
    let most = 0;
    const t = await runStreams({ count: 50, concurrency: 4, deadline: performance.now() + 10_000, perStreamMs: 200 }, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        if (i === 3) throw new Error("refused");
        if (i === 4) {
          inFlight--; // abandoned as stuck: no longer in flight for the runner
          await new Promise(() => {});
        }
        await Bun.sleep(1);
        return i % 2 ? "ok" : "reset";
      } finally {
        inFlight--;
      }
    });
    expect(total(t)).toBe(50);
    expect(t.failed).toBe(1);
    expect(t.stuck).toBe(1);
    expect(most).toBeLessThanOrEqual(4);
  });
});

describe("End: the first signal decides how a socket ended", () => {
  const whole = stream(3, 1000);
  const cases: [string, (e: End) => void, string][] = [
    ["end", (e) => e.fin(), "ok"],
    ["close with an error", (e) => e.close(new Error("ECONNRESET")), "reset"],
    ["bare close before our shutdown", (e) => e.close(undefined), "reset"],
    ["bare close after our shutdown", (e) => ((e.shut = true), e.close(undefined)), "ok"],
    // Linux clears the error on the failed send, so Bun follows it with `end`: still a reset.
    ["our write failed, then end", (e) => (e.writeFailed(), e.fin()), "reset"],
    ["end, then our write failed", (e) => (e.fin(), e.writeFailed()), "ok"],
  ];
  test.each(cases)("%s", (_, events, want) => {
    const seen: string[] = [];
    const e = new End((x) => seen.push(x.verdict!));
    e.data(whole);
    events(e);
    expect(e.verdict).toBe(want as never);
    expect(seen).toEqual([want]);
  });

  test("empty: ended without a byte, as a health probe does", () => {
    const probe = new End();
    probe.fin();
    expect(probe.empty).toBe(true);
    const client = new End();
    client.data(whole.subarray(0, 1));
    client.close(new Error("reset"));
    expect(client.empty).toBe(false);
  });
});
