/**
 * Config fuzzing: hundreds of generated configs, as TOML and as JSON text,
 * through the pure parseConfigText, and a sample of them through the compiled
 * `dist/sluice --check`. Whatever the input, the outcome is a Config that
 * keeps every documented bound, or a SluiceError whose message (and each
 * ConfigError issue) says something; never another exception, and the binary
 * exits 0 or 1 without a stack trace. The cases come from a fixed seed.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_BUFFER_SIZE, MIN_BUFFER_SIZE, parseConfigText, type Config } from "../../src/config/index.ts";
import { ConfigError, SluiceError } from "../../src/sys/errors.ts";
import { run, tempDir } from "../helpers/sluice.ts";
import { FUZZ_SEED, Rng } from "./prng.ts";

type Format = "toml" | "json";
type Outcome = "config" | "invalid" | "syntax";

interface Case {
  name: string;
  text: string;
  format: Format;
}

/** Raw is a value written verbatim, for tokens JSON.stringify cannot spell: 2^53+1, a TOML date, 1e999. */
class Raw {
  constructor(
    readonly toml: string,
    readonly json: string,
  ) {}
}

type Value = string | number | boolean | null | Raw | Value[] | Table;
interface Table {
  [key: string]: Value;
}

const isTableValue = (v: Value | undefined): v is Table => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Raw);

/** put sets an own property even for `__proto__`, which assignment would treat as the prototype. */
function put(t: Table, key: string, value: Value): void {
  Object.defineProperty(t, key, { value, enumerable: true, writable: true, configurable: true });
}

/** good is a valid config using every key, the starting point for mutations. */
function good(): Table {
  return {
    bind: "127.0.0.1",
    shutdown_timeout: "5s",
    max_connections: 1000,
    buffer_size: "64KiB",
    defaults: { balancer: "round-robin", connect_timeout: "1s", idle_timeout: "0s" },
    health: { interval: "10s", timeout: "1s", rise: 2, fall: 3 },
    admin: { listen: "127.0.0.1:9900" },
    apps: [
      { name: "web", ports: [5001, 5002], targets: ["127.0.0.1:9001", "[::1]:9002"], balancer: "p2c", buffer_size: "1MiB", max_connections: 10 },
      { name: "db", ports: [6001], targets: ["db.internal:5432"], idle_timeout: "5m" },
    ],
  };
}

const NUMBERS = [0, -0, 1, -1, 1.5, 0.1, 100, 101, 65535, 65536, 10_000_000, 10_000_001, 1e21, 1e308, -1e308, 2 ** 53, 5e-324, NaN, Infinity, -Infinity];
const RAWS = [
  new Raw("9007199254740993", "9007199254740993"), // 2^53+1
  new Raw("1979-05-27T07:32:00Z", `"1979-05-27T07:32:00Z"`),
  new Raw("07:32:00", `"07:32:00"`),
  new Raw("0x10", "16"),
  new Raw("1_000", "1000"),
  new Raw("1e999", "1e999"),
  new Raw("-0.0", "-0.0"),
  new Raw(`'''multi\nline'''`, `"multi\\nline"`),
];
const STRINGS = [
  "", " ", "0s", "2s", "1.5s", "-1s", "30", "597h", "64KiB", "64KB", "64kb", "512B", "65MiB", "1.5B", "1KiB", "64MiB",
  "127.0.0.1:9001", "[::1]:9003", "db", ":80", "host:99999", "[nope]:80", "0.0.0.0", "::", "not a host",
  "least-connections", "p2c", "weighted", "__proto__", "web", "my app", "\u0000", "\ud800", "\n", `"`, "\\", "x".repeat(5000),
];
const KEYS = [
  "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "bnid", "", " ", "a b", "ünïcödé",
  "apps", "Apps", "Name", "buffer_size", "max_connections", "rise", "targets", "defaults", "health", "admin",
];

/** weird draws a value of any type, biased towards edges: huge, negative, NaN-ish, wrong type, nested. */
function weird(rng: Rng, depth = 0): Value {
  switch (rng.int(depth > 2 ? 6 : 8)) {
    case 0:
      return rng.pick(NUMBERS);
    case 1:
      return rng.pick(STRINGS);
    case 2:
      return rng.unicode(rng.int(12));
    case 3:
      return rng.chance(0.5);
    case 4:
      return rng.pick(RAWS);
    case 5:
      return rng.chance(0.1) ? null : rng.between(-70000, 70000);
    case 6:
      return Array.from({ length: rng.int(4) }, () => weird(rng, depth + 1));
    default: {
      const t: Table = {};
      for (let i = rng.int(4); i > 0; i--) put(t, rng.pick(KEYS), weird(rng, depth + 1));
      return t;
    }
  }
}

