/**
 * A short run of scripts/reload-load.ts (`bun run reload-load` runs the long
 * one): clients stream checksummed data through sluice while it is reloaded
 * by signal, POST /reload and file saves, good configs and bad ones in turn.
 */
import { expect, test } from "bun:test";
import { passed, reloadUnderLoad, summaryLines } from "../../scripts/reload-load.ts";

test("reloads under load: 0 failed connections, 0 corrupted streams, 0 sessions left open", async () => {
  const r = await reloadUnderLoad({ clients: 10, reloads: 12, invalid: 5, seconds: 60, seed: 7 });
  console.log(summaryLines(r).join("\n"));
  expect(r.failedConnections).toBe(0);
  expect(r.corrupted).toBe(0);
  expect(r.leftOpen).toBe(0);
  expect(r.problems).toEqual([]);
  expect(r.rejected).toBe(5);
  expect(r.reloads.signal + r.reloads.http + r.reloads.file).toBe(17);
  expect(r.streams.ok).toBeGreaterThan(0);
  expect(passed(r)).toBe(true);
}, 90_000);
