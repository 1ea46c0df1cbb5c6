/**
 * The states a Session passes through in an App before it has a target: the
 * preface (accept_proxy's PROXY header read before dialling) and the queue
 * (every target at its max_connections). A real App with fake sockets and an
 * injected `connect`; every order of the events a client, the targets and
 * the clock can deliver, checked against session.ts's invariant (no FIN for
 * a cut stream, bytes in order, exactly one close) and, once everything has
 * closed, every counter back to zero.
 */
import { FakePeer } from "../helpers/fake-peer.ts";
import { prng, sequences } from "../helpers/orders.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { App } from "../../src/control/app.ts";
import type { Shared } from "../../src/control/app-shared.ts";
import type { AppConfig } from "../../src/config/types.ts";
import { configureLog, logSettings } from "../../src/sys/log.ts";
import type { TargetState } from "../../src/upstream/pool.ts";
import { proxyV1 } from "../../src/net/proxy-protocol.ts";
import { CLOSE_REASONS } from "../../src/datapath/close-reason.ts";
import type { Attempt, Session } from "../../src/datapath/session.ts";
import { Limits } from "../../src/sys/limits.ts";
import { Sweeper } from "../../src/sys/sweeper.ts";
import { parseEndpoint, type Endpoint } from "../../src/net/target.ts";
import { appConfig } from "../helpers/config.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const level = logSettings().level;
beforeAll(() => configureLog({ level: "silent" }));
afterAll(() => configureLog({ level }));

/** Peer: a FakePeer that also records pause() and resume(). */
class Peer extends FakePeer {
  constructor(remotePort = 40000) {
    super("peer", remotePort, true);
  }
}

function ep(text: string, maxConnections: number): Endpoint {
  const e = parseEndpoint(text);
  if (typeof e === "string") throw new Error(e);
  return { ...e, maxConnections };
}

const reset = () => Object.assign(new Error("reset"), { code: "ECONNRESET" });

interface Options {
  acceptProxy: boolean;
  sendProxy: "none" | "v1";
  queueTimeoutMs: number;
}

/** World is one App with two targets capped at one connection each, both taken by holders. */
class World {
  readonly clock = new FakeClock(performance.now());
  shared: Shared = {
    limits: new Limits(100),
    dials: new Sweeper(50, this.clock),
    idle: new Sweeper(1000, this.clock),
    stalls: new Sweeper(1000, this.clock),
    log: undefined as never,
  };
  readonly app: App;
  readonly closed: Session[] = [];
  readonly attempts: Attempt[] = [];
  readonly holders: Session[] = [];
  #port = 40000;

  constructor(
    readonly o: Options,
    targets = [ep("127.0.0.1:9001", 1), ep("127.0.0.1:9002", 1)],
    resolve?: Shared["resolve"],
  ) {
    this.shared = { ...this.shared, resolve };
    const config: AppConfig = appConfig({
      targets,
      queueTimeoutMs: o.queueTimeoutMs,
      acceptProxy: o.acceptProxy,
      sendProxy: o.sendProxy,
      maxConnectionsPerClient: 4,
      idleTimeoutMs: 0,
    });
    this.app = new App(config, this.shared);
    // SessionHost.connect is the test hook for Bun.connect: the test answers each attempt itself.
    (this.app as { connect?: (t: TargetState, a: Attempt) => void }).connect = (_t, a) => void this.attempts.push(a);
    const sessionClosed = this.app.sessionClosed.bind(this.app);
    this.app.sessionClosed = (s) => {
      this.closed.push(s);
      sessionClosed(s);
    };
  }

  get targets(): TargetState[] {
    return this.app.pool.targets;
  }

  /** header is the PROXY v1 header a load balancer in front would send for a client on `port`. */
  header(port: number): Uint8Array {
    return proxyV1({ source: { address: "127.0.0.1", port }, destination: { address: "127.0.0.1", port: 5001 } });
  }

