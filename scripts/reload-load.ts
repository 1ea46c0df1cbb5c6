/**
 * `bun run reload-load`: reloads under load. Clients stream checksummed data
 * both ways through sluice without pause, opening a new connection for each
 * stream, while sluice is reloaded by SIGHUP, by POST /reload and by saving
 * its config file, in turn. Every good reload changes the ports (extra ports
 * open and close, a second app comes and goes) and the targets (a new subset
 * of three); every bad one (unknown key, bad target, duplicate port, a port
 * already taken, a TOML syntax error) must be refused while the running
 * config keeps serving. It prints the failed connections, the corrupted
 * streams and the sessions left open, which must all be 0, and exits 1 if not.
 *
 * Usage: bun scripts/reload-load.ts [--clients 50] [--reloads 50] [--invalid 10] [--seconds 120] [--seed 1] [--sluice PATH]
 * @module
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { freePort, HOST } from "../test/helpers/net.ts";
import { poll, startSluice, type Sluice } from "../test/helpers/sluice.ts";
import { cleanClient, cleanTarget } from "./chaos/clean.ts";
import { prng } from "./chaos/pattern.ts";
import { OUTCOMES, runStreams, tally, type Tally } from "./chaos/tally.ts";

export interface LoadOptions {
  clients: number;
  reloads: number;
  invalid: number;
  /** the whole run stops starting streams after this long. */
  seconds: number;
  seed: number;
  binary?: string;
  log?: (line: string) => void;
}

export interface LoadReport {
  streams: Tally;
  reloads: { signal: number; http: number; file: number };
  rejected: number;
  /** bad reloads that were applied, or good ones that failed: each a line. */
  problems: string[];
  /** streams that did not come back ok: failed, reset or stuck. */
  failedConnections: number;
  /** streams that came back truncated or corrupt. */
  corrupted: number;
  /** /status active once the clients were done, and connections still open at the targets. */
  leftOpen: number;
  /** streams through ports that a reload had just opened. */
  newPortChecks: number;
  metrics: { success: number; failure: number };
}

const TRIGGERS = ["signal", "http", "file"] as const;
type Trigger = (typeof TRIGGERS)[number];

/** the bad configs, one per kind; `squat` is a port some other socket holds. */
function invalidConfig(kind: number, good: string, stable: number[], squat: number): string {
  switch (kind % 5) {
    case 0:
      return good + "bogus_key = 1\n";
    case 1:
      return good.replace(/targets = \[[^\]]*\]/, `targets = ["${HOST}:0"]`);
    case 2:
      return good + `[[apps]]\nname = "dup"\nports = [${stable[0]}]\ntargets = ["${HOST}:9"]\n`;
    case 3:
      return good + `[[apps]]\nname = "squatted"\nports = [${squat}]\ntargets = ["${HOST}:9"]\n`;
    default:
      return good + "[[apps\n";
  }
}

