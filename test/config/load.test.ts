import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_BUFFER_SIZE, loadConfig, parseConfig, parseConfigText, summarize } from "../../src/config/index.ts";
import { ConfigError, SluiceError } from "../../src/sys/errors.ts";

const APP = `[[apps]]\nname = "web"\nports = [5001]\ntargets = ["127.0.0.1:9001"]\n`;

/** invalid runs parseConfigText and returns the ConfigError it must throw. */
function invalid(text: string, format: "toml" | "json" = "toml"): ConfigError {
  try {
    parseConfigText(text, format);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("CONFIG_INVALID");
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

/** thrown returns the SluiceError `fn` throws. */
async function thrownAsync(fn: () => Promise<unknown>): Promise<SluiceError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    return err as SluiceError;
  }
  throw new Error("expected a SluiceError");
}

function thrown(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    return err as SluiceError;
  }
  throw new Error("expected a SluiceError");
}

describe("valid configs", () => {
  test("a minimal config gets every default", () => {
    const c = parseConfigText(APP, "toml");
    expect(c).toEqual({
      bind: "0.0.0.0",
      shutdownTimeoutMs: 30_000,
      shutdownDelayMs: 0,
      watch: true,
      workers: "auto",
      log: { format: "text", level: undefined, access: false },
      maxConnections: undefined,
      bufferSize: DEFAULT_BUFFER_SIZE,
      health: { intervalMs: 30_000, timeoutMs: 2_000, rise: 1, fall: 1 },
      admin: undefined,
      adminAuth: undefined,
      apps: [
        {
          name: "web",
          ports: [5001],
          targets: [{ host: "127.0.0.1", port: 9001, address: "127.0.0.1:9001" }],
          balancer: "least-connections",
          connectTimeoutMs: 2_000,
          idleTimeoutMs: 0,
          bufferSize: DEFAULT_BUFFER_SIZE,
          maxConnections: undefined,
          onRemove: "keep",
          drainTimeoutMs: 30_000,
          accessLog: true,
          health: { intervalMs: 30_000, timeoutMs: 2_000, rise: 1, fall: 1 },
          queueTimeoutMs: 0,
          slowStartMs: 0,
          allow: [],
          deny: [],
          maxConnectionsPerClient: 0,
          sendProxy: "none",
          acceptProxy: false,
          deferAccept: false,
          routes: [],
        },
      ],
    });
    expect(DEFAULT_BUFFER_SIZE).toBe(128 * 1024);
  });

  test("every key set, with per-app overrides", () => {
    const c = parseConfigText(
      `bind = "::"
shutdown_timeout = "0s"
max_connections = 500
buffer_size = "1MiB"
[defaults]
balancer = "p2c"
connect_timeout = "500ms"
idle_timeout = "1m"
[health]
interval = "5s"
timeout = "1.5s"
rise = 2
fall = 3
[admin]
listen = "[::1]:9901"
[[apps]]
name = "five-thousand"
ports = [5001, 5200]
targets = ["127.0.0.1:9001", "localhost:9002", "[::1]:9003"]
balancer = "round-robin"
connect_timeout = "1s"
idle_timeout = "5m"
buffer_size = "16KB"
max_connections = 100
[[apps]]
name = "inherits"
ports = [6001]
targets = ["db.internal:5432"]
`,
      "toml",
    );
    expect(c.bind).toBe("::");
    expect(c.shutdownTimeoutMs).toBe(0);
    expect(c.maxConnections).toBe(500);
    expect(c.bufferSize).toBe(1_048_576);
    expect(c.health).toEqual({ intervalMs: 5_000, timeoutMs: 1_500, rise: 2, fall: 3 });
    expect(c.admin).toEqual({ host: "::1", port: 9901, address: "[::1]:9901" });
    const [a, b] = c.apps;
    expect(a).toMatchObject({ balancer: "round-robin", connectTimeoutMs: 1_000, idleTimeoutMs: 300_000, bufferSize: 16_000, maxConnections: 100 });
    expect(a?.targets.map((t) => t.address)).toEqual(["127.0.0.1:9001", "localhost:9002", "[::1]:9003"]);
    expect(b).toMatchObject({ balancer: "p2c", connectTimeoutMs: 500, idleTimeoutMs: 60_000, bufferSize: 1_048_576, maxConnections: undefined });
    expect(summarize(c)).toBe("config ok: 2 apps, 3 ports, 4 targets, admin on [::1]:9901");
  });

  test("the traffic keys: target tables, queue, slow start, ACLs, PROXY, health payloads, routes", () => {
    const c = parseConfigText(
      `[health]
send = 'PING\\r\\n'
expect = "+PONG"
[[apps]]
name = "redis"
ports = [6379]
targets = ["127.0.0.1:7001", { address = "127.0.0.1:7002", weight = 3, max_connections = 10 }]
queue_timeout = "2s"
slow_start = "30s"
allow = ["127.0.0.0/8", "::1"]
deny = ["127.0.0.3"]
max_connections_per_client = 4
send_proxy = "v2"
accept_proxy = true
health = { interval = "5s", expect = '\\x2bPONG' }
[[apps]]
name = "tls"
ports = [443]
balancer = "p2c"
[[apps.routes]]
sni = ["example.com", "*.example.org"]
targets = ["127.0.0.1:8443"]
[[apps.routes]]
sni = ["other.test"]
targets = [{ address = "127.0.0.1:9443", weight = 2 }]
balancer = "round-robin"
`,
      "toml",
    );
    const [redis, tls] = c.apps;
    expect(redis!.targets.map((t) => [t.address, t.weight, t.maxConnections])).toEqual([
      ["127.0.0.1:7001", undefined, undefined],
      ["127.0.0.1:7002", 3, 10],
    ]);
    expect(redis).toMatchObject({ queueTimeoutMs: 2000, slowStartMs: 30_000, maxConnectionsPerClient: 4, sendProxy: "v2", acceptProxy: true });
    expect(redis!.allow.map((b) => b.text)).toEqual(["127.0.0.0/8", "::1"]);
    expect(redis!.deny.map((b) => b.text)).toEqual(["127.0.0.3"]);
    const enc = (t: string) => new TextEncoder().encode(t);
    expect(c.health.send).toEqual(enc("PING\r\n"));
    // The app's health table overrides only what it sets.
    expect(redis!.health).toEqual({ intervalMs: 5000, timeoutMs: 2000, rise: 1, fall: 1, send: enc("PING\r\n"), expect: enc("+PONG") });
    expect(tls!.targets).toEqual([]);
    expect(tls!.routes.map((r) => [r.sni, r.targets.map((t) => t.address), r.balancer])).toEqual([
      [["example.com", "*.example.org"], ["127.0.0.1:8443"], "p2c"],
      [["other.test"], ["127.0.0.1:9443"], "round-robin"],
    ]);
  });

  test("the operations keys", () => {
    const c = parseConfigText(
      `shutdown_delay = "5s"
watch = false
[log]
format = "json"
level = "debug"
access = true
[admin]
token = "s3cret"
${APP}on_remove = "drain"
drain_timeout = "10s"
access_log = false
`,
      "toml",
    );
    expect(c).toMatchObject({ shutdownDelayMs: 5_000, watch: false, log: { format: "json", level: "debug", access: true } });
    expect(c.adminAuth).toEqual({ token: "s3cret", tokenFile: undefined });
    expect(c.apps[0]).toMatchObject({ onRemove: "drain", drainTimeoutMs: 10_000, accessLog: false });
  });

  test("an [admin] table without listen uses 127.0.0.1:9900", () => {
    const c = parseConfigText(`[admin]\n${APP}`, "toml");
    expect(c.admin?.address).toBe("127.0.0.1:9900");
  });

  test("the seed JSON format gets the TOML defaults", () => {
    const seed = { Apps: [{ Name: "five-thousand", Ports: [5001, 5200], Targets: ["127.0.0.1:9001"] }] };
    const c = parseConfigText(JSON.stringify(seed), "json");
    expect(c).toEqual(parseConfigText(`[[apps]]\nname = "five-thousand"\nports = [5001, 5200]\ntargets = ["127.0.0.1:9001"]`, "toml"));
    expect(summarize(c)).toBe("config ok: 1 app, 2 ports, 1 target, no admin");
  });

  test("JSON in the lowercase TOML shape is accepted too", () => {
    const c = parseConfig({ admin: {}, apps: [{ name: "web", ports: [5001], targets: ["h:1"] }] });
    expect(c.apps[0]?.name).toBe("web");
    expect(c.admin?.port).toBe(9900);
  });
});

