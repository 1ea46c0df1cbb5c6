/**
 * @module config/schema: valibot schemas for the two config documents sluice reads,
 * the TOML document (also accepted as JSON) and the seed JSON (`{"Apps":[…]}`).
 * Pure. The schemas check one value at a time and fill in defaults; checks that
 * span values (a port in two apps, duplicate names) live in load.ts.
 */
import * as v from "valibot";
import { MAX_WORKERS } from "../sys/board.ts";
import { type Endpoint, isPort, parseEndpoint } from "../net/target.ts";
import { parseDuration } from "./duration.ts";
import { formatSize, parseSize } from "./size.ts";
import { parseCidr, type Cidr } from "../net/acl.ts";
import { SNI_PATTERN } from "../net/sni.ts";
import { BALANCERS, LOG_FORMATS, LOG_LEVEL_NAMES, ON_REMOVE, SEND_PROXY } from "./types.ts";

/** DEFAULT_ADMIN_LISTEN is used when `[admin]` is present but has no `listen`. */
export const DEFAULT_ADMIN_LISTEN = "127.0.0.1:9900";

/**
 * DEFAULT_BUFFER_SIZE is `buffer_size` when the config sets none, in bytes:
 * how much one direction of a connection may queue for a slow receiver, and
 * the size of a target socket's kernel receive buffer (src/sys/receive-buffer.ts).
 * 128 KiB: it keeps a stalled client near 128 KiB of sluice's memory, and a
 * smaller receive buffer halves loopback throughput from a target;
 * docs/PERFORMANCE.md has the measurements.
 */
export const DEFAULT_BUFFER_SIZE = 128 * 1024;
/** MIN_BUFFER_SIZE and MAX_BUFFER_SIZE bound `buffer_size`, in bytes. */
export const MIN_BUFFER_SIZE = 1024;
export const MAX_BUFFER_SIZE = 64 * 1024 * 1024;

/** MAX_RISE_FALL bounds `rise` and `fall`: more checks in a row than this is a typo, not a policy. */
export const MAX_RISE_FALL = 100;
/** MAX_CONNECTIONS bounds `max_connections`, top-level and per app (each costs two fds). */
export const MAX_CONNECTIONS = 10_000_000;

/** UNKNOWN_KEY is the message for a key the schema does not know, wherever it is found. */
export const UNKNOWN_KEY = "unknown key";

/**
 * PROTOTYPE_KEYS are keys valibot skips without a word when it looks for
 * unknown keys (its guard against prototype pollution), so table() never
 * reports them; load.ts does. Both parsers make them plain own properties.
 */
export const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype"] as const;

/** APP_NAME: the name becomes a Prometheus label value and a log tag, so keep it plain. */
export const APP_NAME = /^[A-Za-z0-9_.-]+$/;

