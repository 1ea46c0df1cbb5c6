/**
 * @module config/load: turns a config file, text or parsed document into a
 * resolved Config, reporting every problem at once with its key path.
 * Throws only SluiceError (CONFIG_NOT_FOUND, CONFIG_PARSE) and ConfigError (CONFIG_INVALID).
 */
import * as v from "valibot";
import { ConfigError, type ConfigIssue, SluiceError } from "../sys/errors.ts";
import { isPort, parseEndpoint } from "../net/target.ts";
import {
  DEFAULT_ADMIN_LISTEN,
  isTable,
  PROTOTYPE_KEYS,
  SeedDocSchema,
  type TomlDoc,
  TomlDocSchema,
  UNKNOWN_KEY,
} from "./schema.ts";
import type { Config, HealthConfig } from "./types.ts";

/** The key names cross-field checks use: lowercase for TOML, capitalised for the seed JSON. */
interface Keys {
  apps: string;
  name: string;
  ports: string;
  targets: string;
}
const TOML_KEYS: Keys = { apps: "apps", name: "name", ports: "ports", targets: "targets" };
const SEED_KEYS: Keys = { apps: "Apps", name: "Name", ports: "Ports", targets: "Targets" };

// Finding a TOML error's line re-parses prefixes of the text, so skip it for huge files.
const MAX_LINES_TO_LOCATE = 2000;

/**
 * parseConfig validates an already-parsed document and resolves it into a Config.
 * A document whose top level has an `Apps` key is the seed JSON format
 * (`{"Apps":[{"Name","Ports","Targets"}]}`); anything else is the TOML-shaped
 * document, so a `.json` file may use either shape. It throws a ConfigError
 * listing every problem, schema and cross-field alike.
 */
export function parseConfig(doc: unknown): Config {
  return check(doc, undefined);
}

/** parseConfigText parses TOML or JSON text (CONFIG_PARSE on a syntax error), then validates it like parseConfig. */
export function parseConfigText(text: string, format: "toml" | "json"): Config {
  return check(parseText(text, format, undefined), undefined);
}

/**
 * loadConfig reads the config file at `path`: JSON when it ends in `.json`, TOML otherwise.
 * A missing or unreadable file is CONFIG_NOT_FOUND, a syntax error CONFIG_PARSE,
 * and an invalid config a ConfigError whose `file` is `path`.
 */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    // Bun.file rather than node:fs, which costs the binary ~5 MB RSS at start-up.
    text = await Bun.file(path).text();
  } catch (err) {
    throw readError(path, err);
  }
  const format = path.toLowerCase().endsWith(".json") ? "json" : "toml";
  const config = check(parseText(text, format, path), path);
  const tokenFile = config.adminAuth?.tokenFile;
  if (tokenFile !== undefined) config.adminAuth!.token = await readToken(tokenFile, path);
  return config;
}

/**
 * readToken reads `[admin] token_file` (relative paths from the working
 * directory, as the config path itself is). One trailing newline is dropped,
 * as `echo secret > file` and Kubernetes Secrets written by hand add one.
 */
async function readToken(file: string, configPath: string): Promise<string> {
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (err) {
    throw new ConfigError([{ path: "admin.token_file", message: readError(file, err).message.replace("config file", "token file") }], configPath);
  }
  const token = text.replace(/\r?\n$/, "");
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError([{ path: "admin.token_file", message: `${file} must hold one token of printable ASCII without spaces` }], configPath);
  }
  return token;
}

/**
 * summarize is the one line `--check` prints for a valid config,
 * e.g. `config ok: 2 apps, 5 ports, 4 targets, admin on 127.0.0.1:9900`.
 */
export function summarize(config: Config): string {
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  const ports = config.apps.reduce((sum, app) => sum + app.ports.length, 0);
  const targets = config.apps.reduce((sum, app) => sum + app.targets.length, 0);
  const admin = config.admin ? `admin on ${config.admin.address}` : "no admin";
  return `config ok: ${count(config.apps.length, "app")}, ${count(ports, "port")}, ${count(targets, "target")}, ${admin}`;
}