describe("invalid configs report each problem at its key path", () => {
  // [name, toml, expected issue paths, and for each (optionally) text its message must contain]
  const rows: [string, string, [string, string?][]][] = [
    ["unknown top-level key", `bnid = "0.0.0.0"\n${APP}`, [["bnid"]]],
    ["unknown key in [defaults]", `[defaults]\nbalancr = "p2c"\n${APP}`, [["defaults.balancr"]]],
    ["unknown key in an app", `${APP}tragets = []\n`, [["apps[0].tragets"]]],
    ["every unknown key, not just the first", `a = 1\nb = 2\n${APP}`, [["a"], ["b"]]],
    ["bad bind", `bind = "not a host"\n${APP}`, [["bind", "not a host"]]],
    ["bad duration", `shutdown_timeout = "2 seconds"\n${APP}`, [["shutdown_timeout", "2 seconds"]]],
    ["bare number duration", `[health]\ninterval = "30"\n${APP}`, [["health.interval", "30"]]],
    ["duration given as a number", `[health]\ninterval = 30\n${APP}`, [["health.interval", "30"]]],
    ["zero interval", `[health]\ninterval = "0s"\n${APP}`, [["health.interval", "0s"]]],
    ["zero connect_timeout", `[defaults]\nconnect_timeout = "0ms"\n${APP}`, [["defaults.connect_timeout", "0ms"]]],
    ["bad balancer", `[defaults]\nbalancer = "fastest"\n${APP}`, [["defaults.balancer", "fastest"]]],
    ["bad app balancer", `${APP}balancer = "weighted"\n`, [["apps[0].balancer", "weighted"]]],
    ["rise 0", `[health]\nrise = 0\n${APP}`, [["health.rise", "0"]]],
    ["fractional fall", `[health]\nfall = 1.5\n${APP}`, [["health.fall", "1.5"]]],
    ["max_connections 0", `max_connections = 0\n${APP}`, [["max_connections", "0"]]],
    ["admin listen without port", `[admin]\nlisten = "127.0.0.1"\n${APP}`, [["admin.listen", "127.0.0.1"]]],
    ["admin listen not a string", `[admin]\nlisten = 9900\n${APP}`, [["admin.listen", "9900"]]],
    ["admin port clashes with an app port", `[admin]\nlisten = "127.0.0.1:5001"\n${APP}`, [["admin.listen", "5001"]]],
    ["rise 1e308", `[health]\nrise = 1e308\n${APP}`, [["health.rise", "1e+308"]]],
    ["rise 101", `[health]\nrise = 101\n${APP}`, [["health.rise", "101"]]],
    ["fall -1", `[health]\nfall = -1\n${APP}`, [["health.fall", "-1"]]],
    ["fall inf", `[health]\nfall = inf\n${APP}`, [["health.fall", "Infinity"]]],
    ["fall nan", `[health]\nfall = nan\n${APP}`, [["health.fall", "NaN"]]],
    ["max_connections 1e308", `max_connections = 1e308\n${APP}`, [["max_connections", "1e+308"]]],
    ["max_connections over 10,000,000", `max_connections = 10_000_001\n${APP}`, [["max_connections", "10000001"]]],
    ["max_connections -0", `max_connections = -0\n${APP}`, [["max_connections", "1-10,000,000"]]],
    ["max_connections 1.5", `max_connections = 1.5\n${APP}`, [["max_connections", "1.5"]]],
    ["max_connections as a string", `max_connections = "100"\n${APP}`, [["max_connections", `"100"`]]],
    ["app max_connections 0", `${APP}max_connections = 0\n`, [["apps[0].max_connections", "0"]]],
    ["app max_connections over 10,000,000", `${APP}max_connections = 20_000_000\n`, [["apps[0].max_connections", "20000000"]]],
    ["max_connections is not a [defaults] key", `[defaults]\nmax_connections = 5\n${APP}`, [["defaults.max_connections", "unknown key"]]],
    ["shutdown_delay without a unit", `shutdown_delay = "5"\n${APP}`, [["shutdown_delay", "5"]]],
    ["watch as a string", `watch = "no"\n${APP}`, [["watch", "true or false"]]],
    ["workers 0", `workers = 0\n${APP}`, [["workers", `"auto" or an integer 1-64`]]],
    ["workers 65", `workers = 65\n${APP}`, [["workers", "65"]]],
    ["workers as another word", `workers = "all"\n${APP}`, [["workers", `"all"`]]],
    ["log format", `[log]\nformat = "logfmt"\n${APP}`, [["log.format", "text, json"]]],
    ["log level", `[log]\nlevel = "trace"\n${APP}`, [["log.level", "trace"]]],
    ["log access as a number", `[log]\naccess = 1\n${APP}`, [["log.access", "number 1"]]],
    ["unknown key in [log]", `[log]\nacces = true\n${APP}`, [["log.acces", "unknown key"]]],
    ["empty admin token", `[admin]\ntoken = ""\n${APP}`, [["admin.token", "empty"]]],
    ["admin token with a space", `[admin]\ntoken = "a b"\n${APP}`, [["admin.token", "spaces"]]],
    ["admin token and token_file", `[admin]\ntoken = "t"\ntoken_file = "/x"\n${APP}`, [["admin.token_file", "not both"]]],
    ["on_remove", `${APP}on_remove = "kill"\n`, [["apps[0].on_remove", "keep, drain"]]],
    ["drain_timeout", `${APP}drain_timeout = 5\n`, [["apps[0].drain_timeout", "number 5"]]],
    ["access_log", `${APP}access_log = "off"\n`, [["apps[0].access_log", "off"]]],
    ["target table without address", `${APP}`.replace('targets = ["127.0.0.1:9001"]', "targets = [{ weight = 2 }]"), [["apps[0].targets[0].address", "required"]]],
    ["target weight 0", `${APP}`.replace('targets = ["127.0.0.1:9001"]', 'targets = ["127.0.0.1:1", { address = "127.0.0.1:2", weight = 0 }]'), [["apps[0].targets[1].weight", "1-1,000"]]],
    ["target weight 1001", `${APP}`.replace('targets = ["127.0.0.1:9001"]', 'targets = [{ address = "127.0.0.1:2", weight = 1001 }]'), [["apps[0].targets[0].weight", "1001"]]],
    ["target max_connections -1", `${APP}`.replace('targets = ["127.0.0.1:9001"]', 'targets = [{ address = "127.0.0.1:2", max_connections = -1 }]'), [["apps[0].targets[0].max_connections", "-1"]]],
    ["unknown key in a target table", `${APP}`.replace('targets = ["127.0.0.1:9001"]', 'targets = [{ address = "127.0.0.1:2", wieght = 2 }]'), [["apps[0].targets[0].wieght", "unknown key"]]],
    ["a target that is a number", `${APP}`.replace('targets = ["127.0.0.1:9001"]', "targets = [9001]"), [["apps[0].targets[0]", "number 9001"]]],
    ["a target table listed twice", `${APP}`.replace('targets = ["127.0.0.1:9001"]', 'targets = ["127.0.0.1:2", { address = "127.0.0.1:2" }]'), [["apps[0].targets[1]", "listed twice"]]],
    ["no targets and no routes", `[[apps]]\nname = "a"\nports = [1]\n`, [["apps[0].targets", "required"]]],
    ["allow not a CIDR", `${APP}allow = ["10.0.0.0/33"]\n`, [["apps[0].allow[0]", "0-32"]]],
    ["deny with host bits", `${APP}deny = ["::1/64"]\n`, [["apps[0].deny[0]", "host bits"]]],
    ["send_proxy v3", `${APP}send_proxy = "v3"\n`, [["apps[0].send_proxy", "none, v1, v2"]]],
    ["accept_proxy as a string", `${APP}accept_proxy = "yes"\n`, [["apps[0].accept_proxy", "true or false"]]],
    ["queue_timeout without unit", `${APP}queue_timeout = "5"\n`, [["apps[0].queue_timeout", "5"]]],
    ["max_connections_per_client 1.5", `${APP}max_connections_per_client = 1.5\n`, [["apps[0].max_connections_per_client", "1.5"]]],
    ["health send with a bad escape", `[health]\nsend = 'PING\\q'\n${APP}`, [["health.send", "unknown escape"]]],
    ["app health unknown key", `${APP}health = { intervl = "1s" }\n`, [["apps[0].health.intervl", "unknown key"]]],
    ["route without sni", `${APP}[[apps.routes]]\ntargets = ["127.0.0.1:3"]\n`, [["apps[0].routes[0].sni", "required"]]],
    ["route with an empty sni list", `${APP}[[apps.routes]]\nsni = []\ntargets = ["127.0.0.1:3"]\n`, [["apps[0].routes[0].sni", "at least one"]]],
    ["route pattern with a bad wildcard", `${APP}[[apps.routes]]\nsni = ["a.*.com"]\ntargets = ["127.0.0.1:3"]\n`, [["apps[0].routes[0].sni[0]", "a.*.com"]]],
    [
      "one address with two caps in an app and its route",
      `${APP}`.replace('targets = ["127.0.0.1:9001"]', 'targets = [{ address = "127.0.0.1:2", max_connections = 1 }]') + `[[apps.routes]]\nsni = ["a.test"]\ntargets = ["127.0.0.1:2"]\n`,
      [["apps[0].routes[0].targets[0]", "apps[0].targets[0]"]],
    ],
    ["buffer_size a bare number string", `buffer_size = "65536"\n${APP}`, [["buffer_size", "65536"]]],
    ["buffer_size a number", `buffer_size = 65536\n${APP}`, [["buffer_size", "65536"]]],
    ["buffer_size below 1KiB", `buffer_size = "512B"\n${APP}`, [["buffer_size", "512B"]]],
    ["buffer_size above 64MiB", `buffer_size = "65MiB"\n${APP}`, [["buffer_size", "65MiB"]]],
    ["buffer_size lowercase unit", `buffer_size = "64kb"\n${APP}`, [["buffer_size", "64kb"]]],
    ["buffer_size fractional bytes", `buffer_size = "1.0001KiB"\n${APP}`, [["buffer_size", "1.0001KiB"]]],
    ["app buffer_size out of range", `${APP}buffer_size = "1GiB"\n`, [["apps[0].buffer_size", "1GiB"]]],
    ["buffer_size is not a [defaults] key", `[defaults]\nbuffer_size = "64KiB"\n${APP}`, [["defaults.buffer_size", "unknown key"]]],
    ["__proto__ at the top", `__proto__ = 1\n${APP}`, [["__proto__", "unknown key"]]],
    ["__proto__ as a table", `[__proto__]\nx = 1\n${APP}`, [["__proto__", "unknown key"]]],
    ["constructor and prototype at the top", `constructor = 1\nprototype = "x"\n${APP}`, [["constructor", "unknown key"], ["prototype", "unknown key"]]],
    ["__proto__ in [defaults]", `[defaults]\n__proto__ = { balancer = "p2c" }\n${APP}`, [["defaults.__proto__", "unknown key"]]],
    ["constructor in [health]", `[health]\nconstructor = 1\n${APP}`, [["health.constructor", "unknown key"]]],
    ["prototype in [admin]", `[admin]\nprototype = "x"\n${APP}`, [["admin.prototype", "unknown key"]]],
    ["__proto__ in an app", `${APP}__proto__ = 1\n`, [["apps[0].__proto__", "unknown key"]]],
    ["prototype keys beside other problems", `constructor = 1\n${APP}prototype = 1\nports = 2\n`.replace("ports = [5001]\n", ""), [["constructor"], ["apps[0].prototype"], ["apps[0].ports"]]],
    ["apps missing", `bind = "0.0.0.0"`, [["apps"]]],
    ["apps written as a table", `[apps]\nname = "web"`, [["apps", "table"]]],
    ["an empty file", ``, [["apps"]]],
  ];

  const app = (ports: string, targets: string) => `[[apps]]\nname = "web"\nports = ${ports}\ntargets = ${targets}\n`;
  for (const [port, shown] of [["0", "0"], ["70000", "70000"], ["5.5", "5.5"], [`"80"`, `"80"`], ["-1", "-1"], ["true", "true"]]) {
    rows.push([`bad port ${port}`, app(`[5001, ${port}]`, `["h:1"]`), [["apps[0].ports[1]", shown]]]);
  }
  for (const target of ["db", "db:", ":80", "host:99999", "[::1]80", "::1:80", "[nope]:80", "bad host:80", ""]) {
    rows.push([`bad target ${JSON.stringify(target)}`, app(`[5001]`, `["h:1", ${JSON.stringify(target)}]`), [["apps[0].targets[1]", JSON.stringify(target)]]]);
  }
  rows.push(
    ["target not a string", app(`[5001]`, `[9001]`), [["apps[0].targets[0]", "9001"]]],
    ["ports not an array", app(`"5001"`, `["h:1"]`), [["apps[0].ports", "string"]]],
    ["empty ports", app(`[]`, `["h:1"]`), [["apps[0].ports"]]],
    ["empty targets", app(`[5001]`, `[]`), [["apps[0].targets"]]],
    ["port twice in one app", app(`[5001, 5002, 5001]`, `["h:1"]`), [["apps[0].ports[2]", "5001"]]],
    ["target twice in one app", app(`[5001]`, `["h:1", "h:2", "h:1"]`), [["apps[0].targets[2]", "h:1"]]],
    ["port in two apps", `${APP}[[apps]]\nname = "db"\nports = [6000, 5001]\ntargets = ["h:1"]\n`, [["apps[1].ports[1]", "web"]]],
    ["duplicate app name", `${APP}${APP.replace("5001", "5002")}`, [["apps[1].name", "web"]]],
    ["missing name", `[[apps]]\nports = [5001]\ntargets = ["h:1"]\n`, [["apps[0].name"]]],
    ["missing ports and targets", `[[apps]]\nname = "web"\n`, [["apps[0].ports"], ["apps[0].targets"]]],
    ["empty name", app(`[5001]`, `["h:1"]`).replace(`"web"`, `""`), [["apps[0].name"]]],
    ["name with a space", app(`[5001]`, `["h:1"]`).replace(`"web"`, `"my app"`), [["apps[0].name", "my app"]]],
    ["app not a table", `apps = ["web"]`, [["apps[0]", "web"]]],
  );

  for (const [name, toml, expected] of rows) {
    test(name, () => {
      const err = invalid(toml);
      expect(err.issues.map((i) => i.path).sort()).toEqual(expected.map(([p]) => p).sort());
      for (const [p, contains] of expected) {
        const issue = err.issues.find((i) => i.path === p);
        expect(issue?.message.length).toBeGreaterThan(0);
        if (contains !== undefined) expect(issue?.message).toContain(contains);
      }
    });
  }

  test("a document that is not a table is reported at the top level", () => {
    for (const doc of [[], 42, null, "apps"]) {
      try {
        parseConfig(doc);
        throw new Error("expected a ConfigError");
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).issues.map((i) => i.path)).toEqual([""]);
      }
    }
  });

  test("several problems in one config are reported together", () => {
    const err = invalid(`bind = 1
shutdown_timeout = "forever"
typo = true
[defaults]
balancer = "fastest"
[health]
interval = "0s"
rise = 0
[admin]
listen = "127.0.0.1:6000"
[[apps]]
name = "web"
ports = [5001, 0]
targets = ["db"]
[[apps]]
name = "web"
ports = [5001, 6000]
targets = ["h:1", "h:1"]
extra = 1
`);
    expect(err.issues.map((i) => i.path).sort()).toEqual(
      [
        "bind",
        "shutdown_timeout",
        "typo",
        "defaults.balancer",
        "health.interval",
        "health.rise",
        "admin.listen",
        "apps[0].ports[1]",
        "apps[0].targets[0]",
        "apps[1].name",
        "apps[1].ports[0]",
        "apps[1].targets[1]",
        "apps[1].extra",
      ].sort(),
    );
    // The error's own message lists every issue with its path, for --check to print.
    for (const issue of err.issues) expect(err.message).toContain(`${issue.path}: ${issue.message}`);
  });
});

