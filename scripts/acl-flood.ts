/**
 * `bun scripts/acl-flood.ts`: what a flood of denied clients costs sluice,
 * and whether it slows the allowed ones.
 *
 * One sluice app with `allow = ["127.0.0.0/30"]` and `deny = ["127.0.0.3"]`
 * in front of a Bun backend that answers each connection with one byte.
 * Three phases of equal length, in one run: allowed clients alone (from
 * 127.0.0.2), denied clients alone (from 127.0.0.3, each reset at accept),
 * and both at once. The denied clients run in a process of their own, so
 * they do not take turns from the allowed ones inside one event loop. It prints connections per second of each kind and
 * sluice's CPU time per connection (utime + stime from /proc over the phase),
 * so a denied connection's cost can be set against a served one's.
 *
 * Usage: bun scripts/acl-flood.ts [--seconds 5] [--allowed 16] [--denied 64]
 * @module
 */
import { connect as netConnect } from "node:net";
import { parseArgs } from "node:util";
import { freePort } from "../test/helpers/net.ts";
import { startSluice } from "../test/helpers/sluice.ts";
import { cpuMs } from "./bench/proc.ts";

const { values: f } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    allowed: { type: "string", default: "16" },
    denied: { type: "string", default: "64" },
    "flood-port": { type: "string" },
  },
});
const seconds = Number(f.seconds);
const allowedClients = Number(f.allowed);
const deniedClients = Number(f.denied);

/** one connection from `from`: resolves true when the backend's byte came back, false on a reset. */
function once(from: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let got = false;
    const s = netConnect({ host: "127.0.0.1", port, localAddress: from });
    s.on("data", () => {
      got = true;
      s.end();
    });
    s.on("error", () => resolve(false));
    s.on("close", () => resolve(got));
  });
}

/** loop runs `clients` connect loops from `from` until `until`, counting outcomes. */
async function loop(from: string, port: number, clients: number, until: number): Promise<{ ok: number; refused: number }> {
  const n = { ok: 0, refused: 0 };
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < 10_000_000 && performance.now() < until; i++) {
        if (await once(from, port)) n.ok++;
        else n.refused++;
      }
    }),
  );
  return n;
}

// The flood process: denied loops against the given port, then their counts as JSON.
if (f["flood-port"] !== undefined) {
  const r = await loop("127.0.0.3", Number(f["flood-port"]), deniedClients, performance.now() + seconds * 1000);
  console.log(JSON.stringify(r));
  process.exit(0);
}

/** flood runs the denied loops in a child process and resolves with their counts. */
async function flood(port: number): Promise<{ ok: number; refused: number }> {
  const child = Bun.spawn([process.execPath, import.meta.path, "--flood-port", String(port), "--seconds", String(seconds), "--denied", String(deniedClients)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await new Response(child.stdout).text();
  await child.exited;
  return JSON.parse(out) as { ok: number; refused: number };
}

const backend = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void s.end("!"), data() {} } });
const [port, admin] = [freePort(), freePort()];
const config =
  `bind = "127.0.0.1"\nwatch = false\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
  `[[apps]]\nname = "acl"\nports = [${port}]\ntargets = ["127.0.0.1:${backend.port}"]\nallow = ["127.0.0.0/30"]\ndeny = ["127.0.0.3"]\n`;
await using sl = await startSluice(config, { adminPort: admin });

type Phase = { name: string; allowed: number; denied: number; refusedAllowed: number; servedDenied: number; cpuMs: number; seconds: number };
async function phase(name: string, allowed: boolean, denied: boolean): Promise<Phase> {
  const until = performance.now() + seconds * 1000;
  const cpu0 = cpuMs(sl.pid);
  const t0 = performance.now();
  const [a, d] = await Promise.all([
    allowed ? loop("127.0.0.2", port, allowedClients, until) : { ok: 0, refused: 0 },
    denied ? flood(port) : { ok: 0, refused: 0 },
  ]);
  return { name, allowed: a.ok, denied: d.refused, refusedAllowed: a.refused, servedDenied: d.ok, cpuMs: cpuMs(sl.pid) - cpu0, seconds: (performance.now() - t0) / 1000 };
}

const phases = [await phase("allowed only", true, false), await phase("denied only", false, true), await phase("both at once", true, true)];
backend.stop(true);

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });
console.log(`| phase | allowed conn/s | denied conn/s | sluice CPU µs per connection | wrong outcomes |`);
console.log(`|---|---:|---:|---:|---:|`);
for (const p of phases) {
  const conns = p.allowed + p.denied;
  console.log(
    `| ${p.name} | ${fmt(p.allowed / p.seconds)} | ${fmt(p.denied / p.seconds)} | ${fmt((p.cpuMs * 1000) / Math.max(1, conns))} | ${p.refusedAllowed + p.servedDenied} |`,
  );
}
const [alone, , both] = phases as [Phase, Phase, Phase];
console.log(`\nallowed rate during the flood ÷ alone: ${(both.allowed / both.seconds / (alone.allowed / alone.seconds)).toFixed(2)}`);
console.log(`(${seconds} s per phase, ${allowedClients} allowed and ${deniedClients} denied client loops; load generator and sluice share this machine's cores)`);
process.exit(phases.some((p) => p.refusedAllowed + p.servedDenied > 0) ? 1 : 0);
