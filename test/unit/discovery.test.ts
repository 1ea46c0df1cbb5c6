/**
 * DNS discovery: names become one target per address; re-resolution adds and
 * removes; a failure keeps the last good set; literals are never resolved.
 */
import { describe, expect, test } from "bun:test";
import { Discovery, expand, isLiteral, type Resolver } from "../../src/upstream/discovery.ts";
import { parseEndpoint, type Endpoint } from "../../src/net/target.ts";

const ep = (text: string) => parseEndpoint(text) as Endpoint;
const addresses = (list: Endpoint[]) => list.map((e) => e.address);

describe("expand", () => {
  test("a name with an answer becomes one target per address, its origin kept; literals stay", () => {
    const known = new Map([["db.svc", ["10.0.0.2", "10.0.0.1", "fd00::5"]]]);
    const out = expand([ep("db.svc:5432"), ep("127.0.0.1:80"), ep("[::1]:81")], known);
    expect(addresses(out)).toEqual(["10.0.0.2:5432", "10.0.0.1:5432", "[fd00::5]:5432", "127.0.0.1:80", "[::1]:81"]);
    expect(out[0]!.origin).toBe("db.svc:5432");
    expect(out[3]!.origin).toBeUndefined();
  });

  test("a name without an answer stays itself; an address reached twice appears once", () => {
    const known = new Map([["a.svc", ["10.0.0.1"]], ["b.svc", ["10.0.0.1"]]]);
    expect(addresses(expand([ep("a.svc:80"), ep("b.svc:80"), ep("c.svc:80")], known))).toEqual(["10.0.0.1:80", "c.svc:80"]);
  });

  test("literals are recognised", () => {
    expect(["10.1.2.3", "::1", "fd00::1", "localhost", "db.svc", "10.1.2"].map(isLiteral)).toEqual([true, true, true, false, false, false]);
  });
});

describe("Discovery", () => {
  /** scripted answers per call; an Error answer is a failed lookup. */
  function scripted(answers: (string[] | Error)[]): { resolver: Resolver; calls: string[] } {
    const calls: string[] = [];
    let i = 0;
    return {
      calls,
      resolver: async (host) => {
        calls.push(host);
        const a = answers[Math.min(i++, answers.length - 1)]!;
        if (a instanceof Error) throw Object.assign(a, { code: "DNS_ENOTFOUND" });
        return a;
      },
    };
  }

  test("re-resolution adds and removes addresses; a failure keeps the last set, is reported and counted", async () => {
    const { resolver, calls } = scripted([["10.0.0.1", "10.0.0.2"], ["10.0.0.2", "10.0.0.3"], new Error("down"), []]);
    const failures: string[] = [];
    const d = new Discovery(resolver, (host, error) => failures.push(`${host}: ${error}`));
    const config = [ep("app.svc:8080"), ep("127.0.0.1:9")];
    expect(addresses(await d.refresh(config))).toEqual(["10.0.0.1:8080", "10.0.0.2:8080", "127.0.0.1:9"]);
    expect(addresses(await d.refresh(config))).toEqual(["10.0.0.2:8080", "10.0.0.3:8080", "127.0.0.1:9"]);
    expect(addresses(await d.refresh(config))).toEqual(["10.0.0.2:8080", "10.0.0.3:8080", "127.0.0.1:9"]);
    // An empty answer is a failure too: a name does not lose every target to one bad reply.
    expect(addresses(await d.refresh(config))).toEqual(["10.0.0.2:8080", "10.0.0.3:8080", "127.0.0.1:9"]);
    expect(failures).toEqual(["app.svc: DNS_ENOTFOUND", "app.svc: no addresses"]);
    expect([d.resolved, d.failed]).toEqual([2, 2]);
    // The literal was never looked up.
    expect(calls).toEqual(["app.svc", "app.svc", "app.svc", "app.svc"]);
  });

  test("a name that never resolved stays one target under its name; a name dropped from the config is forgotten", async () => {
    const d = new Discovery(scripted([new Error("down")]).resolver, () => {});
    expect(addresses(await d.refresh([ep("new.svc:80")]))).toEqual(["new.svc:80"]);
    const ok = new Discovery(scripted([["10.0.0.9"]]).resolver, () => {});
    await ok.refresh([ep("old.svc:80")]);
    expect(addresses(await ok.refresh([ep("10.0.0.1:80")]))).toEqual(["10.0.0.1:80"]);
    expect(ok.known.size).toBe(0);
  });
});
