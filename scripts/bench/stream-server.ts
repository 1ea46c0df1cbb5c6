/**
 * A backend that streams to every connection without end: it writes 64 KiB
 * blocks until the kernel refuses, and again on each drain. Behind a client
 * that never reads, every buffer on the way fills and stays full.
 * Usage: bun stream-server.ts PORT   (exits on SIGTERM, or after an hour at most)
 * @module
 */
import type { Socket } from "bun";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error("usage: stream-server.ts PORT");

const BLOCK = new Uint8Array(64 * 1024).fill(0x5a);
const fill = (s: Socket<undefined>) => {
  // Bounded: a reader fast enough to take 1,024 blocks in one go gets the rest on the next drain.
  for (let i = 0; i < 1024; i++) if (s.write(BLOCK) < BLOCK.length) return;
};
const server = Bun.listen({ hostname: "127.0.0.1", port, socket: { open: fill, drain: fill, data() {}, error() {} } });
console.log(`streaming on ${server.port}`);
setTimeout(() => process.exit(0), 3_600_000);
