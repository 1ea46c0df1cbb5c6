/**
 * The short chaos run: every scenario of scripts/chaos with small counts,
 * through the compiled binary, with direct rows as the kernel's reference.
 * The long run is `bun run chaos` (docs/CHAOS.md).
 */
import { afterAll, expect, test } from "bun:test";
import { SCENARIOS, type ChaosSettings } from "../../scripts/chaos/scenarios.ts";
import { badOutcomes, markdown, type Row } from "../../scripts/chaos/tally.ts";

const settings: ChaosSettings = {
  streams: 400,
  concurrency: 16,
  burst: 400,
  seconds: 20,
  // 10 holes for 6 s: a probe pile-up would add about 60 fds against a bound of holes + 16.
  holes: 10,
  clients: 20,
  seed: 20261130,
  log: () => {},
};
/** per-scenario overrides: kill-target runs rounds of `concurrency`, black-hole runs `seconds` long. */
const OVERRIDES: Record<string, Partial<ChaosSettings>> = {
  // 2,000 at 16 at a time, then 2,000 kept 1,000 at a time: the burst is what exposed resets passed on as FINs.
  "target-reset": { streams: 4000, burst: 1000 },
  "client-reset": { streams: 4000, burst: 1000 },
  // One worker: with two, a killed target's kernel sometimes sends a FIN before its reset (about 1 stream in
  // 8,000, docs/BUN-SOCKETS.md), which this row would count as truncated though sluice passes on what it got.
  "kill-target": { streams: 96, top: "workers = 1" },
  "black-hole": { seconds: 6 },
  stalled: { seconds: 10 },
};

const rows: Row[] = [];
afterAll(() => console.log(`\nshort chaos run:\n${markdown(rows)}\n`));

for (const sc of SCENARIOS) {
  for (const via of sc.vias) {
    test(`chaos: ${sc.name} via ${via}`, async () => {
      const row = await sc.run(via, { ...settings, ...OVERRIDES[sc.name] });
      rows.push(row);
      expect(badOutcomes(row)).toEqual([]);
      expect(row.problems).toEqual([]);
      // A row that ran nothing proves nothing.
      expect(Object.values(row.tally).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }, 60_000);
  }
}