  /** accept hands the App a new client socket; with accept_proxy, `header` says whether its PROXY header arrives at once. */
  accept(header = true): { s: Session; peer: Peer } {
    const peer = new Peer(this.#port++);
    this.app.accept(peer as unknown as Socket<Session>, 5001);
    const s = peer.data as Session;
    if (this.o.acceptProxy && header && s !== undefined && !s.closed) s.fromDownstream(this.header(peer.remotePort));
    return { s, peer };
  }

  /** fill connects a holder to each target, so the next client has to wait. */
  fill(): void {
    for (let i = 0; i < 2; i++) {
      const { s } = this.accept();
      s.upstreamOpen(s.attempt!, new Peer() as unknown as Socket<Attempt>);
      this.holders.push(s);
    }
    expect(this.targets.map((t) => t.full)).toEqual([true, true]);
  }

  /** free: the next holder's client resets, so its target has a slot again. */
  free(): boolean {
    const h = this.holders.find((x) => !x.closed);
    if (h === undefined) return false;
    h.downstreamClose(reset());
    return true;
  }

  /** finish closes whatever is still open and checks that every count is back to zero. */
  finish(...open: Session[]): void {
    for (const s of [...open, ...this.holders]) if (!s.closed) s.close("shutdown");
    const a = this.app;
    expect(a.sessions.size).toBe(0);
    expect(a.counters.queued).toBe(0);
    expect(this.shared.limits.active).toBe(0);
    expect(this.targets.map((t) => t.active)).toEqual([0, 0]);
    expect(CLOSE_REASONS.reduce((n, r) => n + a.counters.closed(r), 0)).toBe(this.closed.length);
    for (const s of this.closed) expect(this.closed.filter((c) => c === s)).toHaveLength(1);
    // Every client was 127.0.0.1: as many as max_connections_per_client are let in again, one more is not.
    for (const t of this.targets) t.maxConnections = 0;
    a.pool.refresh();
    const limitBefore = a.counters.closed("limit");
    const next = Array.from({ length: a.config.maxConnectionsPerClient }, () => this.accept());
    expect(next.map((n) => n.s?.reason)).toEqual(next.map(() => undefined));
    const over = this.accept();
    expect(over.s === undefined || over.s.reason === "limit").toBe(true);
    expect(a.counters.closed("limit")).toBe(limitBefore + 1);
    for (const n of next) n.s.close("shutdown");
    a.stop(true);
  }
}

/** Events a waiting client's session can see, besides those of its own sockets (session.test.ts's). */
const EVENTS = [
  "D.data",
  "D.end",
  "D.closeErr",
  "D.closeBare",
  "D.rst",
  "D.full",
  "D.drain",
  "free",
  "open",
  "fail",
  "deadline",
  "expire",
  "U.data",
  "U.end",
  "U.closeErr",
  "U.closeBare",
  "U.rst",
  "U.full",
  "U.drain",
] as const;
type Event = (typeof EVENTS)[number];

interface Truth {
  /** payload bytes each peer sent (a client's PROXY header is not payload). */
  sent: { D: number[]; U: number[] };
  ended: { D: boolean; U: boolean };
  closed: { D: boolean; U: boolean };
  failed: boolean;
  first: "client" | "target" | null;
  /** bytes of the client's PROXY header sent so far; the preface is complete once all are. */
  headerSent: number;
}

/**
 * run plays `events` for one client that arrives when both targets are
 * full, skipping what Bun could not deliver in the state reached, and checks
 * the invariant after each step and the counters at the end.
 */
function run(o: Options, events: readonly Event[]): { w: World; s: Session; down: Peer; up: Peer; t: Truth; played: Event[] } {
  const w = new World(o);
  w.fill();
  const { s, peer: down } = w.accept(false);
  const up = new Peer();
  const header = w.header(down.remotePort);
  const ours = o.sendProxy === "v1" ? 1 : 0;
  const t: Truth = { sent: { D: [], U: [] }, ended: { D: false, U: false }, closed: { D: false, U: false }, failed: false, first: null, headerSent: o.acceptProxy ? 0 : header.length };
  const played: Event[] = [];
  let next = 0;
  const payload = () => [next++, next++, next++].map((b) => b & 0xff);
  const opened = () => s.up !== null;

  for (const e of events) {
    if (s.closed) break;
    const [side, what] = e.includes(".") ? (e.split(".") as ["D" | "U", string]) : ["-", e];
    const p = side === "D" ? down : up;
    if (side === "U" && !opened()) continue;
    if (side !== "-" && t.closed[side as "D" | "U"]) continue;
    if (side === "D" || side === "U") {
      const k = side;
      if (what === "end" ? !t.ended[k] : what === "closeErr" || what === "closeBare") t.first ??= k === "D" ? "client" : "target";
    }
    switch (e) {
      case "D.data":
      case "U.data": {
        const k = side as "D" | "U";
        if (t.ended[k]) continue;
        if (k === "U") {
          const c = payload();
          t.sent.U.push(...c);
          s.fromUpstream(Uint8Array.from(c));
        } else if (t.headerSent === 0) {
          // The header in two pieces: the first leaves the preface incomplete.
          t.headerSent = 10;
          s.fromDownstream(header.subarray(0, 10));
        } else {
          // The rest of the header and the first payload in one chunk, or payload alone.
          const c = payload();
          const chunk = [...header.subarray(t.headerSent), ...c];
          t.headerSent = header.length;
          t.sent.D.push(...c);
          s.fromDownstream(Uint8Array.from(chunk));
        }
        break;
      }
      case "D.end":
      case "U.end": {
        const k = side as "D" | "U";
        if (t.ended[k]) continue;
        t.ended[k] = true;
        if (k === "D") s.downstreamEnd();
        else s.upstreamEnd();
        break;
      }
      case "D.closeErr":
      case "U.closeErr":
        t.closed[side as "D" | "U"] = true;
        t.failed = true;
        if (side === "D") s.downstreamClose(reset());
        else s.upstreamClose(s.attempt!, reset());
        break;
      case "D.closeBare":
      case "U.closeBare":
        t.closed[side as "D" | "U"] = true;
        if (p.shut) t.ended[side as "D" | "U"] = true;
        else t.failed = true;
        if (side === "D") s.downstreamClose(undefined);
        else s.upstreamClose(s.attempt!, undefined);
        break;
      case "D.rst":
      case "U.rst":
        if (p.mode === "fail") continue;
        p.mode = "fail";
        break;
      case "D.full":
      case "U.full":
        if (p.mode !== "all") continue;
        p.mode = "none";
        break;
      case "D.drain":
      case "U.drain":
        if (p.mode === "all") continue;
        if (p.mode === "none") p.mode = "all";
        if (side === "D") s.downstreamDrain();
        else s.upstreamDrain();
        break;
      case "free":
        if (!w.free()) continue;
        break;
      case "open":
      case "fail": {
        // Answer the dial in flight, if there is one.
        const a = s.attempt;
        if (a === null || opened()) continue;
        if (e === "open") s.upstreamOpen(a, up as unknown as Socket<Attempt>);
        else {
          a.settled();
          s.dialFailed(a, "ECONNREFUSED");
        }
        break;
      }
      case "deadline":
        // connect_timeout passes: for the preface and for a dial in flight.
        w.clock.advance(w.app.connectTimeoutMs + 100);
        break;
      case "expire":
        // queue_timeout passes (App's queue timer closes a waiting client so).
        if (s.preface !== null || s.attempt !== null || opened()) continue;
        s.close("limit");
        break;
    }
    played.push(e);
    if (down.failedWrites + up.failedWrites > 0) t.failed = true;
    if (down.failedWrites > 0) t.first ??= "client";
    if (up.failedWrites > 0) t.first ??= "target";
    check();
  }
  w.finish(s);
  return { w, s, down, up, t, played };

  function check(): void {
    const where = `${JSON.stringify(o)} ${played.join(" ")}`;
    // The target gets sluice's PROXY header first, if any, then a prefix of the client's payload, in order.
    const hdrOut = ours ? Array.from(s.proxyHeader ?? []) : [];
    const got = up.written.slice(Math.min(hdrOut.length, up.written.length));
    expect(up.written.slice(0, hdrOut.length), where).toEqual(hdrOut.slice(0, up.written.length));
    if (up.written.length > hdrOut.length) expect(up.written.slice(0, hdrOut.length), where).toEqual(hdrOut);
    expect(got, where).toEqual(t.sent.D.slice(0, got.length));
    expect(down.written, where).toEqual(t.sent.U.slice(0, down.written.length));
    if (down.finned) {
      expect(t.ended.U, `client FIN before target ended: ${where}`).toBe(true);
      expect(down.written.length, `client FIN with bytes owed: ${where}`).toBe(t.sent.U.length);
    }
    if (up.finned) {
      expect(t.ended.D, `target FIN before client ended: ${where}`).toBe(true);
      expect(got.length, `target FIN with bytes owed: ${where}`).toBe(t.sent.D.length);
      expect(up.written.length, `target FIN before sluice's header: ${where}`).toBeGreaterThanOrEqual(hdrOut.length);
    }
    if (t.failed) {
      expect(s.closed, `still open after a failure: ${where}`).toBe(true);
      expect(down.gone, `client not reset after a failure: ${where}`).toBe("terminate");
      if (opened()) expect(up.gone, `target not reset after a failure: ${where}`).toBe("terminate");
    }
    // No target is ever over its max_connections.
    for (const x of w.targets) expect(x.active, where).toBeLessThanOrEqual(1);
    if (s.closed) {
      expect(w.closed.filter((c) => c === s), where).toHaveLength(1);
      expect(s.firstClose, `firstClose: ${where}`).toBe(t.first ?? "sluice");
      if (down.gone === "close") {
        expect(t.ended.D && t.ended.U, `clean close of an unfinished session: ${where}`).toBe(true);
        expect(got.length).toBe(t.sent.D.length);
        expect(down.written.length).toBe(t.sent.U.length);
        expect(["client-closed", "target-closed"]).toContain(s.reason!);
      } else {
        expect(down.gone, where).toBe("terminate");
        expect(up.gone === null || up.gone === "terminate", where).toBe(true);
      }
    } else {
      // Open: waiting in the preface, in the queue, dialling, or connected; never two of these.
      const states = [s.preface !== null, s.attempt === null && !opened() && s.preface === null, s.attempt !== null && !opened(), opened()];
      expect(states.filter(Boolean), where).toHaveLength(1);
      expect(w.app.counters.queued, where).toBe(states[1] ? 1 : 0);
    }
  }
}


/** WALK weighs the events of a random walk: failures and deadlines rarer, so walks also reach a finished stream. */
const RARE = new Set<Event>(["D.closeErr", "D.closeBare", "U.closeErr", "U.closeBare", "D.rst", "U.rst", "fail", "deadline", "expire"]);
const WALK: Event[] = EVENTS.flatMap((e) => (RARE.has(e) ? [e] : [e, e, e, e]));

const MODES: [string, Options][] = [
  ["queued", { acceptProxy: false, sendProxy: "none", queueTimeoutMs: 60_000 }],
  ["queued, send_proxy v1", { acceptProxy: false, sendProxy: "v1", queueTimeoutMs: 60_000 }],
  ["preface then queued", { acceptProxy: true, sendProxy: "none", queueTimeoutMs: 60_000 }],
  ["preface then queued, send_proxy v1", { acceptProxy: true, sendProxy: "v1", queueTimeoutMs: 60_000 }],
  ["preface, no queue", { acceptProxy: true, sendProxy: "none", queueTimeoutMs: 0 }],
];

describe("App: a client waiting for a target (preface, queue), every event order", () => {
  for (const [name, o] of MODES) {
    test(`${name}: every order of 3 events, then the counters are back to zero`, () => {
      let n = 0;
      for (const seq of sequences(EVENTS, 3)) {
        run(o, seq);
        n++;
      }
      expect(n).toBe(EVENTS.length ** 3);
    }, 30_000);

    test(`${name}: 3,000 seeded random walks of 14 events`, () => {
      const rand = prng(name.length);
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 3_000; i++) {
        const seq = Array.from({ length: 14 }, () => WALK[Math.floor(rand() * WALK.length)]!);
        const { s, down } = run(o, seq);
        const k = `${s.reason ?? "open"}/${down.gone}`;
        outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      }
      // The walks reach clean closes and resets both, so neither branch of the check is vacuous.
      expect([...outcomes.keys()].some((k) => k.endsWith("/close")), JSON.stringify([...outcomes])).toBe(true);
      expect([...outcomes.keys()].some((k) => k.endsWith("/terminate"))).toBe(true);
    });
  }
});

