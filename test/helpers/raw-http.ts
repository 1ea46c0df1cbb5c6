/**
 * Test helpers: raw HTTP/1.x over a plain TCP socket, for requests no HTTP
 * client would send (no Host, CONNECT, garbage, pipelining, byte-at-a-time).
 */
import { HOST, withTimeout } from "./net.ts";

export interface RawOptions {
  /** send the bytes in pieces of this size, awaiting `gapMs` between them (a slow client). */
  pieceSize?: number;
  gapMs?: number;
  /** after sending: "fin" half-closes (the default), "keep" leaves the socket open, "reset" drops it at once. */
  after?: "fin" | "keep" | "reset";
  /** give up waiting for the server to close after this long; the reply then has `timedOut`. */
  timeoutMs?: number;
}

export interface RawReply {
  /** everything the server sent. */
  bytes: Buffer;
  /** the status code of every HTTP/1.x status line in `bytes`, in order. */
  statuses: number[];
  /** the server had not closed the connection by `timeoutMs`. */
  timedOut: boolean;
  /** the server reset the connection (or the socket failed) rather than closing it. */
  error: Error | undefined;
}

/** STATUS_LINE finds status lines anywhere in a reply, so pipelined replies count too. */
const STATUS_LINE = /HTTP\/1\.[01] (\d{3}) /g;

/** statusesOf lists the status code of every status line in `bytes`. */
export function statusesOf(bytes: Buffer): number[] {
  return [...bytes.toString("latin1").matchAll(STATUS_LINE)].map((m) => Number(m[1]));
}

/**
 * rawRequest connects to 127.0.0.1:port, sends `data` as told, and collects
 * the reply until the server closes or `timeoutMs` passes; it never throws
 * for a refused write or a reset, which are outcomes to report, not bugs.
 */
export async function rawRequest(port: number, data: Uint8Array | string, opts: RawOptions = {}): Promise<RawReply> {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  const chunks: Buffer[] = [];
  let error: Error | undefined;
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  let drained: (() => void) | undefined;
  const socket = await Bun.connect({
    hostname: HOST,
    port,
    allowHalfOpen: true,
    socket: {
      data: (_s, d) => void chunks.push(Buffer.from(d)),
      drain: () => drained?.(),
      close: (_s, err) => {
        error ??= err;
        closed();
      },
      error: (_s, err) => void (error ??= err),
    },
  });
  let isClosed = false;
  void done.then(() => (isClosed = true));
  // Writes what the kernel takes and waits for drain for the rest: Bun's write() buffers nothing.
  const writeAll = async (piece: Uint8Array) => {
    while (piece.length > 0 && !isClosed) {
      const n = socket.write(piece);
      if (n < 0) return;
      piece = piece.subarray(n);
      if (piece.length > 0) await Promise.race([new Promise<void>((r) => (drained = r)), done]);
    }
  };
  const size = opts.pieceSize ?? bytes.length;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const send = async () => {
    for (let at = 0; at < bytes.length && !isClosed; at += Math.max(1, size)) {
      if (at > 0 && opts.gapMs) await Bun.sleep(opts.gapMs); // pacing a slow client, not synchronising
      await writeAll(bytes.subarray(at, at + Math.max(1, size)));
    }
    if (isClosed) return;
    if (opts.after === "reset") socket.terminate();
    else if (opts.after !== "keep") socket.shutdown();
  };
  let timedOut = false;
  try {
    await withTimeout(
      send().then(() => done),
      timeoutMs,
      "the server to close",
    );
  } catch {
    timedOut = true;
  } finally {
    if (!isClosed) socket.terminate();
  }
  const all = Buffer.concat(chunks);
  return { bytes: all, statuses: statusesOf(all), timedOut, error };
}
