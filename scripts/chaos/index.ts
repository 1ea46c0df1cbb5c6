/**
 * `bun run chaos`: fault injection against the compiled sluice, each scenario
 * run straight to the target (the kernel's own answer) and through sluice.
 * Prints a Markdown table; exits 1 if any row shows an outcome it may not.
 * Usage: bun scripts/chaos/index.ts [--streams N] [--only a,b] [--seconds S] ...
 * @module
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { SCENARIOS, runScenarios } from "./scenarios.ts";
import { markdown, passed } from "./tally.ts";

const USAGE = `usage: bun scripts/chaos/index.ts [options]
  --only a,b        scenarios (default all): ${SCENARIOS.map((s) => s.name).join(", ")}
  --streams N       streams per row (default 2000); kill-target runs them in rounds of --concurrency
  --concurrency N   streams in flight (default 32)
  --burst N         clients at once in the second half of target-reset (default 1000)
  --seconds S       longest a row may run; black-hole and stalled run this long (default 60)
  --holes N         black-holed apps in "black-hole" (default 50)
  --clients N       stalled readers in "stalled" (default 100)
  --seed N          PRNG seed (default 1)
  --sluice PATH     the sluice binary to test (default dist/sluice)
  --buffer-size S   buffer_size for sluice, e.g. 64KiB (default: sluice's own)
  --workers N       workers for sluice, a number or auto (default: sluice's own, auto)
  --access-log      sluice writes an access line per connection (a truncated or corrupt stream is then shown with its line)`;

const { values: f } = parseArgs({
  options: {
    only: { type: "string" },
    streams: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "32" },
    burst: { type: "string", default: "1000" },
    seconds: { type: "string", default: "60" },
    holes: { type: "string", default: "50" },
    clients: { type: "string", default: "100" },
    seed: { type: "string", default: "1" },
    sluice: { type: "string" },
    "buffer-size": { type: "string" },
    workers: { type: "string" },
    "access-log": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (f.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: string, v: string, min = 1): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`chaos: --${name} must be an integer ≥ ${min}, got "${v}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const only = f.only?.split(",").map((s) => s.trim());
for (const name of only ?? []) {
  if (!SCENARIOS.some((s) => s.name === name)) {
    console.error(`chaos: unknown scenario "${name}"\n${USAGE}`);
    process.exit(2);
  }
}

const rows = await runScenarios(only, {
  streams: int("streams", f.streams!),
  concurrency: int("concurrency", f.concurrency!),
  burst: int("burst", f.burst!),
  seconds: int("seconds", f.seconds!),
  holes: int("holes", f.holes!),
  clients: int("clients", f.clients!),
  seed: int("seed", f.seed!, 0),
  binary: f.sluice ? resolve(f.sluice) : undefined,
  tables: f["access-log"] ? "[log]\naccess = true" : undefined,
  top:
    [f["buffer-size"] ? `buffer_size = ${JSON.stringify(f["buffer-size"])}` : "", f.workers ? `workers = ${f.workers === "auto" ? '"auto"' : int("workers", f.workers)}` : ""]
      .filter(Boolean)
      .join("\n") || undefined,
  log: (line) => console.error(`chaos: ${line}`),
});
console.log(markdown(rows));
process.exit(rows.every(passed) ? 0 : 1);
