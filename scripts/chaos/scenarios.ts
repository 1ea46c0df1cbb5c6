/**
 * @module chaos/scenarios: the list of scenarios and the paths each runs on.
 */
import type { Settings, Via } from "./path.ts";
import { blackHoles } from "./black-hole.ts";
import { targetKill } from "./kill.ts";
import { reloadChurn } from "./reload.ts";
import { clientReset, targetReset } from "./resets.ts";
import { stalledReaders } from "./stalled.ts";
import type { Row } from "./tally.ts";

export interface ChaosSettings extends Settings {
  holes: number;
  clients: number;
}

export interface Scenario {
  name: string;
  /** direct runs show what the kernel does without a proxy, as the reference. */
  vias: readonly Via[];
  run(via: Via, s: ChaosSettings): Promise<Row>;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: "target-reset", vias: ["direct", "sluice"], run: targetReset },
  { name: "client-reset", vias: ["direct", "sluice"], run: clientReset },
  { name: "kill-target", vias: ["direct", "sluice"], run: targetKill },
  { name: "reload", vias: ["direct", "sluice"], run: reloadChurn },
  { name: "black-hole", vias: ["sluice"], run: blackHoles },
  { name: "stalled", vias: ["sluice"], run: stalledReaders },
];

export async function runScenarios(only: string[] | undefined, s: ChaosSettings): Promise<Row[]> {
  const rows: Row[] = [];
  for (const sc of SCENARIOS) {
    if (only && !only.includes(sc.name)) continue;
    for (const via of sc.vias) {
      const t0 = performance.now();
      const r = await sc.run(via, s);
      s.log(`${sc.name} via ${via}: ${JSON.stringify(r.tally)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      rows.push(r);
    }
  }
  return rows;
}
