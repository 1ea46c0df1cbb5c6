/**
 * @module preface: what sluice must read from a client before it can dial:
 * a PROXY protocol header (accept_proxy) and, on an app with SNI routes, the
 * TLS ClientHello. Pure: chunks in, a verdict out.
 *
 * The bytes after the PROXY header, ClientHello included, are handed back
 * unchanged to be forwarded once a target is chosen: sluice never terminates
 * TLS. Both parsers cap what they read (16 KiB each), so a preface holds at
 * most 32 KiB of a client's bytes, and a client that sends no complete
 * preface within connect_timeout is closed by the caller.
 */
import { parseProxyHeader, type Address } from "../net/proxy-protocol.ts";
import type { CloseReason } from "./close-reason.ts";
import { readHello } from "../net/sni.ts";

export type PrefaceResult =
  | { state: "wait" }
  | { state: "reject"; reason: CloseReason; why: string }
  | {
      state: "done";
      /** what the client sent after any PROXY header: forward it as is. */
      rest: Uint8Array;
      /** the client and the address it connected to, from a PROXY header that carried them. */
      source?: Address;
      destination?: Address;
      /** the TLS server name, on an app with routes (undefined: the client sent none). */
      serverName?: string;
    };

const WAIT = { state: "wait" } as const;
const EMPTY = new Uint8Array(0);

export class Preface {
  #buf: Uint8Array = EMPTY;
  #proxyDone: boolean;
  #source: Address | undefined;
  #destination: Address | undefined;

  constructor(
    readonly acceptProxy: boolean,
    readonly sni: boolean,
  ) {
    this.#proxyDone = !acceptProxy;
  }

  /** push adds a chunk the client sent and says whether the preface is complete. */
  push(chunk: Uint8Array): PrefaceResult {
    if (this.#buf.length === 0) this.#buf = chunk;
    else {
      const joined = new Uint8Array(this.#buf.length + chunk.length);
      joined.set(this.#buf);
      joined.set(chunk, this.#buf.length);
      this.#buf = joined;
    }
    if (!this.#proxyDone) {
      const h = parseProxyHeader(this.#buf);
      if (h.kind === "incomplete") return WAIT;
      if (h.kind === "invalid") return { state: "reject", reason: "denied", why: h.reason };
      this.#proxyDone = true;
      this.#source = h.source;
      this.#destination = h.destination;
      this.#buf = this.#buf.subarray(h.length);
    }
    let serverName: string | undefined;
    if (this.sni) {
      const hello = readHello(this.#buf);
      if (hello.kind === "incomplete") return WAIT;
      if (hello.kind === "invalid") return { state: "reject", reason: "no-target", why: hello.reason };
      serverName = hello.serverName;
    }
    return { state: "done", rest: this.#buf, source: this.#source, destination: this.#destination, serverName };
  }

  /** failure is the verdict when the client stops (FIN, or the deadline) before the preface is complete. */
  failure(what: string): { reason: CloseReason; why: string } {
    return this.#proxyDone
      ? { reason: "no-target", why: `no complete TLS ClientHello ${what}` }
      : { reason: "denied", why: `no complete PROXY protocol header ${what}` };
  }
}
