/**
 * Test helpers: real loopback servers and clients, synchronised on socket events.
 */
import type { Socket, TCPSocketListener } from "bun";

export const HOST = "127.0.0.1";

/**
 * Ports this process has handed out. The kernel picks a port for bind(0) at
 * random each time, so two calls in a row can return the same one once the
 * first is released (about 1 in 14,000 a pair; with hundreds of pairs a suite
 * run sometimes saw sluice's admin and app ports collide).
 */
const given = new Set<number>();

function unused(take: () => number): number {
  for (let i = 0; i < 1000; i++) {
    const port = take();
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error("no loopback port left that this process has not handed out already");
}

function probe(): number {
  const l = Bun.listen({ hostname: HOST, port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/** freePort asks the kernel for a port that is free right now and that this process has not handed out before. */
export function freePort(): number {
  return unused(probe);
}

/** freePorts returns `n` distinct free ports. */
export function freePorts(n: number): number[] {
  return Array.from({ length: n }, freePort);
}

/** deadPort is a loopback port with nothing listening: dials to it are refused. */
export const deadPort = freePort;

export interface Backend extends Disposable {
  readonly port: number;
  readonly listener: TCPSocketListener<unknown>;
  /** connections accepted so far. */
  accepted: number;
  /** sockets open right now. */
  open: number;
  stop(): void;
}

type Handlers = {
  open?(s: Socket<unknown>): void;
  data?(s: Socket<unknown>, d: Buffer): void;
  end?(s: Socket<unknown>): void;
  drain?(s: Socket<unknown>): void;
  close?(s: Socket<unknown>): void;
};

/** backend listens on 127.0.0.1 (port 0 unless given), half-open allowed, counting connections. */
export function backend(h: Handlers, port = 0, hostname = HOST): Backend {
  const b = {
    accepted: 0,
    open: 0,
  } as Backend & { accepted: number; open: number };
  const listener = Bun.listen<unknown>({
    hostname,
    port,
    allowHalfOpen: true,
    socket: {
      open(s) {
        b.accepted++;
        b.open++;
        h.open?.(s);
      },
      data(s, d) {
        h.data?.(s, d);
      },
      drain(s) {
        h.drain?.(s);
      },
      end(s) {
        if (h.end) h.end(s);
        else s.end();
      },
      close(s) {
        b.open--;
        h.close?.(s);
      },
      error() {},
    },
  });
  return Object.assign(b, {
    port: listener.port,
    listener,
    stop: () => listener.stop(true),
    [Symbol.dispose]: () => listener.stop(true),
  });
}

/**
 * writeAll writes `data` to a Bun socket, queueing what write() does not take
 * and finishing on drain, as Bun buffers nothing itself (docs/BUN-SOCKETS.md).
 */
export class Writer {
  #queue: Uint8Array[] = [];
  #waiters: (() => void)[] = [];
  constructor(readonly s: Socket<unknown>) {}
  write(data: Uint8Array): void {
    if (this.#queue.length === 0) {
      const n = this.s.write(data);
      if (n === data.length) return;
      data = data.subarray(Math.max(0, n));
    }
    this.#queue.push(data);
  }
  /** onDrain must be called from the socket's drain handler. */
  onDrain(): void {
    while (this.#queue.length > 0) {
      const c = this.#queue[0]!;
      const n = this.s.write(c);
      if (n === c.length) this.#queue.shift();
      else {
        if (n > 0) this.#queue[0] = c.subarray(n);
        return;
      }
    }
    for (const w of this.#waiters.splice(0)) w();
  }
  get pending(): number {
    return this.#queue.reduce((n, c) => n + c.length, 0);
  }
  flushed(): Promise<void> {
    return this.#queue.length === 0 ? Promise.resolve() : new Promise((r) => this.#waiters.push(r));
  }
}

/** echoBackend echoes bytes; a client FIN is answered with shutdown once all is written back. */
export function echoBackend(port = 0): Backend {
  const writers = new WeakMap<Socket<unknown>, Writer>();
  const w = (s: Socket<unknown>) => {
    let x = writers.get(s);
    if (!x) writers.set(s, (x = new Writer(s)));
    return x;
  };
  return backend(
    {
      data: (s, d) => w(s).write(d),
      drain: (s) => w(s).onDrain(),
      end: (s) => void w(s).flushed().then(() => s.shutdown()),
    },
    port,
  );
}

/** greetBackend writes its `name` on connect and then echoes, so tests can see which target they reached. */
export function nameBackend(name: string, port = 0, hostname = HOST): Backend {
  return backend({ open: (s) => void s.write(name), data: (s, d) => void s.write(d), end: (s) => s.shutdown() }, port, hostname);
}

export interface Client {
  socket: Socket<unknown>;
  writer: Writer;
  /** everything received so far. */
  received(): Buffer;
  bytes: number;
  /** resolves when the peer finishes sending (FIN) or the socket closes. */
  ended: Promise<void>;
  /** resolves when the socket is closed, with the error if it was reset. */
  closed: Promise<Error | undefined>;
  /** resolves once at least n bytes have arrived (or the socket closed). */
  waitFor(n: number): Promise<void>;
}

/** connect opens a half-open-capable client to 127.0.0.1:port and collects what it receives. */
export async function connect(port: number, opts: { keep?: boolean; onData?: (d: Buffer) => void } = {}): Promise<Client> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let endResolve!: () => void;
  let closeResolve!: (e: Error | undefined) => void;
  const ended = new Promise<void>((r) => (endResolve = r));
  const closed = new Promise<Error | undefined>((r) => (closeResolve = r));
  let waiters: { n: number; r: () => void }[] = [];
  let isClosed = false;
  const wake = () => {
    waiters = waiters.filter((w) => (bytes >= w.n || isClosed ? (w.r(), false) : true));
  };
  let writer!: Writer;
  const socket = await Bun.connect<unknown>({
    hostname: HOST,
    port,
    allowHalfOpen: true,
    socket: {
      data(_s, d) {
        bytes += d.length;
        if (opts.keep !== false) chunks.push(d);
        opts.onData?.(d);
        wake();
      },
      drain: () => writer.onDrain(),
      end() {
        endResolve();
      },
      close(_s, err) {
        isClosed = true;
        endResolve();
        closeResolve(err);
        wake();
      },
      error() {},
    },
  });
  writer = new Writer(socket);
  const c: Client = {
    socket,
    writer,
    received: () => Buffer.concat(chunks),
    get bytes() {
      return bytes;
    },
    ended,
    closed,
    waitFor(n) {
      if (bytes >= n || isClosed) return Promise.resolve();
      return new Promise((r) => {
        waiters.push({ n, r });
      });
    },
  };
  return c;
}

/** withTimeout rejects if `p` has not settled within `ms`, naming `what`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** exchange sends `data`, half-closes, and resolves with everything received until the peer closes. */
export async function exchange(port: number, data: string | Uint8Array): Promise<string> {
  const c = await connect(port);
  c.writer.write(typeof data === "string" ? Buffer.from(data) : data);
  await c.writer.flushed();
  c.socket.shutdown();
  await withTimeout(c.closed, 5000, "the proxied reply");
  c.socket.end();
  return c.received().toString();
}

/**
 * refused connects, sends `data` (if any), and resolves with the bytes
 * received once sluice has closed the client. A reset that beats Bun's
 * connect (Bun then rejects with ECONNRESET) counts as closed with 0 bytes:
 * for a client sluice turns away at once, both orders happen.
 */
export async function refused(port: number, data?: string): Promise<number> {
  let c: Client;
  try {
    c = await connect(port);
  } catch {
    return 0;
  }
  if (data !== undefined) c.writer.write(Buffer.from(data));
  await withTimeout(c.ended, 5000, "the client to be closed");
  c.socket.end();
  return c.bytes;
}
