/**
 * @module health/reply: does a target's reply start with the bytes a health
 * check expects? Pure: it sees the reply chunk by chunk as it arrives, decides
 * at the first byte that differs, and keeps no byte past `expect`'s length.
 */

/** SHOWN is how many bytes of a reply a fail reason quotes at most. */
const SHOWN = 32;

/** ReplyMatcher compares a reply, chunk by chunk, with the bytes it must start with. */
export class ReplyMatcher {
  /** how many bytes of the reply have come so far; each equals `expect` at its offset. */
  #matched = 0;

  constructor(readonly expect: Uint8Array) {}

  /**
   * feed takes the next chunk of the reply and returns null once the reply
   * starts with `expect` (pass), the fail reason at the first byte that
   * differs, or undefined while more bytes are needed. Bytes past `expect`
   * are ignored.
   */
  feed(chunk: Uint8Array): string | null | undefined {
    const n = Math.min(this.expect.length - this.#matched, chunk.length);
    for (let i = 0; i < n; i++) {
      if (chunk[i] !== this.expect[this.#matched + i]) return `unexpected reply ${this.#quote(chunk)}`;
    }
    this.#matched += n;
    return this.#matched === this.expect.length ? null : undefined;
  }

  /** ended is the fail reason when the peer closes before the whole of `expect` came. */
  ended(): string {
    return this.#matched === 0 ? "closed without a reply" : `reply ${this.#quote()} cut short`;
  }

  /** timedOut is the fail reason when the whole of `expect` has not come within `ms`. */
  timedOut(ms: number): string {
    return this.#matched === 0 ? `no reply within ${ms}ms` : `incomplete reply ${this.#quote()} within ${ms}ms`;
  }

  /** #quote shows the reply so far (the matched bytes, then `next`), cut at SHOWN bytes. */
  #quote(next: Uint8Array = new Uint8Array(0)): string {
    const head = this.expect.subarray(0, Math.min(this.#matched, SHOWN));
    const tail = next.subarray(0, SHOWN - head.length);
    const cut = this.#matched + next.length > SHOWN;
    return `"${printable(head)}${printable(tail)}${cut ? "…" : ""}"`;
  }
}

/**
 * printable writes bytes as text a config could quote back: printable ASCII
 * as itself, and everything else (quotes and backslashes included) as one of
 * the escapes `send` and `expect` accept: `\r`, `\n`, `\t`, `\0`, `\\`, `\xNN`.
 */
export function printable(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    if (b === 13) s += "\\r";
    else if (b === 10) s += "\\n";
    else if (b === 9) s += "\\t";
    else if (b === 0) s += "\\0";
    else if (b === 92) s += "\\\\";
    else if (b >= 0x20 && b <= 0x7e && b !== 0x22) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return s;
}