/** isTable is true for a plain object: a TOML table or a JSON object, not an array or a date. */
export function isTable(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** describe names a value's type, and shows it when it is short, for "expected X, got Y" messages. */
export function describe(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${value}`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (isTable(value)) return "table";
  if (typeof value === "object") return "date/time"; // the only other object Bun.TOML.parse makes
  return typeof value;
}

/** got builds a valibot message function: `expected <what>, got <the input>`. */
const got =
  (what: string) =>
  (issue: { input: unknown }): string =>
    `expected ${what}, got ${describe(issue.input)}`;

/**
 * table is a strict object: every key not in `entries` is reported as
 * "unknown key" (all of them, where valibot's strictObject stops at the first),
 * a missing required key as "required", and a non-table as a type error.
 */
function table<const E extends v.ObjectEntries>(entries: E, what = "a table") {
  const schema = v.pipe(
    v.custom<Record<string, unknown>>(isTable, got(what)),
    v.objectWithRest(entries, v.never(UNKNOWN_KEY), (issue) =>
      issue.input === undefined ? "required" : got(what)(issue),
    ),
  );
  // objectWithRest types its output as `{…} & {[key: string]: never}`, which
  // makes every known key `never`; the rest can only ever be empty, so drop it.
  return schema as unknown as v.GenericSchema<unknown, v.InferOutput<v.ObjectSchema<E, undefined>>>;
}

/** duration reads a duration string into milliseconds; `allowZero` false rejects "0s". */
function duration(allowZero: boolean) {
  return v.pipe(
    v.string(got(`a duration such as "2s"`)),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const ms = parseDuration(dataset.value);
      if (typeof ms === "string") {
        addIssue({ message: ms });
        return NEVER;
      }
      if (ms === 0 && !allowZero) {
        addIssue({ message: `${JSON.stringify(dataset.value)} must be greater than 0` });
        return NEVER;
      }
      return ms;
    }),
  );
}

/** endpoint reads `host:port` or `[v6]:port` into an Endpoint, with parseEndpoint's reason on failure. */
function endpoint() {
  return v.pipe(
    v.string(got(`a "host:port" string`)),
    v.rawTransform(({ dataset, addIssue, NEVER }): Endpoint => {
      const ep = parseEndpoint(dataset.value);
      if (typeof ep === "string") {
        addIssue({ message: ep });
        return NEVER;
      }
      return ep;
    }),
  );
}

/** size reads a size string ("64KiB") into bytes, between `min` and `max` bytes. */
function size(min: number, max: number) {
  return v.pipe(
    v.string(got(`a size such as "64KiB"`)),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const bytes = parseSize(dataset.value);
      if (typeof bytes === "string") {
        addIssue({ message: bytes });
        return NEVER;
      }
      if (bytes < min || bytes > max) {
        addIssue({ message: `${JSON.stringify(dataset.value)} is out of range (${formatSize(min)} to ${formatSize(max)})` });
        return NEVER;
      }
      return bytes;
    }),
  );
}

/** intIn reads an integer from `min` to `max`, so 1e308, 1.5 and -0 are reported, not clamped. */
function intIn(min: number, max: number) {
  const what = `an integer ${min}-${max.toLocaleString("en-US")}`;
  return v.pipe(
    v.number(got(what)),
    v.check((n) => Number.isInteger(n) && n >= min && n <= max, got(what)),
  );
}

/** workers is a thread count 1-64 or "auto" (the CPUs this process may use). */
const WORKERS = `"auto" or an integer 1-${MAX_WORKERS}`;
const workers = v.union(
  [v.literal("auto"), v.pipe(v.number(got(WORKERS)), v.check((n) => Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS, got(WORKERS)))],
  got(WORKERS),
);

/** MAX_WEIGHT bounds a target's `weight`. */
export const MAX_WEIGHT = 1000;

const targetTable = table({
  address: endpoint(),
  weight: v.optional(intIn(1, MAX_WEIGHT), 1),
  max_connections: v.optional(intIn(0, MAX_CONNECTIONS), 0),
});

/**
 * target reads `"host:port"` or `{ address = "host:port", weight = 1,
 * max_connections = 0 }` into an Endpoint (weight and cap filled in), with
 * the table's own key paths on failure.
 */
function target() {
  return v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }): Endpoint => {
      const input = dataset.value;
      if (typeof input === "string") {
        const ep = parseEndpoint(input);
        if (typeof ep !== "string") return ep;
        addIssue({ message: ep });
        return NEVER;
      }
      if (isTable(input)) {
        const r = v.safeParse(targetTable, input, { abortEarly: false });
        if (r.success) return { ...r.output.address, weight: r.output.weight, maxConnections: r.output.max_connections };
        for (const issue of r.issues) addIssue({ message: issue.message, path: issue.path });
        return NEVER;
      }
      addIssue({ message: `expected a "host:port" string or a { address = "host:port", … } table, got ${describe(input)}` });
      return NEVER;
    }),
  );
}

/** payload reads a health check's `send` or `expect`: `\r`, `\n`, `\t`, `\\` and `\xNN` escapes become bytes, the rest UTF-8. */
function payload() {
  return v.pipe(
    v.string(got("a string")),
    v.check((s) => s.length > 0, "must not be empty"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const bytes = decodeEscapes(dataset.value);
      if (typeof bytes === "string") {
        addIssue({ message: bytes });
        return NEVER;
      }
      return bytes;
    }),
  );
}

/** decodeEscapes turns the escapes `payload` allows into bytes, or says which escape is wrong. */
export function decodeEscapes(text: string): Uint8Array | string {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== "\\") {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      out.push(...enc.encode(String.fromCodePoint(cp)));
      continue;
    }
    const e = text[i + 1];
    if (e === "r") out.push(13);
    else if (e === "n") out.push(10);
    else if (e === "t") out.push(9);
    else if (e === "0") out.push(0);
    else if (e === "\\") out.push(92);
    else if (e === "x" && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 2, i + 4))) {
      out.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 2;
    } else return `unknown escape ${JSON.stringify(text.slice(i, i + 4))} (use \\r, \\n, \\t, \\0, \\\\ or \\xNN)`;
    i++;
  }
  return new Uint8Array(out);
}

function cidrs() {
  return v.array(
    v.pipe(
      v.string(got(`a CIDR block such as "10.0.0.0/8"`)),
      v.rawTransform(({ dataset, addIssue, NEVER }): Cidr => {
        const c = parseCidr(dataset.value);
        if (typeof c !== "string") return c;
        addIssue({ message: c });
        return NEVER;
      }),
    ),
    got("an array of CIDR blocks"),
  );
}

const sniPattern = v.pipe(
  v.string(got("a server name pattern")),
  v.check(
    (s) => SNI_PATTERN.test(s),
    (issue) => `${JSON.stringify(issue.input)} is not a server name or a "*." pattern`,
  ),
);

const riseFall = intIn(1, MAX_RISE_FALL);
const connectionCap = intIn(1, MAX_CONNECTIONS);
const bufferSize = size(MIN_BUFFER_SIZE, MAX_BUFFER_SIZE);

/** oneOf is a picklist whose message lists the choices. */
function oneOf<const T extends readonly [string, ...string[]]>(choices: T) {
  return v.picklist(
    choices,
    (issue) => `${typeof issue.input === "string" ? JSON.stringify(issue.input) : describe(issue.input)} is not one of ${choices.join(", ")}`,
  );
}

const flag = v.boolean(got("true or false"));

/** adminToken: a bearer token; whitespace would never survive an HTTP header intact. */
const adminToken = v.pipe(
  v.string(got("a token string")),
  v.check((s) => s.length > 0, "must not be empty"),
  v.check((s) => s.length === 0 || /^[\x21-\x7e]+$/.test(s), "may contain only printable ASCII without spaces"),
);
const filePath = v.pipe(v.string(got("a file path")), v.check((s) => s.length > 0, "must not be empty"));

const balancer = v.picklist(
  BALANCERS,
  (issue) => `${typeof issue.input === "string" ? JSON.stringify(issue.input) : describe(issue.input)} is not one of ${BALANCERS.join(", ")}`,
);

// A bind address is a host without a port; reuse parseEndpoint's host rules by
// giving it a dummy port rather than keeping a second copy of them here.
const bindHost = v.pipe(
  v.string(got("an IP address or host name")),
  v.check(
    (host) => typeof parseEndpoint(host.includes(":") ? `[${host}]:1` : `${host}:1`) !== "string",
    (issue) => `${JSON.stringify(issue.input)} is not an IP address or host name`,
  ),
);

const appName = v.pipe(
  v.string(got("a name")),
  v.check((s) => s.length > 0, "must not be empty"),
  v.check(
    (s) => s.length === 0 || APP_NAME.test(s),
    (issue) => `${JSON.stringify(issue.input)} may contain only letters, digits, ".", "_" and "-"`,
  ),
);

const port = v.pipe(
  v.number(got("a port number 1-65535")),
  v.check((n: number) => isPort(n), (issue) => `${issue.input} is not a port (1-65535)`),
);
const ports = v.pipe(v.array(port, got("an array of ports")), v.minLength(1, "at least one port is required"));

const targets = v.pipe(
  v.array(target(), got(`an array of "host:port" strings or target tables`)),
  v.minLength(1, "at least one target is required"),
);

/** healthEntries are [health]'s keys; an app's `health` table overrides any of them. */
const healthEntries = {
  interval: v.optional(duration(false)),
  timeout: v.optional(duration(false)),
  rise: v.optional(riseFall),
  fall: v.optional(riseFall),
  send: v.optional(payload()),
  expect: v.optional(payload()),
};

const appsOf = <T extends v.GenericSchema>(app: T) =>
  v.optional(
    v.pipe(v.array(app, got("an array of apps ([[apps]] tables)")), v.minLength(1, "at least one app is required")),
    [],
  );

/** TomlDocSchema is the TOML document; the same shape is accepted as lowercase JSON. */
export const TomlDocSchema = table({
  bind: v.optional(bindHost, "0.0.0.0"),
  shutdown_timeout: v.optional(duration(true), "30s"),
  shutdown_delay: v.optional(duration(true), "0s"),
  watch: v.optional(flag, true),
  workers: v.optional(workers, "auto"),
  max_connections: v.optional(connectionCap),
  buffer_size: v.optional(bufferSize, formatSize(DEFAULT_BUFFER_SIZE)),
  defaults: v.optional(
    table({
      balancer: v.optional(balancer, "least-connections"),
      connect_timeout: v.optional(duration(false), "2s"),
      idle_timeout: v.optional(duration(true), "0s"),
    }),
    {},
  ),
  health: v.optional(
    table({
      ...healthEntries,
      interval: v.optional(duration(false), "30s"),
      timeout: v.optional(duration(false), "2s"),
      rise: v.optional(riseFall, 1),
      fall: v.optional(riseFall, 1),
    }),
    {},
  ),
  admin: v.optional(
    table({
      listen: v.optional(endpoint(), DEFAULT_ADMIN_LISTEN),
      token: v.optional(adminToken),
      token_file: v.optional(filePath),
    }),
  ),
  log: v.optional(
    table({
      format: v.optional(oneOf(LOG_FORMATS), "text"),
      level: v.optional(oneOf(LOG_LEVEL_NAMES)),
      access: v.optional(flag, false),
    }),
    {},
  ),
  apps: appsOf(
    table({
      name: appName,
      ports,
      // Required unless the app has routes (load.ts checks that).
      targets: v.optional(targets),
      balancer: v.optional(balancer),
      connect_timeout: v.optional(duration(false)),
      idle_timeout: v.optional(duration(true)),
      buffer_size: v.optional(bufferSize),
      max_connections: v.optional(connectionCap),
      on_remove: v.optional(oneOf(ON_REMOVE), "keep"),
      drain_timeout: v.optional(duration(true), "30s"),
      access_log: v.optional(flag, true),
      queue_timeout: v.optional(duration(true), "0s"),
      slow_start: v.optional(duration(true), "0s"),
      allow: v.optional(cidrs(), []),
      deny: v.optional(cidrs(), []),
      max_connections_per_client: v.optional(intIn(0, MAX_CONNECTIONS), 0),
      send_proxy: v.optional(oneOf(SEND_PROXY), "none"),
      accept_proxy: v.optional(flag, false),
      defer_accept: v.optional(flag, false),
      health: v.optional(table(healthEntries)),
      routes: v.optional(
        v.array(
          table({
            sni: v.pipe(v.array(sniPattern, got("an array of server name patterns")), v.minLength(1, "at least one pattern is required")),
            targets,
            balancer: v.optional(balancer),
          }),
          got("an array of routes ([[apps.routes]] tables)"),
        ),
        [],
      ),
    }),
  ),
});
export type TomlDoc = v.InferOutput<typeof TomlDocSchema>;

/** SeedDocSchema is the seed JSON: only these capitalised keys, everything else defaults. */
export const SeedDocSchema = table({
  Apps: appsOf(table({ Name: appName, Ports: ports, Targets: targets })),
});
export type SeedDoc = v.InferOutput<typeof SeedDocSchema>;