function readError(path: string, err: unknown): SluiceError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT" || code === "ENOTDIR") return new SluiceError("CONFIG_NOT_FOUND", `config file not found: ${path}`);
  if (code === "EISDIR") return new SluiceError("CONFIG_NOT_FOUND", `config path is a directory, not a file: ${path}`);
  const why = code === "EACCES" || code === "EPERM" ? "permission denied" : String((err as Error)?.message ?? err);
  return new SluiceError("CONFIG_NOT_FOUND", `cannot read config file ${path}: ${why}`);
}

function parseText(text: string, format: "toml" | "json", file: string | undefined): unknown {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // editors on Windows add a BOM; both parsers reject it
  try {
    return format === "json" ? JSON.parse(text) : Bun.TOML.parse(text);
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    const reason = `invalid ${format.toUpperCase()}: ${raw.replace(/^(TOML|JSON) Parse error:\s*/i, "")}`;
    const line = format === "toml" ? tomlErrorLine(text) : undefined;
    const where = [file, line && (file ? line : `line ${line}`)].filter(Boolean).join(":");
    throw new SluiceError("CONFIG_PARSE", where ? `${where}: ${reason}` : reason);
  }
}

/**
 * tomlErrorLine finds the 1-based line of a TOML syntax error, which Bun.TOML.parse
 * does not report: the line after the longest prefix of whole lines that parses.
 * It walks down from the end, not by bisection, because a prefix that stops
 * inside a multi-line array or string fails even when the full text is fine there.
 */