const QUEUED: Options = { acceptProxy: false, sendProxy: "none", queueTimeoutMs: 60_000 };
const PROXIED: Options = { acceptProxy: true, sendProxy: "none", queueTimeoutMs: 60_000 };

/** open answers a session's dial in flight with a connected target socket. */
function open(s: Session): Peer {
  const up = new Peer();
  s.upstreamOpen(s.attempt!, up as unknown as Socket<Attempt>);
  return up;
}

describe("App: the queue", () => {
  test("a client that half-closes while queued: its bytes, then its FIN, reach the target once served; one clean close", () => {
    const w = new World(QUEUED);
    w.fill();
    const { s, peer } = w.accept();
    s.fromDownstream(Uint8Array.of(1, 2, 3));
    s.downstreamEnd();
    expect([w.app.counters.queued, s.closed]).toEqual([1, false]);
    w.free();
    const up = open(s);
    expect([up.written, up.log]).toEqual([[1, 2, 3], ["shutdown"]]);
    s.upstreamEnd();
    expect([s.reason, s.firstClose, peer.log]).toEqual(["client-closed", "client", ["close"]]);
    w.finish();
  });

  test("a client that resets while queued is never dialled, and takes no slot from the next", () => {
    const w = new World(QUEUED);
    w.fill();
    const first = w.accept();
    const second = w.accept();
    expect(w.app.counters.queued).toBe(2);
    second.s.downstreamClose(reset());
    expect([second.s.reason, second.s.firstClose, second.peer.log, w.app.counters.queued]).toEqual(["client-reset", "client", ["terminate"], 1]);
    const dials = w.attempts.length;
    w.free();
    expect(w.attempts.length).toBe(dials + 1);
    expect(first.s.attempt).toBe(w.attempts.at(-1)!);
    w.free();
    // The second slot stays free: the client that left is not dialled.
    expect(w.attempts.length).toBe(dials + 1);
    expect(w.targets.map((t) => t.active).sort()).toEqual([0, 1]);
    w.finish(first.s);
  });

  test("the head of the queue resets while the one behind it waits: a freed slot goes to the one behind", () => {
    const w = new World(QUEUED);
    w.fill();
    const first = w.accept();
    const second = w.accept();
    first.s.downstreamClose(reset());
    w.free();
    expect([second.s.attempt?.target.active, w.app.counters.queued]).toEqual([1, 0]);
    w.finish(second.s);
  });

  test("a client that left the queue behind one still waiting is not dialled when a slot it could use frees", () => {
    const w = new World(QUEUED);
    w.fill();
    const first = w.accept();
    const second = w.accept();
    expect(w.app.counters.queued).toBe(2);
    // The first in line leaves; the slot that frees goes to the second, and the first is never dialled.
    first.s.downstreamClose(reset());
    const dials = w.attempts.length;
    w.free();
    expect([w.attempts.length, w.app.counters.queued, first.s.attempt, second.s.attempt !== null]).toEqual([dials + 1, 0, null, true]);
    w.finish(second.s);
  });

  test("a full ready target is waited for, not passed over for one that is down (fail-open is for nothing ready)", () => {
    const w = new World(QUEUED);
    w.fill();
    w.free();
    const { s } = w.accept();
    const a = s.attempt!;
    // The dial fails: a is marked down; the other target is ready but full.
    s.dialFailed(a, "ECONNREFUSED");
    expect(a.target.health.healthy).toBe(false);
    // A new client queues for the ready target rather than dialling the one that is down.
    const next = w.accept();
    expect([next.s.attempt, w.app.counters.queued]).toEqual([null, 2]);
    w.finish(s, next.s);
  });

  test("a dial that fails on one target while the other is full waits in the queue, then dials the other", () => {
    const w = new World(QUEUED);
    w.fill();
    w.free();
    const { s } = w.accept();
    const a = s.attempt!;
    const other = w.targets.find((t) => t !== a.target)!;
    expect(other.full).toBe(true);
    s.dialFailed(a, "ECONNREFUSED");
    expect([s.closed, w.app.counters.queued, s.tried]).toEqual([false, 1, [a.target]]);
    w.free();
    expect(s.attempt?.target).toBe(other);
    open(s);
    expect(s.dialled).toBe(2);
    w.finish(s);
  });

  test("without a queue, that client is closed as limit (a reset), after one dial", () => {
    const w = new World({ ...QUEUED, queueTimeoutMs: 0 });
    w.fill();
    w.free();
    const { s, peer } = w.accept();
    s.dialFailed(s.attempt!, "ECONNREFUSED");
    expect([s.reason, s.firstClose, s.dialled, peer.log]).toEqual(["limit", "sluice", 1, ["terminate"]]);
    w.finish();
  });

  test("a client that leaves while its queued dial is in flight: the dial is abandoned and its slot freed", () => {
    const w = new World(QUEUED);
    w.fill();
    const { s, peer } = w.accept();
    w.free();
    const a = s.attempt!;
    s.downstreamClose(reset());
    expect([s.reason, peer.log, a.target.active, w.shared.limits.abandonedDials]).toEqual(["client-reset", ["terminate"], 0, 1]);
    const late = new Peer();
    s.upstreamOpen(a, late as unknown as Socket<Attempt>);
    expect([late.log, w.shared.limits.abandonedDials]).toEqual([["terminate"], 0]);
    w.finish();
  });

  test("queue_timeout closes a waiting client as limit, with a reset even after its FIN", async () => {
    const w = new World({ ...QUEUED, queueTimeoutMs: 5 });
    w.fill();
    const { s, peer } = w.accept();
    s.fromDownstream(Uint8Array.of(1));
    s.downstreamEnd();
    const { promise, resolve } = Promise.withResolvers<void>();
    const closed = w.app.sessionClosed;
    w.app.sessionClosed = (x) => {
      closed(x);
      if (x === s) resolve();
    };
    await promise;
    expect([s.reason, s.firstClose, peer.log, w.app.counters.queued, s.dialled]).toEqual(["limit", "client", ["terminate"], 0, 0]);
    w.finish();
  });

  test("targets found by DNS serve the queue at once, not only when a session closes", async () => {
    const { promise: answer, resolve: answered } = Promise.withResolvers<string[]>();
    let asked = 0;
    const w = new World(QUEUED, [ep("svc.test:9001", 1)], () => (asked++ === 0 ? answer : new Promise(() => {})));
    const holder = w.accept().s;
    open(holder);
    const { s } = w.accept();
    expect(w.app.counters.queued).toBe(1);
    w.app.start();
    w.app.targets.checker.stop();
    answered(["127.0.0.1", "127.0.0.2"]);
    for (let i = 0; i < 100 && w.app.pool.targets.length < 2; i++) await new Promise((r) => setImmediate(r));
    expect(w.app.pool.targets.map((t) => t.address)).toEqual(["127.0.0.1:9001", "127.0.0.2:9001"]);
    expect([w.app.counters.queued, s.attempt !== null]).toEqual([0, true]);
    holder.close("shutdown");
    w.finish(s);
  });
});

