/**
 * Fuzz helpers: a small seeded PRNG so every run generates the same cases.
 * A failure message names the seed and the case, so it can be replayed.
 */

/** FUZZ_SEED is the fixed seed CI runs with; set SLUICE_FUZZ_SEED to explore others locally. */
export const FUZZ_SEED = Number(process.env.SLUICE_FUZZ_SEED || 0x5eed51ce);

/**
 * mulberry32 is Tommy Ettinger's 32-bit PRNG: one multiply-xorshift step per
 * call, a period of 2^32, and plenty for generating test input.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rng wraps mulberry32 with the draws the generators need. */
export class Rng {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** float in [0, 1). */
  float(): number {
    return this.#next();
  }
  /** integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  /** integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  /** a string of `n` code points drawn from ASCII, Latin-1, BMP (lone surrogates included) and astral planes. */
  unicode(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) {
      const plane = this.int(4);
      const cp = plane === 0 ? this.int(0x80) : plane === 1 ? this.int(0x100) : plane === 2 ? this.int(0x10000) : 0x10000 + this.int(0x100000);
      s += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    }
    return s;
  }
}
