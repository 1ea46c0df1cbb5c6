/**
 * @module config/size: byte sizes ("512B", "64KiB", "1MiB", "64KB") to bytes and back.
 * Pure.
 */

/**
 * UNIT_BYTES: binary units (KiB = 1024) and decimal ones (KB = 1000), as
 * IEC 80000-13 and SI spell them, so "64KB" is 64,000 bytes, not 65,536.
 * Ordered largest first, which formatSize relies on.
 */
const UNIT_BYTES = {
  GiB: 1024 ** 3,
  GB: 1000 ** 3,
  MiB: 1024 ** 2,
  MB: 1000 ** 2,
  KiB: 1024,
  KB: 1000,
  B: 1,
} as const;
type Unit = keyof typeof UNIT_BYTES;

// Digits, an optional fraction, then a unit: no sign, no spaces, no bare
// numbers (bytes or KiB?), and units exactly as spelled above.
const SIZE = /^(\d+(?:\.\d+)?)(GiB|GB|MiB|MB|KiB|KB|B)$/;

const HINT = `(use e.g. "512B", "64KiB", "1MiB")`;

/**
 * parseSize reads a size such as "512B", "64KiB", "1.5MiB" or "64KB" and
 * returns whole bytes, or the reason as a string when the text is not a size
 * or not a whole number of bytes, so callers can attach their own key path.
 *
 * @example
 * parseSize("64KiB"); // 65536
 * parseSize("64KB");  // 64000
 * parseSize("65536"); // '"65536" is not a size (use e.g. "512B", "64KiB", "1MiB")'
 */
export function parseSize(text: string): number | string {
  const m = SIZE.exec(text);
  if (!m) return `${JSON.stringify(text)} is not a size ${HINT}`;
  // Exact decimal arithmetic: in floating point "1.1KB" would be 1100.0000000000002 bytes.
  const [whole = "", fraction = ""] = m[1]!.split(".");
  const scale = 10n ** BigInt(fraction.length);
  const scaled = (BigInt(whole) * scale + BigInt(fraction || "0")) * BigInt(UNIT_BYTES[m[2] as Unit]);
  if (scaled % scale !== 0n) return `${JSON.stringify(text)} is not a whole number of bytes`;
  const bytes = scaled / scale;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return `${JSON.stringify(text)} is too large`;
  return Number(bytes);
}

/**
 * formatSize spells bytes the way a user would write them, for logs and
 * defaults: the largest unit that divides evenly:
 * 65536 → "64KiB", 64000 → "64KB", 1048576 → "1MiB", 100 → "100B".
 */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) return `${bytes}B`;
  for (const [unit, size] of Object.entries(UNIT_BYTES)) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