function tomlErrorLine(text: string): number | undefined {
  const lines = text.split("\n");
  if (lines.length > MAX_LINES_TO_LOCATE) return undefined;
  for (let n = lines.length - 1; n >= 0; n--) {
    try {
      Bun.TOML.parse(lines.slice(0, n).join("\n"));
      return n + 1;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function check(doc: unknown, file: string | undefined): Config {
  const seed = isTable(doc) && "Apps" in doc;
  const issues: ConfigIssue[] = [];
  let tomlDoc: TomlDoc | undefined;
  if (seed) {
    const result = v.safeParse(SeedDocSchema, doc, { abortEarly: false });
    if (!result.success) issues.push(...result.issues.map(toIssue));
  } else {
    const result = v.safeParse(TomlDocSchema, doc, { abortEarly: false });
    if (result.success) tomlDoc = result.output;
    else issues.push(...result.issues.map(toIssue));
  }
  issues.push(...prototypeKeys(doc, seed ? SEED_KEYS : TOML_KEYS));
  issues.push(...crossCheck(doc, seed ? SEED_KEYS : TOML_KEYS));
  if (issues.length > 0) throw new ConfigError(issues, file);
  if (seed) {
    // The seed has a subset of the TOML keys under other names; validating its
    // lowercase twin gives it exactly the TOML defaults. It has just passed the
    // same per-value rules, so this cannot fail; if it somehow did, report it.
    const apps = (doc.Apps as Record<string, unknown>[]).map((a) => ({ name: a.Name, ports: a.Ports, targets: a.Targets }));
    const result = v.safeParse(TomlDocSchema, { apps }, { abortEarly: false });
    if (!result.success) throw new ConfigError(result.issues.map(toIssue), file);
    tomlDoc = result.output;
  }
  const config = resolve(tomlDoc as TomlDoc);
  const conflicts = targetConflicts(config);
  if (conflicts.length > 0) throw new ConfigError(conflicts, file);
  return config;
}

/**
 * targetConflicts: within one app an address is one target (one health
 * state, one active count), however many routes list it, so every listing
 * must give it the same weight and max_connections.
 */
function targetConflicts(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  config.apps.forEach((app, i) => {
    const seen = new Map<string, { weight: number; cap: number; at: string }>();
    const visit = (targets: readonly { address: string; weight?: number; maxConnections?: number }[], at: string) =>
      targets.forEach((t, k) => {
        const mine = { weight: t.weight ?? 1, cap: t.maxConnections ?? 0, at: `${at}[${k}]` };
        const first = seen.get(t.address);
        if (first === undefined) seen.set(t.address, mine);
        else if (first.weight !== mine.weight || first.cap !== mine.cap) {
          issues.push({
            path: mine.at,
            message: `${JSON.stringify(t.address)} is also listed at ${first.at} with another weight or max_connections (one address is one target: give both the same)`,
          });
        }
      });
    visit(app.targets, `apps[${i}].targets`);
    app.routes.forEach((r, j) => visit(r.targets, `apps[${i}].routes[${j}].targets`));
  });
  return issues;
}

/** resolve applies `[defaults]` to each app and renames keys to the Config shape. */
function resolve(doc: TomlDoc): Config {
  const d = doc.defaults;
  const health = healthOf(doc.health);
  return {
    bind: doc.bind,
    shutdownTimeoutMs: doc.shutdown_timeout,
    shutdownDelayMs: doc.shutdown_delay,
    watch: doc.watch,
    workers: doc.workers,
    log: { format: doc.log.format, level: doc.log.level, access: doc.log.access },
    maxConnections: doc.max_connections,
    bufferSize: doc.buffer_size,
    health,
    admin: doc.admin?.listen,
    adminAuth: doc.admin && { token: doc.admin.token, tokenFile: doc.admin.token_file },
    apps: doc.apps.map((app) => ({
      name: app.name,
      ports: app.ports,
      targets: app.targets ?? [],
      balancer: app.balancer ?? d.balancer,
      connectTimeoutMs: app.connect_timeout ?? d.connect_timeout,
      idleTimeoutMs: app.idle_timeout ?? d.idle_timeout,
      bufferSize: app.buffer_size ?? doc.buffer_size,
      maxConnections: app.max_connections,
      onRemove: app.on_remove,
      drainTimeoutMs: app.drain_timeout,
      accessLog: app.access_log,
      health: app.health === undefined ? health : { ...health, ...healthOf(app.health) },
      queueTimeoutMs: app.queue_timeout,
      slowStartMs: app.slow_start,
      allow: app.allow,
      deny: app.deny,
      maxConnectionsPerClient: app.max_connections_per_client,
      sendProxy: app.send_proxy,
      acceptProxy: app.accept_proxy,
      deferAccept: app.defer_accept,
      routes: app.routes.map((r) => ({ sni: r.sni, targets: r.targets, balancer: r.balancer ?? app.balancer ?? d.balancer })),
    })),
  };
}

type HealthDoc = { interval?: number; timeout?: number; rise?: number; fall?: number; send?: Uint8Array; expect?: Uint8Array };

/** healthOf renames a health table's keys, leaving out the ones it does not set (so an app's table overrides only those). */
function healthOf(h: HealthDoc): Partial<HealthConfig> & HealthConfig {
  const out: Partial<HealthConfig> = {};
  if (h.interval !== undefined) out.intervalMs = h.interval;
  if (h.timeout !== undefined) out.timeoutMs = h.timeout;
  if (h.rise !== undefined) out.rise = h.rise;
  if (h.fall !== undefined) out.fall = h.fall;
  if (h.send !== undefined) out.send = h.send;
  if (h.expect !== undefined) out.expect = h.expect;
  return out as HealthConfig;
}

function toIssue(issue: v.BaseIssue<unknown>): ConfigIssue {
  return { path: formatPath((issue.path ?? []).map((item) => item.key)), message: issue.message };
}

/** formatPath writes a key path the way the docs do: `apps[1].targets[0]`. */
function formatPath(keys: unknown[]): string {
  let out = "";
  for (const key of keys) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/**
 * prototypeKeys reports `__proto__`, `constructor` and `prototype` as unknown
 * keys in every table the schema knows (the top level, [defaults], [health],
 * [admin] and each app), because valibot skips them without an issue.
 */
function prototypeKeys(doc: unknown, k: Keys): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const visit = (table: unknown, at: (string | number)[]) => {
    if (!isTable(table)) return;
    for (const key of PROTOTYPE_KEYS) {
      if (Object.hasOwn(table, key)) issues.push({ path: formatPath([...at, key]), message: UNKNOWN_KEY });
    }
  };
  visit(doc, []);
  if (!isTable(doc)) return issues;
  if (k === TOML_KEYS) for (const name of ["defaults", "health", "admin", "log"]) visit(doc[name], [name]);
  const apps = doc[k.apps];
  if (Array.isArray(apps)) apps.forEach((app: unknown, i) => visit(app, [k.apps, i]));
  return issues;
}

/**
 * crossCheck finds problems that span values: a port listed twice or owned by two
 * apps, two apps with one name, a target listed twice in an app, and the admin
 * port clashing with an app port (reported whatever the hosts, to stay on the
 * safe side). It reads the raw document defensively so it can run even when
 * other values are invalid, skipping only the values that are themselves bad.
 */
function crossCheck(doc: unknown, k: Keys): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!isTable(doc)) return issues;
  const portOwner = new Map<number, string>();
  const nameAt = new Map<string, string>();
  const apps = doc[k.apps];
  (Array.isArray(apps) ? apps : []).forEach((app: unknown, i) => {
    if (!isTable(app)) return;
    const at = `${k.apps}[${i}]`;
    const name = app[k.name];
    const hasName = typeof name === "string" && name !== "";
    if (hasName) {
      const first = nameAt.get(name);
      if (first) issues.push({ path: `${at}.${k.name}`, message: `app name ${JSON.stringify(name)} is already used by ${first}` });
      else nameAt.set(name, at);
    }
    const label = hasName ? `app ${JSON.stringify(name)}` : at;
    const ports = app[k.ports];
    const own = new Set<number>();
    (Array.isArray(ports) ? ports : []).forEach((port: unknown, j) => {
      if (!isPort(port)) return;
      const path = `${at}.${k.ports}[${j}]`;
      const owner = portOwner.get(port);
      if (own.has(port)) issues.push({ path, message: `port ${port} is listed twice` });
      else if (owner) issues.push({ path, message: `port ${port} already belongs to ${owner}` });
      else portOwner.set(port, label);
      own.add(port);
    });
    const targets = app[k.targets];
    const routes = app.routes;
    if (targets === undefined && !(Array.isArray(routes) && routes.length > 0)) {
      issues.push({ path: `${at}.${k.targets}`, message: "required (an app without routes needs targets)" });
    }
    const seen = new Set<string>();
    (Array.isArray(targets) ? targets : []).forEach((target: unknown, j) => {
      const written = isTable(target) ? target.address : target;
      const ep = typeof written === "string" ? parseEndpoint(written) : undefined;
      if (!ep || typeof ep === "string") return;
      if (seen.has(ep.address)) {
        issues.push({ path: `${at}.${k.targets}[${j}]`, message: `${JSON.stringify(written)} is listed twice` });
      }
      seen.add(ep.address);
    });
  });
  const admin = doc.admin;
  if (k === TOML_KEYS && isTable(admin)) {
    const listen = admin.listen ?? DEFAULT_ADMIN_LISTEN;
    const ep = typeof listen === "string" ? parseEndpoint(listen) : undefined;
    const owner = ep && typeof ep !== "string" ? portOwner.get(ep.port) : undefined;
    if (ep && typeof ep !== "string" && owner) {
      issues.push({ path: "admin.listen", message: `${JSON.stringify(listen)}: port ${ep.port} already belongs to ${owner}` });
    }
    if (admin.token !== undefined && admin.token_file !== undefined) {
      issues.push({ path: "admin.token_file", message: "set token or token_file, not both" });
    }
  }
  return issues;
}
