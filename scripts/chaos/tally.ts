/**
 * @module chaos/tally: counting verdicts and running streams with bounded
 * concurrency, count and time. Pure apart from the promises it is handed.
 */
import type { Verdict } from "./pattern.ts";

/** Outcome of one stream: a receiver's verdict, or the stream never ran (`failed`) or never ended (`stuck`). */
export type Outcome = Verdict | "failed" | "stuck";

export type Tally = Record<Outcome, number>;

export const OUTCOMES: readonly Outcome[] = ["ok", "reset", "truncated", "corrupt", "failed", "stuck"];

export function tally(): Tally {
  return { ok: 0, reset: 0, truncated: 0, corrupt: 0, failed: 0, stuck: 0 };
}

export function total(t: Tally): number {
  return OUTCOMES.reduce((n, o) => n + t[o], 0);
}

/** Row is one line of the report: a scenario through one path. */
export interface Row {
  scenario: string;
  via: string;
  tally: Tally;
  /** which outcomes this row may show; any other fails the run. */
  allowed: readonly Outcome[];
  /** measurements and checks beyond the tally, e.g. fds or memory. */
  notes: string[];
  /** checks that failed, beyond the tally. */
  problems: string[];
}

/** badOutcomes lists the outcomes a row shows but may not. */
export function badOutcomes(r: Row): string[] {
  return OUTCOMES.filter((o) => r.tally[o] > 0 && !r.allowed.includes(o)).map((o) => `${r.tally[o]} ${o}`);
}

export function passed(r: Row): boolean {
  return badOutcomes(r).length === 0 && r.problems.length === 0;
}

/**
 * runStreams starts `one(i)` for i = 0.. with at most `concurrency` in flight,
 * until `count` have finished or `deadline` (performance.now() ms) passes;
 * each stream is given `perStreamMs` before it counts as stuck.
 */
export async function runStreams(
  opts: { count: number; concurrency: number; deadline: number; perStreamMs?: number },
  one: (i: number) => Promise<Outcome>,
): Promise<Tally> {
  const t = tally();
  const perStream = opts.perStreamMs ?? 10_000;
  let next = 0;
  const worker = async () => {
    while (next < opts.count && performance.now() < opts.deadline) {
      const i = next++;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stuck = new Promise<Outcome>((r) => (timer = setTimeout(() => r("stuck"), perStream)));
      const o = await Promise.race([
        one(i).catch((e): Outcome => {
          if (t.failed < 3) console.error(`chaos: stream ${i} failed: ${e} code=${(e as {code?: string}).code} errno=${(e as {errno?: number}).errno}`);
          return "failed";
        }),
        stuck,
      ]);
      clearTimeout(timer);
      t[o]++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  return t;
}

/** markdown renders rows as the table the runner prints. */
export function markdown(rows: Row[]): string {
  const head = ["scenario", "via", "streams", ...OUTCOMES, "result", "notes"];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) {
    const verdict = passed(r) ? "pass" : `FAIL: ${[...badOutcomes(r), ...r.problems].join("; ")}`;
    lines.push(`| ${[r.scenario, r.via, total(r.tally), ...OUTCOMES.map((o) => r.tally[o]), verdict, r.notes.join("; ")].join(" | ")} |`);
  }
  return lines.join("\n");
}
