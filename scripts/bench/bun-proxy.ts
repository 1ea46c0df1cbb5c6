/**
 * The smallest correct TCP proxy Bun allows: one listener, one dial per
 * connection, a queue with pause/resume backpressure each way, half-close
 * passed on with shutdown(), a reset passed on as a reset. No balancing,
 * health, counters, limits or logs. The bench's "bun" peer: what any proxy
 * built on Bun's socket API pays per connection and per byte, so that
 * sluice's own cost can be told apart from the runtime's.
 *
 * Usage: bun bun-proxy.ts LISTEN_PORT TARGET_PORT
 * @module
 */
import type { Socket } from "bun";

const [listenPort, targetPort] = process.argv.slice(2).map(Number) as [number, number];
if (!Number.isInteger(listenPort) || !Number.isInteger(targetPort)) throw new Error("usage: bun-proxy.ts LISTEN_PORT TARGET_PORT");
const HIGH_WATER = 128 * 1024;

/** Side is one socket of a pair: what waits to be written to it, and the socket it reads from. */
interface Side {
  sock: Socket<Side> | null;
  other: Side;
  queue: Uint8Array[];
  queued: number;
  /** the peer's FIN waits behind the queue. */
  finPending: boolean;
  shut: boolean;
  ended: boolean;
  closed: boolean;
}

function side(): Side {
  return { sock: null, other: null as unknown as Side, queue: [], queued: 0, finPending: false, shut: false, ended: false, closed: false };
}

/** send writes `chunk` to `to` (or queues it), pausing `to.other`'s reads past the mark. */
function send(to: Side, chunk: Uint8Array): void {
  if (to.sock !== null && to.queued === 0) {
    const n = to.sock.write(chunk);
    if (n === chunk.length) return;
    if (n < 0) return reset(to);
    chunk = chunk.subarray(n);
  }
  to.queue.push(chunk);
  to.queued += chunk.length;
  if (to.queued >= HIGH_WATER) to.other.sock?.pause();
}

function flush(to: Side): void {
  const s = to.sock!;
  while (to.queue.length > 0) {
    const c = to.queue[0]!;
    const n = s.write(c);
    if (n < 0) return reset(to);
    to.queued -= n;
    if (n < c.length) {
      to.queue[0] = c.subarray(n);
      break;
    }
    to.queue.shift();
  }
  if (to.queued < HIGH_WATER / 2) to.other.sock?.resume();
  if (to.queued === 0 && to.finPending) shut(to);
}

function shut(to: Side): void {
  to.finPending = false;
  to.shut = true;
  to.sock!.shutdown();
  done(to);
}

/** fin: `from` sent FIN; pass it on once its queue towards the other side is written. */
function fin(from: Side): void {
  if (from.ended) return;
  from.ended = true;
  const to = from.other;
  if (to.sock !== null && to.queued === 0) shut(to);
  else to.finPending = true;
}

/** done closes both sockets once both FINs have passed. */
function done(s: Side): void {
  if (!(s.shut && s.other.shut && s.ended && s.other.ended)) return;
  for (const x of [s, s.other]) {
    if (!x.closed) {
      x.closed = true;
      x.sock!.end();
    }
  }
}

function reset(s: Side): void {
  for (const x of [s, s.other]) {
    if (!x.closed) {
      x.closed = true;
      x.sock?.terminate();
    }
  }
}

/** closed: after our shutdown() Bun reports the peer's FIN as a close without error; anything else cuts the pair. */
function closed(s: Side, error: Error | undefined): void {
  if (s.closed) return;
  if (error === undefined && s.shut) {
    fin(s);
    s.closed = true;
    return done(s);
  }
  s.closed = true;
  reset(s.other);
}

const handlers = {
  data: (s: Socket<Side>, d: Uint8Array) => send(s.data.other, d),
  drain: (s: Socket<Side>) => flush(s.data),
  end: (s: Socket<Side>) => {
    fin(s.data);
    done(s.data);
  },
  close: (s: Socket<Side>, e?: Error) => closed(s.data, e),
  error: () => {},
};

Bun.listen<Side>({
  hostname: "127.0.0.1",
  port: listenPort,
  allowHalfOpen: true,
  socket: {
    ...handlers,
    open(client) {
      const down = side();
      const up = side();
      down.other = up;
      up.other = down;
      down.sock = client;
      client.data = down;
      void Bun.connect<Side>({
        hostname: "127.0.0.1",
        port: targetPort,
        allowHalfOpen: true,
        data: up,
        socket: {
          ...handlers,
          open(target) {
            if (down.closed) return void target.terminate();
            up.sock = target;
            flush(up);
          },
          connectError: () => reset(down),
        },
      });
    },
  },
});
console.log(`bun-proxy: 127.0.0.1:${listenPort} -> 127.0.0.1:${targetPort}`);
