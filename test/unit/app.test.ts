/**
 * App.setEnabled: an operator's drain takes a target out of rotation, enable
 * puts it back, and the state stays with the address across a reload and a
 * DNS re-resolution (both rebuild the pool, keeping TargetState by address).
 */
import { Limits } from "../../src/sys/limits.ts";
import { appConfig } from "../helpers/config.ts";
import { afterEach, describe, expect, test } from "bun:test";
import { App } from "../../src/control/app.ts";
import type { Shared } from "../../src/control/app-shared.ts";
import type { AppConfig } from "../../src/config/types.ts";
import type { Logger } from "../../src/sys/log.ts";
import { Sweeper } from "../../src/sys/sweeper.ts";
import { parseEndpoint, type Endpoint } from "../../src/net/target.ts";
import { deadPort } from "../helpers/net.ts";

const quiet: Logger = { info() {}, warn() {}, error() {}, success() {}, debug() {} } as unknown as Logger;

function ep(text: string): Endpoint {
  const e = parseEndpoint(text);
  if (typeof e === "string") throw new Error(e);
  return e;
}

function config(targets: string[]): AppConfig {
  return appConfig({ name: "web", targets: targets.map(ep) });
}

const apps: App[] = [];
function app(targets: string[], resolve?: Shared["resolve"]): App {
  const shared: Shared = {
    limits: new Limits(10),
    dials: new Sweeper(50),
    idle: new Sweeper(1000),
    stalls: new Sweeper(1000),
    log: quiet,
    resolve,
  };
  const a = new App(config(targets), shared);
  apps.push(a);
  return a;
}

afterEach(() => {
  for (const a of apps.splice(0)) a.stop();
});

/** picks lists what the pool hands out for `n` new sessions. */
function picks(a: App, n: number): string[] {
  return Array.from({ length: n }, () => a.pool.pick(null)!.address);
}

/** until yields to the event loop until `ok` holds (a resolution finishing), at most 1000 turns. */
async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setImmediate(r));
  if (!ok()) throw new Error(`never happened: ${what}`);
}

describe("App.setEnabled", () => {
  test("drain takes a target out of rotation, enable puts it back; an unknown address is undefined", () => {
    const a = app(["127.0.0.1:9001", "127.0.0.1:9002"]);
    expect(a.targets.setEnabled("127.0.0.1:9999", false)).toBeUndefined();
    const t = a.targets.setEnabled("127.0.0.1:9002", false)!;
    expect([t.address, t.enabled, t.ready]).toEqual(["127.0.0.1:9002", false, false]);
    expect(picks(a, 4)).toEqual(["127.0.0.1:9001", "127.0.0.1:9001", "127.0.0.1:9001", "127.0.0.1:9001"]);
    expect(a.targets.setEnabled("127.0.0.1:9002", true)!.enabled).toBe(true);
    expect(new Set(picks(a, 4))).toEqual(new Set(["127.0.0.1:9001", "127.0.0.1:9002"]));
  });

  test("draining twice is the same as once; a drained target still serves when nothing else is left (fail open)", () => {
    const a = app(["127.0.0.1:9001"]);
    a.targets.setEnabled("127.0.0.1:9001", false);
    a.targets.setEnabled("127.0.0.1:9001", false);
    expect(a.pool.targets[0]!.enabled).toBe(false);
    expect(a.pool.pick(null)?.address).toBe("127.0.0.1:9001");
  });

  test("a reload that keeps the address keeps it drained; one that removes it forgets it", () => {
    const a = app(["127.0.0.1:9001", "127.0.0.1:9002"]);
    a.targets.setEnabled("127.0.0.1:9002", false);
    a.update(config(["127.0.0.1:9002", "127.0.0.1:9003", "127.0.0.1:9001"]));
    expect(a.pool.targets.map((t) => [t.address, t.enabled])).toEqual([
      ["127.0.0.1:9002", false],
      ["127.0.0.1:9003", true],
      ["127.0.0.1:9001", true],
    ]);
    expect(picks(a, 4)).not.toContain("127.0.0.1:9002");
    a.update(config(["127.0.0.1:9001"]));
    a.update(config(["127.0.0.1:9001", "127.0.0.1:9002"]));
    expect(a.pool.targets[1]!.enabled).toBe(true);
  });

  test("a DNS re-resolution that keeps the address keeps it drained", async () => {
    const port = deadPort();
    const answers = [["127.0.0.1", "127.0.0.2"], ["127.0.0.2", "127.0.0.3"]];
    let calls = 0;
    const a = app([`svc.test:${port}`], async () => answers[Math.min(calls++, answers.length - 1)]!);
    a.start();
    await until(() => a.pool.targets.some((t) => t.address === `127.0.0.1:${port}`), "the first resolution");
    expect(a.targets.setEnabled(`127.0.0.2:${port}`, false)?.origin).toBe(`svc.test:${port}`);
    a.update(config([`svc.test:${port}`])); // a reload re-resolves at once
    await until(() => a.pool.targets.some((t) => t.address === `127.0.0.3:${port}`), "the second resolution");
    expect(a.pool.targets.map((t) => [t.address, t.enabled])).toEqual([
      [`127.0.0.2:${port}`, false],
      [`127.0.0.3:${port}`, true],
    ]);
    expect(a.pool.targets[0]!.ready).toBe(false);
  });
});