export async function reloadUnderLoad(o: LoadOptions): Promise<LoadReport> {
  const log = o.log ?? (() => {});
  const rand = prng(o.seed ^ 0x5eed10ad);
  const targets = [cleanTarget(rand, 128 * 1024), cleanTarget(rand, 128 * 1024), cleanTarget(rand, 128 * 1024)];
  const stable = [freePort(), freePort()];
  const extra = [freePort(), freePort(), freePort(), freePort()];
  const admin = freePort();
  const squatter = Bun.listen({ hostname: HOST, port: 0, socket: { data() {} } });
  const report: LoadReport = {
    streams: undefined as unknown as Tally,
    reloads: { signal: 0, http: 0, file: 0 },
    rejected: 0,
    problems: [],
    failedConnections: 0,
    corrupted: 0,
    leftOpen: 0,
    newPortChecks: 0,
    metrics: { success: 0, failure: 0 },
  };

  const render = (mask: number, extras: number[], side: boolean) => {
    const ts = targets.filter((_, j) => mask & (1 << j)).map((t) => `"${HOST}:${t.port}"`);
    const [sidePort, ...own] = extras;
    let text =
      `bind = "${HOST}"\nshutdown_timeout = "2s"\n[health]\ninterval = "1h"\n[admin]\nlisten = "${HOST}:${admin}"\n` +
      `[[apps]]\nname = "load"\nports = [${[...stable, ...(side ? own : extras)].join(", ")}]\ntargets = [${ts.join(", ")}]\n`;
    if (side && sidePort !== undefined) text += `[[apps]]\nname = "side"\nports = [${sidePort}]\ntargets = [${ts.join(", ")}]\n`;
    return text;
  };

  let current = render(7, [], false);
  const sluice: Sluice = await startSluice(current, { adminPort: admin, binary: o.binary });
  try {
    const count = (needle: string) => sluice.output().split(needle).length - 1;
    let running = true;
    const deadline = performance.now() + o.seconds * 1000;
    // Each client opens a new connection for every stream until the reloads are done (or the time is up).
    const streams = tally();
    let next = 0;
    const client = async () => {
      while (running && performance.now() < deadline) {
        const i = next++;
        // A third pause half-way, so many streams span a reload.
        const pause = rand() < 1 / 3 ? 50 + Math.floor(rand() * 200) : 0;
        const o = await runStreams({ count: 1, concurrency: 1, deadline: Infinity, perStreamMs: 20_000 }, () =>
          cleanClient(stable[i % stable.length]!, i, rand, pause, 64 * 1024),
        );
        for (const k of OUTCOMES) streams[k] += o[k];
      }
    };
    const load = Promise.all(Array.from({ length: o.clients }, client));

    /** trigger reloads by one means and resolves to whether sluice applied the file's config. */
    const trigger = async (how: Trigger): Promise<boolean> => {
      report.reloads[how]++;
      const line = `(${how})`;
      const [ok0, bad0] = [count(`reloaded ${sluice.configPath} ${line}`), count(`reload failed ${line}`)];
      if (how === "http") {
        const r = await fetch(`http://${HOST}:${admin}/reload`, { method: "POST" });
        await r.text();
        if (r.status !== 200 && r.status !== 422) report.problems.push(`POST /reload answered ${r.status}`);
        return r.status === 200;
      }
      if (how === "signal") sluice.signal("SIGHUP");
      await poll(
        async () => [count(`reloaded ${sluice.configPath} ${line}`), count(`reload failed ${line}`)],
        ([ok, bad]) => ok! > ok0 || bad! > bad0,
        10_000,
        `a ${how} reload to be logged`,
      );
      return count(`reloaded ${sluice.configPath} ${line}`) > ok0;
    };

    // Good and bad reloads, spread evenly, each by the next trigger in turn.
    const plan: boolean[] = [];
    for (let i = 0; i < o.reloads + o.invalid; i++) plan.push(Math.floor(((i + 1) * o.invalid) / (o.reloads + o.invalid)) > Math.floor((i * o.invalid) / (o.reloads + o.invalid)));
    let lastMask = 7;
    let bad = 0;
    let openExtras: number[] = [];
    for (let i = 0; i < plan.length && performance.now() < deadline; i++) {
      const how = TRIGGERS[i % TRIGGERS.length]!;
      if (plan[i]) {
        writeFileSync(sluice.configPath, invalidConfig(bad++, current, stable, squatter.port));
        if (await trigger(how)) report.problems.push(`bad config ${bad} (${how}) was applied`);
        else report.rejected++;
        // Put the good text back for the next reload; the file watch must not count it as a change of config.
        writeFileSync(sluice.configPath, current);
      } else {
        let mask = 1 + Math.floor(rand() * 7);
        if (mask === lastMask) mask = (mask % 7) + 1;
        lastMask = mask;
        const extras = extra.filter(() => rand() < 0.5);
        const side = rand() < 0.5;
        current = render(mask, extras, side);
        writeFileSync(sluice.configPath, current);
        if (!(await trigger(how))) {
          report.problems.push(`good reload ${i} (${how}) failed: ${sluice.output().slice(-300)}`);
          continue;
        }
        // A port this reload opened must serve at once.
        const fresh = extras.filter((p) => !openExtras.includes(p));
        openExtras = extras;
        if (fresh.length > 0) {
          const v = await cleanClient(fresh[0]!, 1_000_000 + i, rand, 0, 16 * 1024);
          report.newPortChecks++;
          if (v !== "ok") report.problems.push(`stream through newly opened port ${fresh[0]} was ${v}`);
        }
      }
      // Let the file watch see this write (and find it already applied) before the next reload counts lines.
      await Bun.sleep(400);
      log(`reload ${i + 1}/${plan.length} (${how}${plan[i] ? ", invalid" : ""}) done`);
    }
    running = false;
    await load;
    report.streams = streams;
    report.failedConnections = report.streams.failed + report.streams.reset + report.streams.stuck;
    report.corrupted = report.streams.truncated + report.streams.corrupt;
    const st = await poll(() => sluice.status(), (s) => s.connections.active === 0, 10_000, "sessions to close").catch(() => sluice.status());
    for (let i = 0; i < 500 && targets.some((t) => t.open > 0); i++) await Bun.sleep(10);
    report.leftOpen = st.connections.active + targets.reduce((n, t) => n + t.open, 0);
    const metrics = await (await sluice.admin("/metrics")).text();
    report.metrics.success = Number(/sluice_config_reloads_total\{result="success"\} (\d+)/.exec(metrics)?.[1] ?? NaN);
    report.metrics.failure = Number(/sluice_config_reloads_total\{result="failure"\} (\d+)/.exec(metrics)?.[1] ?? NaN);
    const uploadsBad = targets.reduce((n, t) => n + t.uploads.reset + t.uploads.truncated + t.uploads.corrupt, 0);
    if (uploadsBad > 0) report.problems.push(`${uploadsBad} uploads not ok at the targets`);
    if (report.metrics.failure < report.rejected) report.problems.push(`sluice counted ${report.metrics.failure} failed reloads for ${report.rejected} rejected`);
    return report;
  } finally {
    squatter.stop(true);
    await sluice[Symbol.asyncDispose]();
    for (const t of targets) t.stop();
  }
}

