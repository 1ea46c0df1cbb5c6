/**
 * @module admin-guard: the admin port's front door. Bun.serve's HTTP parser
 * answers a request line it cannot read with its own 505, and closes the
 * connection without a word on a method it does not know (`BREW / HTTP/1.1`);
 * the contract says every request gets an answer below 500. So the admin
 * port is a plain TCP listener that reads each request head itself: a
 * well-formed GET, HEAD or POST is relayed, bytes unchanged, to Bun.serve on
 * a private abstract Unix socket; any other method gets the route table's 405 (with
 * `Allow`); a malformed request line gets 400, an oversized head 431, a
 * chunked body 400 (no admin request needs one, and without a length the
 * guard could not find where the next request starts). Requests on one
 * connection are checked one by one, so keep-alive and pipelining work as
 * before. The guard also counts the replies coming back (status line,
 * headers, Content-Length), because Bun.serve drops a request whose client
 * half-closed before the reply was written: the client's FIN, and an answer
 * of the guard's own, wait until every relayed request has its reply; then
 * the connection is closed.
 *
 * This is not the data path: clarity over speed. Bytes move through Pipes
 * (datapath/pipe.ts), so a slow client of a large /metrics reply is paused
 * like any other.
 */
import type { Socket, TCPSocketListener } from "bun";
import { Pipe } from "../datapath/pipe.ts";
import { encode, judge, MAX_HEAD, type Answer } from "./request-head.ts";

/** IDLE_MS: a head not complete this long after its last byte gets 408. */
export const IDLE_MS = 10_000;
/** LINGER_MS: after its own answer the guard reads and drops what the client still sends this long, so the close is not a reset. */
const LINGER_MS = 2_000;

/** GuardOptions: where Bun.serve listens (a Unix socket name), and how a method it would not take is answered (the route table's 405). */
export interface GuardOptions {
  inner: string;
  route(method: string, target: string): Promise<Answer>;
}

type Client = Socket<Conn>;

