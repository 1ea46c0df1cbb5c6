/**
 * @module chaos/pattern: the bytes of a test stream and how a receiver judges
 * what it got. Pure.
 *
 * A stream is an 8-byte header (stream id, declared length, both u32 big
 * endian) and then `length` pattern bytes. Byte i of stream `id` is
 * PATTERN[(i + id * 7919) % 1 MiB], from a seeded PRNG, so a lost, repeated,
 * shifted or reordered chunk shows as a mismatch (except a shift by a whole
 * MiB, which no proxy bug we know of produces).
 */

export const HEADER = 8;
const SIZE = 1 << 20;

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The pattern, twice over, so any window of up to 1 MiB is one subarray. */
const PATTERN = (() => {
  const rand = prng(0x51c3);
  const b = Buffer.alloc(2 * SIZE);
  for (let i = 0; i < SIZE; i++) b[i] = (rand() * 256) | 0;
  b.copy(b, SIZE, 0, SIZE);
  return b;
})();

/** slice returns `len` (≤ 1 MiB) pattern bytes of stream `id` from `offset`, without copying. */
export function slice(id: number, offset: number, len: number): Buffer {
  const start = (offset + id * 7919) % SIZE;
  return PATTERN.subarray(start, start + Math.min(len, SIZE));
}

export function header(id: number, length: number): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt32BE(id >>> 0, 0);
  h.writeUInt32BE(length >>> 0, 4);
  return h;
}

/** How a stream ended, from the receiver's side. */
export type Ending = "fin" | "reset";

/** Verdict on one finished stream. `truncated` is the lie the suite hunts: a clean end before the declared length. */
export type Verdict = "ok" | "reset" | "truncated" | "corrupt";

/** Receiver checks one incoming stream chunk by chunk. */
export class Receiver {
  id = -1;
  declared = -1;
  /** pattern bytes received (after the header). */
  got = 0;
  corrupt = false;
  /** every byte received, header included. */
  bytes = 0;
  #head: Buffer | null = Buffer.alloc(0);

  push(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    let c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#head !== null) {
      const h = Buffer.concat([this.#head, c]);
      if (h.length < HEADER) {
        this.#head = h;
        return;
      }
      this.id = h.readUInt32BE(0);
      this.declared = h.readUInt32BE(4);
      this.#head = null;
      c = h.subarray(HEADER);
    }
    if (this.corrupt || c.length === 0) return;
    if (this.got + c.length > this.declared) {
      this.corrupt = true; // more than declared: duplicated bytes
      return;
    }
    for (let off = 0; off < c.length; ) {
      const n = Math.min(c.length - off, SIZE);
      if (c.compare(slice(this.id, this.got, n), 0, n, off, off + n) !== 0) {
        this.corrupt = true;
        return;
      }
      off += n;
      this.got += n;
    }
  }

  /** verdict judges the stream once it ended (`fin`: a clean end of stream; `reset`: any error). */
  verdict(ending: Ending): Verdict {
    return classify(this.#head === null ? this.declared : -1, this.got, this.corrupt, ending);
  }
}

/**
 * classify: corrupt bytes outrank everything; a reset is a reset whatever came
 * before; a clean end is ok only with every declared byte (a stream whose
 * header never arrived has declared -1, so a clean end of it is truncated).
 */
export function classify(declared: number, got: number, corrupt: boolean, ending: Ending): Verdict {
  if (corrupt) return "corrupt";
  if (ending === "reset") return "reset";
  return declared >= 0 && got === declared ? "ok" : "truncated";
}