/** Slot is one place in a document a mutation can touch: a key of a table or an index of an array. */
interface Slot {
  parent: Table | Value[];
  key: string | number;
}

function slots(v: Value, out: Slot[] = [], depth = 0): Slot[] {
  if (depth > 6) return out;
  if (Array.isArray(v)) {
    v.forEach((item, i) => {
      out.push({ parent: v, key: i });
      slots(item, out, depth + 1);
    });
  } else if (isTableValue(v)) {
    for (const k of Object.keys(v)) {
      out.push({ parent: v, key: k });
      slots(v[k]!, out, depth + 1);
    }
  }
  return out;
}

function tables(v: Value, out: Table[] = [], depth = 0): Table[] {
  if (depth > 6) return out;
  if (isTableValue(v)) {
    out.push(v);
    for (const k of Object.keys(v)) tables(v[k]!, out, depth + 1);
  } else if (Array.isArray(v)) for (const item of v) tables(item, out, depth + 1);
  return out;
}

/** mutate applies one random edit: replace a value, delete a key, add a key, or reshape the apps. */
function mutate(doc: Table, rng: Rng): void {
  const op = rng.int(6);
  if (op <= 1) {
    const s = rng.pick(slots(doc));
    if (Array.isArray(s.parent)) s.parent[s.key as number] = weird(rng);
    else put(s.parent, s.key as string, weird(rng));
  } else if (op === 2) {
    const s = rng.pick(slots(doc));
    if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
    else delete s.parent[s.key as string];
  } else if (op === 3) {
    put(rng.pick(tables(doc)), rng.chance(0.2) ? rng.unicode(4) : rng.pick(KEYS), weird(rng));
  } else if (op === 4 && Array.isArray(doc.apps) && doc.apps.length > 0) {
    doc.apps.push(structuredClone(doc.apps[0]!)); // same name and ports: cross-field checks
  } else {
    manyApps(doc, rng, false);
  }
}

/**
 * manyApps replaces the apps with up to 60 generated ones; `valid` keeps names
 * and ports distinct, otherwise they may clash and exercise the cross-field checks.
 */
function manyApps(doc: Table, rng: Rng, valid: boolean): void {
  const n = rng.between(1, 60);
  doc.apps = Array.from({ length: n }, (_, i) => {
    const app: Table = {
      name: valid ? `app-${i}` : `app${rng.int(n)}`,
      ports: Array.from({ length: rng.between(1, 3) }, (_, k) => (valid ? 10_000 + i * 3 + k : rng.between(1, 65535))),
      targets: Array.from({ length: rng.between(1, 3) }, (_, k) => `10.${k}.${rng.int(256)}.${rng.int(256)}:${rng.between(1, 65535)}`),
    };
    if (rng.chance(0.3)) app.buffer_size = rng.pick(["1KiB", "64KiB", "1MiB", "64MiB", "64MB", "1000B", "1.5KiB"]);
    if (rng.chance(0.3)) app.max_connections = rng.between(1, 1000);
    if (rng.chance(0.2)) app.balancer = rng.pick(["least-connections", "round-robin", "random", "p2c"]);
    return app;
  });
}

const tomlKey = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));

function tomlValue(v: Value): string {
  if (v instanceof Raw) return v.toml;
  if (v === null) return "null"; // not TOML: a syntax error on purpose
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "nan";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    return Object.is(v, -0) ? "-0" : String(v);
  }
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(", ")}]`;
  return `{ ${Object.keys(v).map((k) => `${tomlKey(k)} = ${tomlValue(v[k]!)}`).join(", ")} }`;
}

/** toToml writes a document either all inline or with [table] and [[array]] sections, as people do. */
function toToml(doc: Table, sections: boolean): string {
  const head: string[] = [];
  const tail: string[] = [];
  const entries = (t: Table) => Object.keys(t).map((k) => `${tomlKey(k)} = ${tomlValue(t[k]!)}`);
  for (const k of Object.keys(doc)) {
    const v = doc[k]!;
    if (sections && isTableValue(v)) tail.push(`[${tomlKey(k)}]`, ...entries(v));
    else if (sections && Array.isArray(v) && v.length > 0 && v.every(isTableValue)) for (const t of v) tail.push(`[[${tomlKey(k)}]]`, ...entries(t));
    else head.push(`${tomlKey(k)} = ${tomlValue(v)}`);
  }
  return [...head, ...tail].join("\n") + "\n";
}

function jsonValue(v: Value): string {
  if (v instanceof Raw) return v.json;
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN"; // not JSON: a syntax error on purpose
    if (!Number.isFinite(v)) return v > 0 ? "1e999" : "-1e999";
    return Object.is(v, -0) ? "-0" : JSON.stringify(v);
  }
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jsonValue).join(",")}]`;
  return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${jsonValue(v[k]!)}`).join(",")}}`;
}

