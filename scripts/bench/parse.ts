/**
 * Parsers for the load tools' output (pure: text in, numbers out).
 * @module
 */

export interface IperfResult {
  /** Received throughput, bits per second. */
  bitsPerSecond: number;
  /** Bytes the receiver got during the test. */
  bytes: number;
}

/** parseIperf reads `iperf3 -J` output: the receiver's totals, summed over all streams. */
export function parseIperf(json: string): IperfResult {
  const data = JSON.parse(json) as {
    error?: string;
    end?: { sum_received?: { bits_per_second?: number; bytes?: number } };
  };
  if (data.error) throw new Error(`iperf3: ${data.error}`);
  const sum = data.end?.sum_received;
  if (typeof sum?.bits_per_second !== "number" || typeof sum.bytes !== "number") {
    throw new Error("iperf3: no end.sum_received in its JSON");
  }
  return { bitsPerSecond: sum.bits_per_second, bytes: sum.bytes };
}

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds (present with --latency). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** connect + read + write + timeout socket errors, and non-2xx/3xx answers. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** toMs converts wrk's "123.45us" / "1.20ms" / "2.00s" to milliseconds. */
export function toMs(text: string): number {
  const m = text.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) throw new Error(`wrk: cannot read duration "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** parseWrk reads wrk's plain-text summary. */
export function parseWrk(out: string): WrkResult {
  const total = out.match(/^\s*(\d+) requests in /m);
  const rps = out.match(/^Requests\/sec:\s+([\d.]+)/m);
  if (!total || !rps) throw new Error(`wrk: no summary in its output:\n${out}`);
  const pct = (p: string) => {
    const m = out.match(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m"));
    return m ? toMs(m[1]!) : null;
  };
  let errors = 0;
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  if (sock) errors += sock.slice(1).reduce((a, b) => a + Number(b), 0);
  const non2xx = out.match(/Non-2xx or 3xx responses: (\d+)/);
  if (non2xx) errors += Number(non2xx[1]);
  return {
    requests: Number(total[1]),
    requestsPerSecond: Number(rps[1]),
    p50Ms: pct("50"),
    p99Ms: pct("99"),
    errors,
  };
}

/** parseRedisBenchmark reads `redis-benchmark -q`: one "TEST: N requests per second" per test. */
export function parseRedisBenchmark(out: string): Record<string, number> {
  const result: Record<string, number> = {};
  // -q redraws a progress line with \r before printing the final one.
  for (const line of out.split(/[\r\n]+/)) {
    const m = line.match(/^([A-Z_]+): ([\d.]+) requests per second/);
    if (m) result[m[1]!] = Number(m[2]);
  }
  if (Object.keys(result).length === 0) throw new Error(`redis-benchmark: no results in its output:\n${out}`);
  return result;
}