describe("seed JSON errors use its capitalised key paths", () => {
  const rows: [string, unknown, string[]][] = [
    ["bad target", { Apps: [{ Name: "a", Ports: [1], Targets: ["h:1", "db"] }] }, ["Apps[0].Targets[1]"]],
    ["unknown key", { Apps: [{ Name: "a", Ports: [1], Targets: ["h:1"], Weight: 2 }] }, ["Apps[0].Weight"]],
    ["lowercase key in a seed", { Apps: [{ name: "a", Ports: [1], Targets: ["h:1"] }] }, ["Apps[0].Name", "Apps[0].name"]],
    ["TOML key beside Apps", { Apps: [{ Name: "a", Ports: [1], Targets: ["h:1"] }], admin: {} }, ["admin"]],
    ["no apps", { Apps: [] }, ["Apps"]],
    [
      "cross-app checks",
      {
        Apps: [
          { Name: "a", Ports: [1], Targets: ["h:1"] },
          { Name: "a", Ports: [1], Targets: ["h:1"] },
        ],
      },
      ["Apps[1].Name", "Apps[1].Ports[0]"],
    ],
  ];
  for (const [name, doc, paths] of rows) {
    test(name, () => {
      const err = invalid(JSON.stringify(doc), "json");
      expect(err.issues.map((i) => i.path).sort()).toEqual([...paths].sort());
    });
  }
});