function render(doc: Table, format: Format, rng: Rng): string {
  return format === "json" ? jsonValue(doc) : toToml(doc, rng.chance(0.6));
}

/** generate builds every case from one seed: mutations, garbage, unicode, damaged text and deep nesting. */
function generate(seed: number): Case[] {
  const rng = new Rng(seed);
  const cases: Case[] = [];
  const add = (name: string, text: string, format: Format) => cases.push({ name: `#${cases.length} ${name}`, text, format });
  const format = (): Format => (rng.chance(0.5) ? "toml" : "json");

  for (let i = 0; i < 300; i++) {
    const doc = good();
    const n = rng.between(1, 4);
    for (let j = 0; j < n; j++) mutate(doc, rng);
    const f = format();
    add(`${n} mutations (${f})`, render(doc, f, rng), f);
  }
  for (let i = 0; i < 120; i++) {
    // One value of a good config swapped for an edge value of the same type: mostly one precise issue, sometimes still valid.
    const doc = good();
    const s = rng.pick(slots(doc).filter((x) => typeof (x.parent as Table)[x.key as string] !== "object"));
    const old = (s.parent as Table)[s.key as string];
    const value = typeof old === "number" ? rng.pick(NUMBERS) : rng.chance(0.8) ? rng.pick(STRINGS) : rng.unicode(rng.int(8));
    if (Array.isArray(s.parent)) s.parent[s.key as number] = value;
    else put(s.parent, s.key as string, value);
    const f = format();
    add(`one edge value (${f})`, render(doc, f, rng), f);
  }
  for (let i = 0; i < 10; i++) {
    const doc = good();
    manyApps(doc, rng, true);
    const f = format();
    add(`valid, many apps (${f})`, render(doc, f, rng), f);
  }
  for (let i = 0; i < 40; i++) {
    const bytes = rng.bytes(rng.between(0, 400));
    add("binary garbage as latin1", Buffer.from(bytes).toString("latin1"), format());
    add("binary garbage as UTF-8", new TextDecoder().decode(bytes), format());
  }
  for (let i = 0; i < 30; i++) add("random unicode", rng.unicode(rng.between(0, 200)), format());
  for (let i = 0; i < 40; i++) {
    const f = format();
    const text = render(good(), f, rng);
    const at = rng.int(text.length);
    if (rng.chance(0.5)) {
      add(`truncated at ${at} (${f})`, text.slice(0, at), f);
    } else {
      const b = Buffer.from(text);
      for (let k = rng.between(1, 4); k > 0; k--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      add(`bit flips (${f})`, b.toString("latin1"), f);
    }
  }
  for (const depth of [1000, 1000 + rng.int(4000)]) {
    add(`array nested ${depth} deep (toml)`, `apps = ${"[".repeat(depth)}${"]".repeat(depth)}\n`, "toml");
    add(`inline table nested ${depth} deep (toml)`, `x = ${"{ a = ".repeat(depth)}1${" }".repeat(depth)}\n`, "toml");
    add(`dotted key ${depth} deep (toml)`, `${Array(depth).fill("a").join(".")} = 1\n`, "toml");
    add(`table header ${depth} deep (toml)`, `[${Array(depth).fill("defaults").join(".")}]\n`, "toml");
    add(`ports nested ${depth} deep (toml)`, `[[apps]]\nname = "a"\nports = ${"[".repeat(depth)}1${"]".repeat(depth)}\ntargets = ["h:1"]\n`, "toml");
    add(`array nested ${depth} deep (json)`, `{"apps":${"[".repeat(depth)}${"]".repeat(depth)}}`, "json");
    add(`object nested ${depth} deep (json)`, `${`{"health":`.repeat(depth)}1${"}".repeat(depth)}`, "json");
    add(`unclosed ${depth} deep (json)`, `{"apps":${"[{".repeat(depth)}`, "json");
  }
  return cases;
}

/** withKey adds `key` (prototype names included) to `t` and returns it. */
function withKey(t: Table, key: string): Table {
  put(t, key, key === "__proto__" ? { balancer: "random" } : 1);
  return t;
}
function tableAt(name: string, key: string): Table {
  const doc = good();
  withKey(doc[name] as Table, key);
  return doc;
}
function appAt(i: number, key: string): Table {
  const doc = good();
  withKey((doc.apps as Table[])[i]!, key);
  return doc;
}

// [level, a good document with `key` added at that level, the path prefix of its issue]
const LEVELS: [string, (key: string) => Table, string][] = [
  ["top level", (k) => withKey(good(), k), ""],
  ["[defaults]", (k) => tableAt("defaults", k), "defaults."],
  ["[health]", (k) => tableAt("health", k), "health."],
  ["[admin]", (k) => tableAt("admin", k), "admin."],
  ["apps[1]", (k) => appAt(1, k), "apps[1]."],
];
const PROTO_KEYS = ["__proto__", "constructor", "prototype"];
const PROTOTYPE_CASES = LEVELS.length * PROTO_KEYS.length * 2;

// Every numeric key with each value no bound allows: rejected, never clamped or accepted.
const NUMERIC_KEYS: [string, (doc: Table, v: Value) => void][] = [
  ["health.rise", (d, v) => put(d.health as Table, "rise", v)],
  ["health.fall", (d, v) => put(d.health as Table, "fall", v)],
  ["max_connections", (d, v) => put(d, "max_connections", v)],
  ["apps[0].max_connections", (d, v) => put((d.apps as Table[])[0]!, "max_connections", v)],
  ["apps[1].ports[0]", (d, v) => ((d.apps as Table[])[1]!.ports as Value[]).splice(0, 1, v)],
];
const OUT_OF_RANGE: Value[] = [1e308, -1e308, -0, 0, 1.5, NaN, Infinity, 2 ** 53, new Raw("9007199254740993", "9007199254740993"), 10_000_001, "1"];
const NUMBER_CASES = NUMERIC_KEYS.length * OUT_OF_RANGE.length * 2;

const CASES = generate(FUZZ_SEED);
const outcomes: Record<Outcome, number> = { config: 0, invalid: 0, syntax: 0 };
let binaryRuns = 0;

/** broken lists what is wrong with a Config the validator let through: every documented bound must hold. */
function broken(c: Config): string[] {
  const bad: string[] = [];
  const int = (n: unknown, lo: number, hi: number) => typeof n === "number" && Number.isInteger(n) && n >= lo && n <= hi;
  if (!int(c.health.rise, 1, 100) || !int(c.health.fall, 1, 100)) bad.push("rise/fall out of 1-100");
  if (c.maxConnections !== undefined && !int(c.maxConnections, 1, 10_000_000)) bad.push("max_connections out of range");
  if (!int(c.bufferSize, MIN_BUFFER_SIZE, MAX_BUFFER_SIZE)) bad.push("buffer_size out of range");
  if (c.apps.length === 0) bad.push("no apps");
  const owner = new Map<number, string>();
  for (const a of c.apps) {
    if (!int(a.bufferSize, MIN_BUFFER_SIZE, MAX_BUFFER_SIZE)) bad.push(`${a.name}: buffer_size out of range`);
    if (a.maxConnections !== undefined && !int(a.maxConnections, 1, 10_000_000)) bad.push(`${a.name}: max_connections out of range`);
    if (a.ports.length === 0 || a.targets.length === 0) bad.push(`${a.name}: no ports or targets`);
    for (const p of a.ports) {
      if (!int(p, 1, 65535)) bad.push(`${a.name}: port ${p}`);
      if (owner.has(p)) bad.push(`port ${p} in two apps`);
      owner.set(p, a.name);
    }
  }
  return bad;
}

/** outcomeOf runs one case through parseConfigText; it returns the outcome, or a description of what went wrong. */
function outcomeOf(c: Case): Outcome | string {
  let config: Config;
  try {
    config = parseConfigText(c.text, c.format);
  } catch (err) {
    if (!(err instanceof SluiceError)) return `threw ${(err as Error)?.constructor?.name}: ${String((err as Error)?.message ?? err)}`;
    if (err.message.trim() === "") return `${err.code} with an empty message`;
    if (err instanceof ConfigError) {
      if (err.issues.length === 0) return "ConfigError without issues";
      const silent = err.issues.find((i) => typeof i.message !== "string" || i.message.trim() === "" || typeof i.path !== "string");
      if (silent) return `issue without a message: ${JSON.stringify(silent)}`;
      return "invalid";
    }
    return err.code === "CONFIG_PARSE" ? "syntax" : `unexpected code ${err.code}`;
  }
  const bad = broken(config);
  return bad.length > 0 ? `accepted a config that breaks its bounds: ${bad.join("; ")}` : "config";
}

const show = (c: Case) => `${c.name} (seed ${FUZZ_SEED}): ${JSON.stringify(c.text.slice(0, 300))}${c.text.length > 300 ? "…" : ""}`;

afterAll(() => {
  console.log(
    `config fuzz: ${CASES.length + PROTOTYPE_CASES + NUMBER_CASES} cases (${outcomes.config} valid, ${outcomes.invalid} invalid, ${outcomes.syntax} syntax errors), ${binaryRuns} through dist/sluice --check, seed ${FUZZ_SEED}`,
  );
});

describe("config fuzz", () => {
  test("every generated config becomes a Config within its bounds or a SluiceError that says why", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(500);
    const failures: string[] = [];
    for (const c of CASES) {
      const o = outcomeOf(c);
      if (o === "config" || o === "invalid" || o === "syntax") outcomes[o]++;
      else failures.push(`${o}\n    ${show(c)}`);
    }
    expect(failures).toEqual([]);
    // The generator must reach all three outcomes, or it is not testing much.
    expect(outcomes.config).toBeGreaterThan(0);
    expect(outcomes.invalid).toBeGreaterThan(100);
    expect(outcomes.syntax).toBeGreaterThan(50);
  });

  test(`prototype keys are unknown keys at every table level, in TOML and JSON (${PROTOTYPE_CASES} cases)`, () => {
    for (const [, make, prefix] of LEVELS) {
      for (const key of PROTO_KEYS) {
        for (const f of ["toml", "json"] as const) {
          const text = f === "json" ? jsonValue(make(key)) : toToml(make(key), true);
          let err: unknown;
          try {
            parseConfigText(text, f);
          } catch (e) {
            err = e;
          }
          expect(err, `${prefix}${key} (${f})`).toBeInstanceOf(ConfigError);
          expect((err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([`${prefix}${key}: unknown key`]);
        }
      }
    }
  });
});

describe("out-of-range numbers", () => {
  test(`every numeric key rejects huge, negative, fractional and NaN-ish values (${NUMBER_CASES} cases)`, () => {
    const failures: string[] = [];
    for (const [path, set] of NUMERIC_KEYS) {
      for (const value of OUT_OF_RANGE) {
        for (const f of ["toml", "json"] as const) {
          const doc = good();
          set(doc, value);
          const c: Case = { name: `${path} = ${value instanceof Raw ? value.json : String(value)} (${f})`, text: render(doc, f, new Rng(1)), format: f };
          const o = outcomeOf(c);
          if (o === "config") failures.push(`accepted: ${show(c)}`);
          else if (o === "invalid") {
            const paths = (() => {
              try {
                parseConfigText(c.text, f);
              } catch (e) {
                return (e as ConfigError).issues.map((i) => i.path);
              }
              return [];
            })();
            if (!paths.includes(path)) failures.push(`not reported at ${path} (got ${paths.join(", ")}): ${show(c)}`);
          } else if (o !== "syntax") failures.push(`${o}: ${show(c)}`); // NaN in JSON, 2^53+1 in TOML: syntax errors
        }
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("config fuzz through the binary", () => {
  const SAMPLE = 30;
  test(`dist/sluice --check on ${SAMPLE} sampled cases exits 0 or 1, agrees with parseConfigText, no stack trace`, async () => {
    const dir = tempDir();
    try {
      const step = Math.floor(CASES.length / SAMPLE);
      const sample = Array.from({ length: SAMPLE }, (_, i) => CASES[i * step]!);
      const failures: string[] = [];
      const CONCURRENCY = 6;
      for (let i = 0; i < sample.length; i += CONCURRENCY) {
        await Promise.all(
          sample.slice(i, i + CONCURRENCY).map(async (c, j) => {
            const file = join(dir, `case-${i + j}.${c.format}`);
            writeFileSync(file, c.text);
            const r = await run(["--check", "-c", file], 10_000);
            binaryRuns++;
            const expected = outcomeOf(c);
            if (r.code !== 0 && r.code !== 1) failures.push(`exit ${r.code}: ${show(c)}`);
            if (/^\s+at /m.test(r.stderr) || r.stderr.includes("internal error")) failures.push(`stack trace or internal error:\n${r.stderr}\n    ${show(c)}`);
            // A config the library rejects must fail the check; an accepted one passes unless the fd budget cannot hold its cap.
            if (expected !== "config" && r.code !== 1) failures.push(`library said ${expected}, binary exited ${r.code}: ${show(c)}`);
            if (expected === "config" && r.code !== 0 && !r.stderr.includes("file descriptors")) failures.push(`library accepted, binary exited ${r.code}:\n${r.stderr}\n    ${show(c)}`);
          }),
        );
      }
      expect(failures).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