/** summaryLines is what the script prints. */
export function summaryLines(r: LoadReport): string[] {
  const t = r.streams;
  return [
    `streams: ${t.ok + t.reset + t.truncated + t.corrupt + t.failed + t.stuck} (${t.ok} ok)`,
    `reloads: ${r.reloads.signal} signal, ${r.reloads.http} http, ${r.reloads.file} file; ${r.rejected} invalid rejected; sluice counted ${r.metrics.success} success, ${r.metrics.failure} failure`,
    `streams through newly opened ports: ${r.newPortChecks}`,
    `failed connections: ${r.failedConnections}`,
    `corrupted streams: ${r.corrupted}`,
    `sessions left open: ${r.leftOpen}`,
    ...r.problems.map((p) => `problem: ${p}`),
  ];
}

export function passed(r: LoadReport): boolean {
  return r.failedConnections === 0 && r.corrupted === 0 && r.leftOpen === 0 && r.problems.length === 0;
}

if (import.meta.main) {
  const { values: f } = parseArgs({
    options: {
      clients: { type: "string", default: "50" },
      reloads: { type: "string", default: "50" },
      invalid: { type: "string", default: "10" },
      seconds: { type: "string", default: "120" },
      seed: { type: "string", default: "1" },
      sluice: { type: "string" },
    },
  });
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      console.error(`reload-load: --${name} must be a whole number, got "${v}"`);
      process.exit(2);
    }
    return n;
  };
  const report = await reloadUnderLoad({
    clients: int("clients", f.clients),
    reloads: int("reloads", f.reloads),
    invalid: int("invalid", f.invalid),
    seconds: int("seconds", f.seconds),
    seed: int("seed", f.seed),
    binary: f.sluice,
    log: (l) => console.error(l),
  });
  for (const line of summaryLines(report)) console.log(line);
  process.exit(passed(report) ? 0 : 1);
}