describe("App: the preface", () => {
  test("payload in the chunk that completes the PROXY header goes on after sluice's own header", () => {
    const w = new World({ ...PROXIED, sendProxy: "v1" });
    const { s } = w.accept(false);
    const h = w.header(40000);
    s.fromDownstream(h.subarray(0, 7));
    expect(w.attempts).toHaveLength(0);
    s.fromDownstream(Uint8Array.from([...h.subarray(7), 7, 8, 9]));
    const up = open(s);
    const ours = Array.from(s.proxyHeader!);
    expect(up.written).toEqual([...ours, 7, 8, 9]);
    expect(s.upPipe.bytes).toBe(3);
    w.finish(s);
  });

  test("a client that ends inside its PROXY header is closed at once as denied, with a reset, never dialled", () => {
    const w = new World(PROXIED);
    const { s, peer } = w.accept(false);
    s.fromDownstream(w.header(40000).subarray(0, 7));
    s.downstreamEnd();
    expect([s.closed, s.reason, s.firstClose, peer.log, w.attempts.length]).toEqual([true, "denied", "client", ["terminate"], 0]);
    w.finish();
  });

  test("a client with no complete PROXY header within connect_timeout is closed as denied by sluice", () => {
    const w = new World(PROXIED);
    const { s, peer } = w.accept(false);
    w.clock.advance(w.app.connectTimeoutMs + 100);
    expect([s.reason, s.firstClose, peer.log]).toEqual(["denied", "sluice", ["terminate"]]);
    w.finish();
  });

  test("the preface deadline does nothing to a client whose preface completed, waiting in the queue or dialling", () => {
    const w = new World(PROXIED);
    w.fill();
    const { s } = w.accept();
    w.clock.advance(w.app.connectTimeoutMs + 100);
    expect([s.closed, w.app.counters.queued]).toEqual([false, 1]);
    w.free();
    open(s);
    w.clock.advance(w.app.connectTimeoutMs + 100);
    expect(s.closed).toBe(false);
    w.finish(s);
  });

  test("a client refused by its PROXY header's address, or by a bad header, leaves the per-client count as it was", () => {
    const w = new World(PROXIED);
    const bad = w.accept(false);
    bad.s.fromDownstream(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    expect([bad.s.reason, bad.peer.log]).toEqual(["denied", ["terminate"]]);
    w.finish();
  });
});
