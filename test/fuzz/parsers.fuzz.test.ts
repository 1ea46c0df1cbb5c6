/**
 * Fuzzing the two parsers that read a client's first bytes before any dial:
 * the PROXY protocol header and the TLS ClientHello. Fixed seed, bounded
 * count. No input may throw; every verdict must be one the caller handles;
 * a header found must lie within the input; and a verdict must not change
 * once decided (bytes after a complete header, or after an invalid prefix,
 * change nothing), since sluice parses again as each read arrives.
 */
import { expect, test } from "bun:test";
import { parseProxyHeader, proxyV1, proxyV2 } from "../../src/net/proxy-protocol.ts";
import { readHello } from "../../src/net/sni.ts";
import { clientHello } from "../helpers/tls-hello.ts";
import { FUZZ_SEED, Rng } from "./prng.ts";

export const PARSER_CASES = 20_000;

function mutate(rng: Rng, base: Uint8Array): Uint8Array {
  const b = new Uint8Array(base);
  switch (rng.int(5)) {
    case 0: // flip a few bytes
      for (let i = rng.between(1, 4); i > 0; i--) b[rng.int(b.length)] = rng.int(256);
      return b;
    case 1: // truncate
      return b.subarray(0, rng.int(b.length + 1));
    case 2: // append noise
      return new Uint8Array([...b, ...rng.bytes(rng.int(64))]);
    case 3: // a length field set to something odd
      b[rng.pick([3, 4, 6, 7, 8, 14, 15, 43, 44])! % b.length] = rng.pick([0, 1, 0x7f, 0xff]);
      return b;
    default: // pure noise, sometimes starting like a real header
      return new Uint8Array([...b.subarray(0, rng.int(16)), ...rng.bytes(rng.int(300))]);
  }
}

function stable<T extends { kind: string }>(parse: (b: Uint8Array) => T, input: Uint8Array, rng: Rng): void {
  const whole = parse(input);
  expect(["incomplete", "invalid", "ok"]).toContain(whole.kind);
  if (whole.kind === "ok" && "length" in whole) expect(whole.length as number).toBeLessThanOrEqual(input.length);
  // Decided verdicts stay decided when more bytes arrive.
  if (whole.kind !== "incomplete") {
    const more = parse(new Uint8Array([...input, ...rng.bytes(rng.int(32))]));
    expect(more.kind).toBe(whole.kind);
    if (whole.kind === "ok") expect(more).toEqual(whole);
  }
}

test(`PROXY header parser: ${PARSER_CASES} fuzzed inputs`, () => {
  const rng = new Rng(FUZZ_SEED);
  const seeds = [
    proxyV1({ source: { address: "127.0.0.2", port: 1 }, destination: { address: "127.0.0.1", port: 2 } }),
    proxyV1({ source: { address: "::1", port: 65535 }, destination: { address: "2001:db8::1", port: 80 } }),
    proxyV2({ source: { address: "127.0.0.2", port: 1 }, destination: { address: "127.0.0.1", port: 2 } }),
    proxyV2({ source: { address: "::1", port: 1 }, destination: { address: "::2", port: 2 } }),
    proxyV2(undefined),
    new TextEncoder().encode("PROXY UNKNOWN\r\n"),
  ];
  const seen = { incomplete: 0, invalid: 0, ok: 0 };
  for (let i = 0; i < PARSER_CASES; i++) {
    const input = mutate(rng, rng.pick(seeds));
    stable(parseProxyHeader, input, rng);
    seen[parseProxyHeader(input).kind]++;
  }
  // The corpus reaches every verdict, so the checks above are not vacuous.
  expect(Object.values(seen).every((n) => n > 100)).toBe(true);
});

test(`ClientHello parser: ${PARSER_CASES} fuzzed inputs`, () => {
  const rng = new Rng(FUZZ_SEED ^ 0x7115);
  const seeds = [
    clientHello({ sni: "a.example.org" }),
    clientHello({ sni: "x.test", filler: [10, 0, 200], recordSize: 9 }),
    clientHello({ filler: [5] }),
    clientHello(),
    clientHello({ sni: "deep.test", filler: [3000], recordSize: 1000 }),
  ];
  const seen = { incomplete: 0, invalid: 0, ok: 0 };
  for (let i = 0; i < PARSER_CASES; i++) {
    const input = mutate(rng, rng.pick(seeds));
    stable(readHello, input, rng);
    seen[readHello(input).kind]++;
  }
  expect(Object.values(seen).every((n) => n > 100)).toBe(true);
});