describe("prototype keys", () => {
  test("JSON reports them at their paths, in the TOML shape and the seed", () => {
    const shaped = `{"__proto__": 1, "apps": [{"name": "a", "ports": [1], "targets": ["h:1"], "constructor": {}}], "health": {"prototype": 2}}`;
    expect(invalid(shaped, "json").issues.map((i) => i.path).sort()).toEqual(["__proto__", "apps[0].constructor", "health.prototype"]);
    const seed = `{"Apps": [{"Name": "a", "Ports": [1], "Targets": ["h:1"], "__proto__": {"Name": "b"}}], "constructor": 1}`;
    expect(invalid(seed, "json").issues.map((i) => i.path).sort()).toEqual(["Apps[0].__proto__", "constructor"]);
  });

  test("both parsers make them own properties and change no prototype", () => {
    for (const doc of [Bun.TOML.parse(`__proto__ = { polluted = 1 }`), JSON.parse(`{"__proto__": {"polluted": 1}}`)] as object[]) {
      expect(Object.hasOwn(doc, "__proto__")).toBe(true);
      expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    }
    invalid(`[defaults]\n__proto__ = { polluted = 1 }\n${APP}`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("bounds accept their limits", () => {
  test("rise and fall 100, max_connections 10,000,000, buffer_size 1KiB and 64MiB", () => {
    const c = parseConfigText(
      `max_connections = 10_000_000\nbuffer_size = "1KiB"\n[health]\nrise = 100\nfall = 100\n${APP}buffer_size = "64MiB"\nmax_connections = 10_000_000\n`,
      "toml",
    );
    expect(c.health).toMatchObject({ rise: 100, fall: 100 });
    expect(c.maxConnections).toBe(10_000_000);
    expect(c.bufferSize).toBe(1024);
    expect(c.apps[0]).toMatchObject({ bufferSize: 64 * 1024 * 1024, maxConnections: 10_000_000 });
  });
});

describe("syntax errors", () => {
  const rows: [string, string, "toml" | "json", string | undefined][] = [
    ["TOML missing value", `[[apps]]\nname = "web"\nports = \n`, "toml", "line 3"],
    ["TOML unterminated string", `bind = "0.0.0.0\n${APP}`, "toml", "line 1"],
    ["TOML integer beyond 2^53", `max_connections = 9007199254740993\n${APP}`, "toml", "line 1"],
    ["TOML table defined twice", `[health]\nrise = 1\n[health]\nfall = 1\n`, "toml", "line 3"],
    ["JSON trailing comma", `{"Apps": [],}`, "json", undefined],
    ["JSON truncated", `{"Apps": [`, "json", undefined],
  ];
  for (const [name, text, format, where] of rows) {
    test(name, () => {
      const err = thrown(() => parseConfigText(text, format));
      expect(err.code).toBe("CONFIG_PARSE");
      expect(err.message.length).toBeGreaterThan(0);
      if (where) expect(err.message).toContain(where);
    });
  }

  test("a multi-line array before the error does not confuse the line", () => {
    const err = thrown(() => parseConfigText(`[[apps]]\nname = "web"\nports = [\n  5001,\n  5002,\n]\ntargets = [\n`, "toml"));
    expect(err.code).toBe("CONFIG_PARSE");
    expect(err.message).toContain("line 7");
  });
});

describe("loadConfig", () => {
  let dir = "";
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-config-"));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  test("reads TOML by default", async () => {
    expect((await loadConfig(write("sluice.toml", APP))).apps[0]?.name).toBe("web");
    expect((await loadConfig(write("sluice.conf", APP))).apps[0]?.name).toBe("web");
  });

  test("reads .json as JSON, seed or TOML-shaped, with or without a BOM", async () => {
    const seed = JSON.stringify({ Apps: [{ Name: "s", Ports: [1], Targets: ["h:1"] }] });
    expect((await loadConfig(write("seed.json", seed))).apps[0]?.name).toBe("s");
    expect((await loadConfig(write("bom.json", `\uFEFF${seed}`))).apps[0]?.name).toBe("s");
    const shaped = JSON.stringify({ apps: [{ name: "t", ports: [1], targets: ["h:1"] }] });
    expect((await loadConfig(write("shaped.JSON", shaped))).apps[0]?.name).toBe("t");
  });

  test("[admin] token_file is read, one trailing newline dropped", async () => {
    const token = write("token", "s3cret\n");
    const c = await loadConfig(write("tok.toml", `[admin]\ntoken_file = ${JSON.stringify(token)}\n${APP}`));
    expect(c.adminAuth).toEqual({ token: "s3cret", tokenFile: token });
  });

  test("an unreadable or malformed token_file names admin.token_file", async () => {
    const missing = path.join(dir, "no-token");
    const e1 = (await thrownAsync(() => loadConfig(write("t1.toml", `[admin]\ntoken_file = ${JSON.stringify(missing)}\n${APP}`)))) as ConfigError;
    expect(e1.issues).toEqual([{ path: "admin.token_file", message: `token file not found: ${missing}` }]);
    const spaced = write("spaced", "two words\n");
    const e2 = (await thrownAsync(() => loadConfig(write("t2.toml", `[admin]\ntoken_file = ${JSON.stringify(spaced)}\n${APP}`)))) as ConfigError;
    expect(e2.issues[0]?.path).toBe("admin.token_file");
  });

  test("a missing file is CONFIG_NOT_FOUND naming the path", async () => {
    const file = path.join(dir, "nope.toml");
    const err = await thrownAsync(() => loadConfig(file));
    expect(err.code).toBe("CONFIG_NOT_FOUND");
    expect(err.message).toContain(file);
  });

  test("a directory is CONFIG_NOT_FOUND naming the path", async () => {
    const err = await thrownAsync(() => loadConfig(dir));
    expect(err.code).toBe("CONFIG_NOT_FOUND");
    expect(err.message).toContain(dir);
  });

  test("a syntax error is CONFIG_PARSE naming the file and line", async () => {
    const file = write("broken.toml", `${APP}bind = \n`);
    const err = await thrownAsync(() => loadConfig(file));
    expect(err.code).toBe("CONFIG_PARSE");
    expect(err.message).toContain(`${file}:5`);
    const json = write("broken.json", `{"Apps": [}`);
    const jsonErr = await thrownAsync(() => loadConfig(json));
    expect(jsonErr.code).toBe("CONFIG_PARSE");
    expect(jsonErr.message).toContain(json);
  });

  test("an invalid config is a ConfigError carrying the file", async () => {
    const file = write("invalid.toml", `${APP}tragets = []\n`);
    const err = await thrownAsync(() => loadConfig(file));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).file).toBe(file);
    expect((err as ConfigError).issues.map((i) => i.path)).toEqual(["apps[0].tragets"]);
  });
});
