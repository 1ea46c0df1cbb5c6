/**
 * @module chaos/endpoint: the two ends of a checked stream over real Bun
 * sockets: a Sender that notices its own failed writes, and an End that
 * decides, per socket, how the stream ended.
 *
 * How an end is judged (docs/BUN-SOCKETS.md): the first signal wins.
 * - `end` is a clean FIN;
 * - a `close` with an error is a reset;
 * - a `close` without one is a FIN only after our own shutdown() (Bun reports
 *   the peer's FIN that way then), otherwise a socket lost under us: a reset;
 * - our own write returning -1 is a reset. It must count: Linux clears the
 *   error on that send, and Bun then reports `end`, which would make a reset
 *   look like the very lie this suite hunts.
 */
import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import { header, Receiver, slice, type Ending, type Verdict } from "./pattern.ts";

const CHUNK = 64 * 1024;

/** Sender writes a finite payload or an endless pattern stream, queueing what the kernel does not take. */
export class Sender {
  #queue: Buffer[] = [];
  #waiters: (() => void)[] = [];
  /** endless: stream id and next pattern offset, or null. */
  #endless: { id: number; offset: number; limit: number } | null = null;
  failed = false;
  sent = 0;

  constructor(
    readonly s: Socket<unknown>,
    readonly onFail: () => void,
  ) {}

  send(buf: Buffer): void {
    this.#queue.push(buf);
    this.flush();
  }

  /** endless streams a header and pattern bytes of stream `id` until `limit` bytes, as fast as the peer takes them. */
  endless(id: number, limit = 1 << 30): void {
    this.#queue.push(header(id, limit));
    this.#endless = { id, offset: 0, limit };
    this.flush();
  }

  /** flush writes as much as the kernel takes; call it from `drain`. */
  flush(): void {
    for (let i = 0; i < 1024 && !this.failed; i++) {
      let c = this.#queue[0];
      if (c === undefined) {
        const e = this.#endless;
        if (e === null || e.offset >= e.limit) break;
        c = slice(e.id, e.offset, Math.min(CHUNK, e.limit - e.offset));
        e.offset += c.length;
        this.#queue.push(c);
      }
      const n = this.s.write(c);
      if (n < 0) {
        this.failed = true;
        this.onFail();
        return;
      }
      this.sent += n;
      if (n < c.length) {
        this.#queue[0] = c.subarray(n);
        return;
      }
      this.#queue.shift();
    }
    if (this.#queue.length === 0 && this.#endless === null) for (const w of this.#waiters.splice(0)) w();
  }

  /** flushed resolves once a finite payload is all with the kernel (never for an endless one). */
  flushed(): Promise<void> {
    return this.#queue.length === 0 ? Promise.resolve() : new Promise((r) => this.#waiters.push(r));
  }
}

/** payload is a stream's header and its first `declared` pattern bytes. */
export function payload(id: number, declared: number): Buffer {
  return Buffer.concat([header(id, declared), slice(id, 0, declared)]);
}

/** End tracks one socket's incoming stream and how it ended. */
export class End {
  readonly rx = new Receiver();
  ending: Ending | null = null;
  /** we sent our FIN (shutdown()), so a bare close is the peer's FIN. */
  shut = false;
  #done: ((v: Verdict) => void)[] = [];

  constructor(readonly onEnded: (e: End) => void = () => {}) {}

  data(d: Uint8Array): void {
    if (this.ending === null) this.rx.push(d);
  }
  /** Bun's `end`. */
  fin(): void {
    this.#settle("fin");
  }
  /** Bun's `close`. */
  close(error: Error | undefined): void {
    this.#settle(error === undefined && this.shut ? "fin" : "reset");
  }
  /** our write returned -1. */
  writeFailed(): void {
    this.#settle("reset");
  }

  /** empty: ended without one byte received, as a health probe does (with a FIN, or a reset if we had sent to it). */
  get empty(): boolean {
    return this.ending !== null && this.rx.bytes === 0;
  }

  get verdict(): Verdict | null {
    return this.ending === null ? null : this.rx.verdict(this.ending);
  }

  settled(): Promise<Verdict> {
    const v = this.verdict;
    return v !== null ? Promise.resolve(v) : new Promise((r) => this.#done.push(r));
  }

  #settle(e: Ending): void {
    if (this.ending !== null) return;
    this.ending = e;
    const v = this.rx.verdict(e);
    for (const r of this.#done.splice(0)) r(v);
    this.onEnded(this);
  }
}


/**
 * outcome waits for a dialled stream's verdict. A connect that fails with
 * ECONNRESET is a reset that beat Bun's `open` (the peer accepted and reset at
 * once), so it counts as one; any other dial error throws (`failed`).
 */
export async function outcome(stream: Promise<{ settled: Promise<Verdict> }>): Promise<Verdict> {
  let st: { settled: Promise<Verdict> };
  try {
    st = await stream;
  } catch (e) {
    if ((e as { code?: string }).code === "ECONNRESET") return "reset";
    throw e;
  }
  return st.settled;
}

/** Stream is a client's view of one checked stream it dialled. */
export interface Stream {
  end: End;
  sender: Sender;
  sock: Socket<Stream>;
  /** resolves with the verdict once the stream ended; the socket is reset then. */
  settled: Promise<Verdict>;
}

/**
 * dial connects to `port`, lets `start` begin sending (e.g. an endless upload)
 * and judges what comes back. A reset reply resets the socket at once; after a
 * clean one the caller closes it (it may still be sending).
 */
export async function dial(port: number, start: (s: Stream) => void): Promise<Stream> {
  let stream: Stream | undefined;
  const end = new End((e) => {
    if (e.ending === "reset") stream?.sock.terminate();
  });
  const sock = await Bun.connect<Stream>({
    hostname: "127.0.0.1",
    port,
    allowHalfOpen: true,
    socket: {
      open(sock) {
        stream = { end, sock, sender: new Sender(sock as Socket<unknown>, () => end.writeFailed()), settled: end.settled() };
        sock.data = stream;
        start(stream);
      },
      data: (sock, d) => sock.data.end.data(d),
      drain: (sock) => sock.data.sender.flush(),
      end: (sock) => sock.data.end.fin(),
      close: (_sock, err) => end.close(err),
      error() {},
    },
  });
  if (end.ending === "reset") sock.terminate();
  return sock.data;
}

/** listen opens a loopback target on a free port, half-open allowed, so scenarios differ only in their handlers. */
export function listen<T>(socket: SocketHandler<T>): TCPSocketListener<T> {
  return Bun.listen<T>({ hostname: "127.0.0.1", port: 0, allowHalfOpen: true, socket });
}
