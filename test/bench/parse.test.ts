import { describe, expect, test } from "bun:test";
import { parseIperf, parseRedisBenchmark, parseWrk, toMs } from "../../scripts/bench/parse.ts";

// Output captured from wrk 4.1.0 and redis-benchmark 7.0.15 on Debian 12.
const WRK_LATENCY = `Running 1s test @ http://127.0.0.1:45601/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   146.43us  369.38us   4.52ms   95.37%
    Req/Sec    47.02k    17.16k  110.56k    85.71%
  Latency Distribution
     50%   69.00us
     75%  104.00us
     90%  181.00us
     99%    2.19ms
  98191 requests in 1.10s, 14.05MB read
Requests/sec:  89272.58
Transfer/sec:     12.77MB
`;

const WRK_ERRORS = `Running 1s test @ http://127.0.0.1:1/
  1 threads and 4 connections
  17316 requests in 1.10s, 2.39MB read
  Socket errors: connect 2, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  15749.55
`;

const REDIS_Q =
  "\rSET: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r" +
  "                    \rSET: 606060.62 requests per second, p50=1.023 msec\n" +
  "\rGET: 869565.19 requests per second, p50=0.791 msec\n\n";

describe("parseWrk", () => {
  test("reads totals and latency percentiles", () => {
    expect(parseWrk(WRK_LATENCY)).toEqual({
      requests: 98191,
      requestsPerSecond: 89272.58,
      p50Ms: 0.069,
      p99Ms: 2.19,
      errors: 0,
    });
  });
  test("adds socket errors and non-2xx answers", () => {
    const r = parseWrk(WRK_ERRORS);
    expect(r.errors).toBe(10);
    expect(r.p99Ms).toBeNull();
  });
  test("rejects output without a summary", () => {
    expect(() => parseWrk("unable to connect to 127.0.0.1:1 Connection refused")).toThrow();
  });
});

describe("toMs", () => {
  test.each([
    ["69.00us", 0.069],
    ["2.19ms", 2.19],
    ["1.50s", 1500],
  ])("%s", (text, ms) => expect(toMs(text)).toBeCloseTo(ms, 9));
});

describe("parseRedisBenchmark", () => {
  test("keeps the final line of each test, not the progress line", () => {
    expect(parseRedisBenchmark(REDIS_Q)).toEqual({ SET: 606060.62, GET: 869565.19 });
  });
});

describe("parseIperf", () => {
  test("reads the receiver's sum", () => {
    const json = JSON.stringify({ end: { sum_received: { bits_per_second: 8e9, bytes: 1e9 } } });
    expect(parseIperf(json)).toEqual({ bitsPerSecond: 8e9, bytes: 1e9 });
  });
  test("turns iperf3's error field into an exception", () => {
    expect(() => parseIperf(JSON.stringify({ error: "control socket has closed unexpectedly" }))).toThrow(/control socket/);
  });
});
