/**
 * Opens COUNT connections to PORT on 127.0.0.1 in batches of BATCH and holds
 * them. A connection counts once the backend's greeting byte arrives through
 * the proxy. Prints `held N failed M` when done, then holds until stdin closes
 * (or 10 minutes at most), closes everything and exits.
 * Usage: bun idle-client.ts PORT COUNT [BATCH]
 * @module
 */
import type { Socket } from "bun";
import { holdUntilStdinCloses } from "./hold.ts";

const [port, count, batch] = process.argv.slice(2).map(Number) as [number, number, number?];
if (!Number.isInteger(port) || !Number.isInteger(count)) throw new Error("usage: idle-client.ts PORT COUNT [BATCH]");
const batchSize = batch ?? 200;
const BATCH_TIMEOUT_MS = 10_000;

const sockets: Socket[] = [];
let held = 0;
let failed = 0;

/** openOne resolves when the greeting byte arrives (true) or the attempt fails/times out (false). */
function openOne(): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), BATCH_TIMEOUT_MS);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      resolve(ok);
    };
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          sockets.push(s);
        },
        data() {
          done(true);
        },
        close() {
          done(false);
        },
        connectError() {
          done(false);
        },
        error() {
          done(false);
        },
      },
    }).catch(() => done(false));
  });
}

for (let opened = 0; opened < count; opened += batchSize) {
  const n = Math.min(batchSize, count - opened);
  const results = await Promise.all(Array.from({ length: n }, openOne));
  for (const ok of results) ok ? held++ : failed++;
  if (failed > count / 10) break; // the proxy is refusing: stop hammering it
}
console.log(`held ${held} failed ${failed}`);

holdUntilStdinCloses(sockets, (s) => s.end());