/** Conn is one client connection through the guard. */
class Conn {
  #buf = new Uint8Array(0);
  /** bytes of the current request's body still to relay. */
  #bodyLeft = 0;
  /** the methods of requests relayed and not yet answered, oldest first (a reply to HEAD has no body). */
  readonly #pending: string[] = [];
  /** reply framing: the head being read, and the body bytes of the current reply still to pass. */
  #replyHead = "";
  #replyBodyLeft = 0;
  /** a reply without a length (chunked) was seen: replies can no longer be counted, so the relay's end is waited for. */
  #unframed = false;
  /** the client sent its FIN: once every reply is out, the connection ends. */
  #clientDone = false;
  #up: Socket<Conn> | null = null;
  /** one dial per client connection: set when it starts, #up when it connects. */
  #dialled = false;
  readonly toUp: Pipe;
  readonly toClient: Pipe;
  /** the guard's own answer, written once the relay has ended (or at once when nothing was relayed). */
  #answer: Uint8Array | null = null;
  #stopped = false;
  #upEnded = false;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly client: Client,
    readonly opts: GuardOptions,
  ) {
    this.toUp = new Pipe(client, 64 * 1024);
    this.toClient = new Pipe(null, 64 * 1024);
    this.toClient.dst = client;
    this.#arm(IDLE_MS);
  }

  /**
   * The guard's idle timer runs only while a head is incomplete (or nothing
   * came yet): once requests are relayed, Bun.serve's own idle timeout ends
   * a quiet connection, and a slow reply (POST /upgrade) is waited for.
   */

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#idle(), ms);
  }

  /** #idle: nothing came for IDLE_MS (or the linger is over): a head left incomplete gets 408, anything else just ends. */
  #idle(): void {
    if (!this.#stopped && this.#buf.some((b) => b !== 13 && b !== 10)) return this.#refuse(408, "the request head was not complete within 10 s");
    this.close();
  }

  data(chunk: Uint8Array): void {
    if (this.#stopped) return; // lingering: what comes after our answer is dropped
    this.#take(chunk);
    if (this.#stopped) return;
    if (this.#buf.length > 0 && this.#bodyLeft === 0) this.#arm(IDLE_MS);
    else clearTimeout(this.#timer);
  }

  #take(chunk: Uint8Array): void {
    const b = new Uint8Array(this.#buf.length + chunk.length);
    b.set(this.#buf);
    b.set(chunk, this.#buf.length);
    this.#buf = b;
    for (let i = 0; i < 1000 && this.#buf.length > 0 && !this.#stopped; i++) {
      if (this.#bodyLeft > 0) {
        const n = Math.min(this.#bodyLeft, this.#buf.length);
        this.#relay(this.#buf.subarray(0, n));
        this.#bodyLeft -= n;
        this.#buf = this.#buf.subarray(n);
        continue;
      }
      // A request may be preceded by empty lines (RFC 9112 2.2).
      let skip = 0;
      while (skip + 1 < this.#buf.length && this.#buf[skip] === 13 && this.#buf[skip + 1] === 10) skip += 2;
      const end = indexOfHeadEnd(this.#buf, skip);
      if (end < 0) {
        if (this.#buf.length - skip > MAX_HEAD) this.#refuse(431, "the request head is too large");
        return;
      }
      const head = Buffer.from(this.#buf.subarray(skip, end)).toString("latin1");
      const v = judge(head);
      if (v.kind === "refuse") return this.#refuse(v.status, v.why);
      if (v.kind === "route") {
        this.#stopped = true;
        void this.opts.route(v.method, v.target).then((a) => this.#finish(encode(a)));
        return;
      }
      this.#relay(this.#buf.subarray(0, end + 4));
      this.#pending.push(head.slice(0, head.indexOf(" ")));
      this.#bodyLeft = v.bodyLength;
      this.#buf = this.#buf.subarray(end + 4);
    }
  }

  #relay(bytes: Uint8Array): void {
    // Copied: the buffer is ours to slice further, the pipe may keep a chunk.
    if (!this.toUp.push(bytes.slice())) this.close();
    if (!this.#dialled) this.#dial();
  }

  #dial(): void {
    this.#dialled = true;
    void Bun.connect<Conn>({ unix: this.opts.inner, allowHalfOpen: true, data: this, socket: upstream }).catch(() => this.close());
  }

  upOpen(up: Socket<Conn>): void {
    // The connection may have ended while the dial was in flight.
    if (this.#upEnded || this.#closed) return void up.end();
    this.#up = up;
    this.toUp.dst = up;
    this.toClient.src = up;
    if (!this.toUp.flush()) this.close();
  }

  /** fromUp passes a piece of Bun.serve's replies on, counting complete replies as it goes. */
  fromUp(chunk: Uint8Array): void {
    if (!this.toClient.push(chunk)) return this.close();
    if (this.#unframed) return;
    let at = 0;
    for (let i = 0; i < 1000 && at < chunk.length; i++) {
      if (this.#replyBodyLeft > 0) {
        const n = Math.min(this.#replyBodyLeft, chunk.length - at);
        this.#replyBodyLeft -= n;
        at += n;
        if (this.#replyBodyLeft === 0) this.#replied();
        continue;
      }
      const text = Buffer.from(chunk.subarray(at)).toString("latin1");
      const end = (this.#replyHead + text).indexOf("\r\n\r\n");
      if (end < 0) {
        this.#replyHead += text;
        return;
      }
      const head = (this.#replyHead + text).slice(0, end);
      at += end + 4 - this.#replyHead.length;
      this.#replyHead = "";
      const status = Number(head.slice(9, 12));
      if (status >= 100 && status < 200) continue; // 100 Continue: the final reply is still to come
      if (/^transfer-encoding:/im.test(head)) {
        this.#unframed = true;
        return;
      }
      const length = this.#pending[0] === "HEAD" || status === 204 || status === 304 ? 0 : Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      this.#replyBodyLeft = length;
      if (length === 0) this.#replied();
    }
  }

  /** #replied: one relayed request has its whole reply; if nothing more is owed, what was waiting goes ahead. */
  #replied(): void {
    this.#pending.shift();
    if (this.#pending.length > 0) return;
    if (this.#answer !== null || this.#clientDone) this.upEnded();
  }

  /** the relay owes nothing more (every reply counted, or Bun.serve closed): our own answer, then the end. */
  upEnded(): void {
    if (this.#upEnded) return;
    this.#upEnded = true;
    this.#up?.end();
    if (this.#answer !== null) {
      this.toClient.push(this.#answer);
      this.#answer = null;
    }
    this.toClient.end();
    this.#linger();
  }

  #refuse(status: 400 | 408 | 431, why: string): void {
    this.#stopped = true;
    this.#finish(encode({ status, headers: { "content-type": "text/plain; charset=utf-8" }, body: `bad request: ${why}\n` }));
  }

  /** #finish sends the guard's own answer after every reply owed before it, then ends the connection. */
  #finish(answer: Uint8Array): void {
    this.#answer = answer;
    if (this.#pending.length === 0) this.upEnded();
    // Else the answer waits for the replies owed (#replied), or for the relay's end if they cannot be counted.
    else if (this.#unframed) this.toUp.end();
  }

  /** #linger: our side is shut; drop what the client still sends for a while, then close (a close with unread bytes would be a reset). */
  #linger(): void {
    this.#stopped = true;
    this.#arm(LINGER_MS);
  }

  /** clientEnded: the client sent its FIN. Mid-head it gets a 400; otherwise the FIN goes on to Bun.serve, which answers what it has and closes. */
  clientEnded(): void {
    if (this.#stopped) return;
    if (this.#bodyLeft > 0) return this.#refuse(400, "the request body ended before its Content-Length");
    // Stray line ends between requests are allowed (RFC 9112 2.2); anything else is a head cut short.
    if (this.#buf.some((b) => b !== 13 && b !== 10)) return this.#refuse(400, "the request ended before its head was complete");
    if (!this.#dialled) return this.close();
    this.#clientDone = true;
    if (this.#pending.length === 0) this.upEnded();
    // Replies that cannot be counted end with the relay: pass the FIN on and wait for it.
    else if (this.#unframed) this.toUp.end();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.client.end();
    this.#up?.end();
  }
}

/** indexOfHeadEnd is where the CRLF CRLF that ends a head starts, from `from`, or -1. */
function indexOfHeadEnd(b: Uint8Array, from: number): number {
  for (let i = from; i + 3 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  return -1;
}

const upstream = {
  open: (s: Socket<Conn>) => s.data.upOpen(s),
  data: (s: Socket<Conn>, d: Uint8Array) => s.data.fromUp(d),
  drain: (s: Socket<Conn>) => void s.data.toUp.flush(),
  end: (s: Socket<Conn>) => s.data.upEnded(),
  close: (s: Socket<Conn>) => s.data.upEnded(),
  error: (s: Socket<Conn>) => s.data.close(),
  connectError: (s: Socket<Conn>) => s.data.close(),
};

/** listenGuard opens the admin port (or adopts `fd`, an upgrade's): each connection is checked, then relayed to `opts.inner`. */
export function listenGuard(hostname: string, port: number, opts: GuardOptions, fd?: number): { listener: TCPSocketListener<Conn>; open: Set<Client> } {
  const open = new Set<Client>();
  const socket = {
    open: (s: Client) => {
      s.data = new Conn(s, opts);
      open.add(s);
    },
    data: (s: Client, d: Uint8Array) => s.data.data(d),
    drain: (s: Client) => void s.data.toClient.flush(),
    end: (s: Client) => s.data.clientEnded(),
    close: (s: Client) => {
      open.delete(s);
      s.data.close();
    },
    error: (s: Client) => s.data.close(),
  };
  const where = fd === undefined ? { hostname, port } : { fd };
  return { listener: Bun.listen<Conn>({ ...where, allowHalfOpen: true, socket } as unknown as Bun.TCPSocketListenOptions<Conn>), open };
}
