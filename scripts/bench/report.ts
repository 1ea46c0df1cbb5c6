/**
 * Turns per-round samples into medians, ratios to direct and sluice ÷ best
 * peer, then prints a Markdown table and writes the JSON history file.
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { PeerName } from "./peers.ts";
import type { Workload } from "./workloads.ts";

/** Sample is what one peer produced in one round of one workload. */
export interface Sample {
  workload: string;
  round: number;
  peer: PeerName;
  values: Record<string, number>;
  error?: string;
}

export interface Row {
  workload: string;
  metric: string;
  better: "higher" | "lower";
  digits: number;
  /** Median over rounds per peer; null where there is no value. */
  values: Partial<Record<PeerName, number | null>>;
  /** sluice's median divided by the best of HAProxy and NGINX. */
  sluiceVsBest: number | null;
}

/** median of a list; null when empty. */
export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface RowSpec {
  key: string;
  label: string;
  better: "higher" | "lower";
  digits: number;
  /** Per-round ratio of this key to direct's value in the same round. */
  ratioOf?: string;
}

/** rowSpecs lists a workload's rows: its metrics, each ratio beside its metric, then CPU and RSS. */
export function rowSpecs(w: Workload): RowSpec[] {
  const specs: RowSpec[] = [];
  for (const m of w.metrics) {
    specs.push({ key: m.key, label: m.label, better: m.better, digits: m.digits ?? 2 });
    if (m.ratio) specs.push({ key: `${m.key}:ratio`, label: `${m.label} ÷ direct`, better: m.better, digits: 2, ratioOf: m.key });
  }
  if (w.cpu) specs.push({ key: "cpu", label: w.cpu.label, better: "lower", digits: w.cpu.digits ?? 1 });
  if (w.peakRss) specs.push({ key: "peakRssMB", label: "peak RSS MB", better: "lower", digits: 1 });
  return specs;
}

/** summarize reduces samples to one row per workload metric. */
export function summarize(workloads: Workload[], samples: Sample[], peers: readonly PeerName[]): Row[] {
  const rows: Row[] = [];
  for (const w of workloads) {
    const mine = samples.filter((s) => s.workload === w.name && !s.error);
    for (const spec of rowSpecs(w)) {
      const values: Partial<Record<PeerName, number | null>> = {};
      for (const peer of peers) {
        const per = mine.filter((s) => s.peer === peer);
        const xs: number[] = [];
        for (const s of per) {
          const v = spec.ratioOf ? ratioInRound(mine, s, spec.ratioOf) : s.values[spec.key];
          if (v !== undefined && v !== null && Number.isFinite(v)) xs.push(v);
        }
        values[peer] = median(xs);
      }
      rows.push({ workload: w.title, metric: spec.label, better: spec.better, digits: spec.digits, values,
        sluiceVsBest: vsBest(values, spec.better) });
    }
  }
  return rows;
}

function ratioInRound(samples: Sample[], s: Sample, key: string): number | null {
  const direct = samples.find((d) => d.peer === "direct" && d.round === s.round)?.values[key];
  const v = s.values[key];
  return direct && v !== undefined ? v / direct : null;
}

function vsBest(values: Partial<Record<PeerName, number | null>>, better: "higher" | "lower"): number | null {
  const sluice = values.sluice;
  const peers = [values.haproxy, values.nginx].filter((v): v is number => typeof v === "number");
  if (typeof sluice !== "number" || peers.length === 0) return null;
  const best = better === "higher" ? Math.max(...peers) : Math.min(...peers);
  return best === 0 ? null : sluice / best;
}

function fmt(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined) return "–";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** markdown renders the header lines and the table. */
export function markdown(header: string[], rows: Row[], peers: readonly PeerName[]): string {
  const out = [...header, ""];
  out.push(`| workload | metric | ${peers.join(" | ")} | sluice ÷ best peer |`);
  out.push(`|---|---|${peers.map(() => "---:").join("|")}|---:|`);
  let last = "";
  for (const r of rows) {
    const arrow = r.better === "higher" ? "↑" : "↓";
    const cells = peers.map((p) => fmt(r.values[p], r.digits));
    const name = r.workload === last ? "" : r.workload;
    last = r.workload;
    out.push(`| ${name} | ${r.metric} ${arrow} | ${cells.join(" | ")} | ${fmt(r.sluiceVsBest, 2)} |`);
  }
  out.push("", "↑ higher is better, ↓ lower is better; sluice ÷ best peer compares with the better of HAProxy and NGINX on that row.");
  return out.join("\n");
}

/** writeJson saves everything needed to compare runs later. */
export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}
