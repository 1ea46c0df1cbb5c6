/**
 * Clients that stop reading while their targets stream without end: what
 * each costs sluice in memory at the default buffer_size, and what
 * sluice_buffered_bytes says meanwhile. The bound here is loose (256 KiB a
 * client, twice the contract's); the real figure is the benchmark's
 * (docs/PERFORMANCE.md, "Memory per stalled client").
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Socket } from "bun";
import { HOST, freePorts } from "../helpers/net.ts";
import { appToml, poll, startSluice, steady } from "../helpers/sluice.ts";

const CLIENTS = 200;
const BLOCK = new Uint8Array(64 * 1024).fill(0x5a);

function rssBytes(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
}

function buffered(metrics: string, direction: string): number {
  const m = new RegExp(`^sluice_buffered_bytes\\{app="stall",direction="${direction}"\\} (\\d+)$`, "m").exec(metrics);
  if (m === null) throw new Error(`no sluice_buffered_bytes{direction="${direction}"} in /metrics`);
  return Number(m[1]);
}

test(`${CLIENTS} stalled clients cost sluice under 256 KiB each, and sluice_buffered_bytes shows what it holds`, async () => {
  let sent = 0;
  let open = 0;
  // Each target writes until the kernel refuses, then again on drain: it streams as long as anyone takes bytes.
  const fill = (s: Socket<undefined>) => {
    for (let i = 0; i < 1024; i++) {
      const n = s.write(BLOCK);
      if (n > 0) sent += n;
      if (n < BLOCK.length) return;
    }
  };
  const target = Bun.listen({
    hostname: HOST,
    port: 0,
    socket: { open: (s) => (open++, fill(s)), drain: fill, data() {}, close: () => void open--, error() {} },
  });
  const [port, admin] = freePorts(2) as [number, number];
  const clients: Socket<undefined>[] = [];
  try {
    await using sl = await startSluice(
      `bind = "127.0.0.1"\n[admin]\nlisten = "127.0.0.1:${admin}"\n[health]\ninterval = "1h"\n` + appToml("stall", [port], [`127.0.0.1:${target.port}`]),
      { adminPort: admin },
    );
    const metrics = async () => (await sl.admin("/metrics")).text();
    const before = rssBytes(sl.pid);
    for (let i = 0; i < CLIENTS; i++) {
      clients.push(await Bun.connect({ hostname: HOST, port, socket: { open: (s) => s.pause(), data() {}, error() {} } }));
    }
    // Stalled once the targets' byte count stops moving for a second (every buffer on the way is full).
    await steady(() => sent, "the targets to stall", { everyMs: 100, ms: 60_000 });
    expect(open).toBe(CLIENTS);
    const perClient = (rssBytes(sl.pid) - before) / CLIENTS;
    const held = buffered(await metrics(), "downstream");
    console.log(`[figure] ${CLIENTS} stalled clients: sluice RSS +${(perClient / 1024).toFixed(0)} KiB each; ${(held / CLIENTS / 1024).toFixed(0)} KiB each in queues; targets sent ${(sent / CLIENTS / 2 ** 20).toFixed(1)} MiB each`);
    expect(perClient).toBeLessThan(256 * 1024);
    // Something is held for stalled clients, and never more than the mark (128 KiB) each.
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(CLIENTS * 128 * 1024);
    expect(buffered(await metrics(), "upstream")).toBe(0);

    for (const c of clients.splice(0)) c.terminate();
    await poll(async () => buffered(await metrics(), "downstream"), (n) => n === 0, 10_000, "the queues of gone clients to empty");
    await poll(async () => open, (n) => n === 0, 10_000, "every target session to close");
  } finally {
    for (const c of clients) c.terminate();
    target.stop(true);
  }
}, 120_000);
