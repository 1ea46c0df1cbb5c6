/**
 * Opens COUNT connections to PORT on 127.0.0.1 that never read: each is paused
 * as soon as it opens, so whatever the backend streams piles up in the path.
 * Prints `held N failed M` once all are open, then holds them until stdin
 * closes (or 10 minutes at most) and exits.
 * Usage: bun stalled-client.ts PORT COUNT
 * @module
 */
import type { Socket } from "bun";
import { holdUntilStdinCloses } from "./hold.ts";

const [port, count] = process.argv.slice(2).map(Number) as [number, number];
if (!Number.isInteger(port) || !Number.isInteger(count)) throw new Error("usage: stalled-client.ts PORT COUNT");

const sockets: Socket[] = [];
let failed = 0;
for (let i = 0; i < count; i++) {
  try {
    sockets.push(await Bun.connect({ hostname: "127.0.0.1", port, socket: { open: (s) => s.pause(), data() {}, error() {} } }));
  } catch {
    if (++failed > count / 10) break;
  }
}
console.log(`held ${sockets.length} failed ${failed}`);

holdUntilStdinCloses(sockets, (s) => s.terminate());
