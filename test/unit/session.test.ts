import { FakePeer } from "../helpers/fake-peer.ts";
import { prng, sequences } from "../helpers/orders.ts";
import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { Limits } from "../../src/sys/limits.ts";
import { TargetState } from "../../src/upstream/pool.ts";
import { type Attempt, Session, type SessionHost } from "../../src/datapath/session.ts";
import { coarse, Sweeper } from "../../src/sys/sweeper.ts";


interface Rig {
  s: Session;
  down: FakePeer;
  up: FakePeer;
  host: SessionHost & { closed: Session[]; attempts: Attempt[] };
}

function makeHost(): Rig["host"] {
  const limits = new Limits(10);
  const target = new TargetState({ host: "127.0.0.1", port: 1, address: "127.0.0.1:1" });
  const closed: Session[] = [];
  const attempts: Attempt[] = [];
  return {
    pool: { pick: (tried: unknown) => (tried === null ? target : undefined), waiting: () => false } as never,
    connectTimeoutMs: 1000,
    dials: new Sweeper(50),
    limits,
    dialFailed() {},
    connected() {},
    internalError() {},
    sessionClosed: (s) => void closed.push(s),
    connect: (_t, a) => void attempts.push(a),
    closed,
    attempts,
  };
}

function rig(bufferSize = 8): Rig {
  const host = makeHost();
  const down = new FakePeer("client");
  const up = new FakePeer("target");
  const s = new Session(host, down as unknown as Socket<Session>, 0, bufferSize);
  down.data = s;
  s.dial();
  return { s, down, up, host };
}

/**
 * The events Bun can deliver, plus the silent state changes of a peer that
 * Bun only reports later (or, after a failed write, reports as an `end`):
 * `X.rst` is the peer resetting, `X.full` its receive window filling.
 */
const EVENTS = [
  "open",
  "D.data",
  "U.data",
  "D.end",
  "U.end",
  "D.closeErr",
  "U.closeErr",
  "D.closeBare",
  "U.closeBare",
  "D.rst",
  "U.rst",
  "D.full",
  "U.full",
  "D.drain",
  "U.drain",
] as const;
type Event = (typeof EVENTS)[number];

/** What the peers did, for the oracle: bytes each sent, whether each ended, and each failure. */
interface Truth {
  sent: { D: number[]; U: number[] };
  ended: { D: boolean; U: boolean };
  /** the peer is gone from Bun's point of view: no more events from it. */
  closed: { D: boolean; U: boolean };
  /** the session learned of a failure (or, for a silent reset, could have). */
  failedAt: number | null;
  opened: boolean;
  /** the peer that ended or failed first, as the session should record it in firstClose. */
  first: "client" | "target" | null;
}

/**
 * run plays `events` against a fresh session, skipping those Bun could not
 * deliver in that state, and checks the session's invariant after each step:
 * - bytes reach each peer unchanged and in order (a prefix of what the other sent);
 * - a FIN reaches a peer only after the other peer ended and everything it sent was written;
 * - once a failure is known, no FIN goes out, and both peers end up reset;
 * - the host hears of the close exactly once.
 */
function run(events: readonly Event[]): { r: Rig; t: Truth; played: Event[] } {
  const r = rig();
  const { s, down, up, host } = r;
  const t: Truth = { sent: { D: [], U: [] }, ended: { D: false, U: false }, closed: { D: false, U: false }, failedAt: null, opened: false, first: null };
  const played: Event[] = [];
  let next = 0;
  const attempt = () => host.attempts[0]!;
  const peer = (side: "D" | "U") => (side === "D" ? down : up);

  for (const e of events) {
    if (s.closed) break;
    const [side, what] = (e === "open" ? ["U", "open"] : e.split(".")) as ["D" | "U", string];
    if (e === "open") {
      if (t.opened) continue;
      t.opened = true;
      s.upstreamOpen(attempt(), up as unknown as Socket<Attempt>);
    } else {
      if (side === "U" && !t.opened) continue;
      if (t.closed[side]) continue;
      const p = peer(side);
      // A FIN or a close the session is told of: that side ended first, unless one did before.
      if (what === "end" ? !t.ended[side] : what === "closeErr" || what === "closeBare") t.first ??= side === "D" ? "client" : "target";
      switch (what) {
        case "data": {
          if (t.ended[side]) continue;
          const chunk = Uint8Array.from([next++, next++, next++].map((b) => b & 0xff));
          t.sent[side].push(...chunk);
          if (side === "D") s.fromDownstream(chunk);
          else s.fromUpstream(chunk);
          break;
        }
        case "end":
          if (t.ended[side]) continue;
          t.ended[side] = true;
          if (side === "D") s.downstreamEnd();
          else s.upstreamEnd();
          break;
        case "closeErr":
          t.closed[side] = true;
          t.failedAt ??= played.length;
          if (side === "D") s.downstreamClose(Object.assign(new Error("reset"), { code: "ECONNRESET" }));
          else s.upstreamClose(attempt(), Object.assign(new Error("reset"), { code: "ECONNRESET" }));
          break;
        case "closeBare":
          // Bun reports a peer's FIN as a bare close only after our own shutdown; any other bare close is a lost socket.
          t.closed[side] = true;
          if (p.shut) t.ended[side] = true;
          else t.failedAt ??= played.length;
          if (side === "D") s.downstreamClose(undefined);
          else s.upstreamClose(attempt(), undefined);
          break;
        case "rst":
          if (p.mode === "fail") continue;
          p.mode = "fail";
          break;
        case "full":
          if (p.mode !== "all") continue;
          p.mode = "none";
          break;
        case "drain": {
          // A reset socket can also look writable, so drain may come after rst.
          if (p.mode === "all") continue;
          if (p.mode === "none") p.mode = "all";
          if (side === "D") s.downstreamDrain();
          else s.upstreamDrain();
          break;
        }
      }
    }
    played.push(e);
    // A silent reset becomes a failure the session knows of with its first refused write.
    if (down.failedWrites + up.failedWrites > 0) t.failedAt ??= played.length;
    if (down.failedWrites > 0) t.first ??= "client";
    if (up.failedWrites > 0) t.first ??= "target";
    check(r, t, played);
  }
  return { r, t, played };
}

function check(r: Rig, t: Truth, played: Event[]): void {
  const { s, down, up, host } = r;
  const where = () => played.join(" ");
  // Bytes: each peer got a prefix of what the other sent, in order.
  expect(down.written, where()).toEqual(t.sent.U.slice(0, down.written.length));
  expect(up.written, where()).toEqual(t.sent.D.slice(0, up.written.length));
  // A FIN only after the source ended and every byte it sent was written on.
  if (down.finned) {
    expect(t.ended.U, `client FIN before target ended: ${where()}`).toBe(true);
    expect(down.written.length, `client FIN with bytes owed: ${where()}`).toBe(t.sent.U.length);
  }
  if (up.finned) {
    expect(t.ended.D, `target FIN before client ended: ${where()}`).toBe(true);
    expect(up.written.length, `target FIN with bytes owed: ${where()}`).toBe(t.sent.D.length);
  }
  if (t.failedAt !== null) {
    // After a known failure: reset, never a (later) FIN.
    expect(s.closed, `still open after a failure: ${where()}`).toBe(true);
    expect(down.gone, `client not reset after a failure: ${where()}`).toBe("terminate");
    if (t.opened) expect(up.gone, `target not reset after a failure: ${where()}`).toBe("terminate");
  }
  if (s.closed) {
    expect(host.closed.filter((c) => c === s).length).toBe(1);
    // firstClose names the peer that ended or failed first; these runs have no policy close, so never sluice.
    expect(s.firstClose, `firstClose: ${where()}`).toBe(t.first ?? "sluice");
    const clean = down.gone === "close";
    if (clean) {
      // A clean close means both directions really finished.
      expect(t.ended.D && t.ended.U, `clean close of an unfinished session: ${where()}`).toBe(true);
      expect(down.written.length).toBe(t.sent.U.length);
      expect(up.written.length).toBe(t.sent.D.length);
    } else {
      expect(down.gone).toBe("terminate");
    }
  }
}


describe("Session event orders (fake sockets)", () => {
  test("every order of 4 events keeps the invariant", () => {
    let n = 0;
    for (const seq of sequences(EVENTS, 4)) {
      run(["open", ...seq]);
      run(seq);
      n += 2;
    }
    expect(n).toBe(2 * EVENTS.length ** 4);
    // About 100,000 sessions: seconds on a loaded machine, so a longer bound than bun's default 5 s.
  }, 30_000);

  test("20,000 seeded random walks of 12 events keep the invariant", () => {
    const rand = prng(6);
    let closedClean = 0;
    let closedReset = 0;
    for (let i = 0; i < 20_000; i++) {
      const seq = Array.from({ length: 12 }, () => EVENTS[Math.floor(rand() * EVENTS.length)]!);
      const { r } = run(["open", ...seq]);
      if (r.down.gone === "close") closedClean++;
      if (r.down.gone === "terminate") closedReset++;
    }
    // The walks reach both outcomes, so neither branch of the check is vacuous.
    expect(closedClean).toBeGreaterThan(100);
    expect(closedReset).toBeGreaterThan(1000);
  });
});

describe("Session failures are passed on as resets", () => {
  test("the reported bug: the target resets, our write to it fails, then Bun says `end`", () => {
    const { r } = run(["open", "U.data", "U.rst", "D.data", "U.end"]);
    expect(r.s.reason).toBe("target-reset");
    expect(r.down.log).toEqual(["terminate"]);
    expect(r.up.log).toEqual(["terminate"]);
  });

  test("the other way: the client resets mid-upload, the reply write fails, then Bun says `end`", () => {
    const { r } = run(["open", "D.data", "D.rst", "U.data", "D.end"]);
    expect(r.s.reason).toBe("client-reset");
    expect(r.up.log).toEqual(["terminate"]);
  });

  test("a failed flush on drain resets both", () => {
    const { r } = run(["open", "D.full", "U.data", "D.rst", "D.drain"]);
    expect(r.s.reason).toBe("client-reset");
    expect(r.up.gone).toBe("terminate");
  });

  test("a bare close from a peer we never shut is a lost socket: reset", () => {
    const { r } = run(["open", "D.data", "U.closeBare"]);
    expect(r.s.reason).toBe("target-reset");
    expect(r.down.gone).toBe("terminate");
  });

  test("a bare close after our shutdown is the peer's FIN: the other way still flows, then a clean close", () => {
    const { r } = run(["open", "D.data", "D.end", "U.data", "U.closeBare"]);
    expect(r.up.log).toEqual(["shutdown", "close"]);
    expect(r.down.log).toEqual(["close"]);
    expect(r.down.written.length).toBe(3);
    expect(r.s.reason).toBe("client-closed");
  });

  test("a FIN waits for queued bytes: the client's FIN reaches the target only after its drain", () => {
    const { r } = run(["open", "U.full", "D.data", "D.end"]);
    expect(r.up.log).toEqual([]);
    r.up.mode = "all";
    r.s.upstreamDrain();
    expect(r.up.log).toEqual(["shutdown"]);
    expect(r.up.written.length).toBe(3);
  });

  test("a failed dial closes the client with a reset, not a FIN", () => {
    const r = rig();
    r.s.dialFailed(r.host.attempts[0]!, "ECONNREFUSED");
    expect(r.s.reason).toBe("connect-failed");
    expect(r.s.firstClose).toBe("sluice");
    expect(r.s.dialled).toBe(1);
    expect(r.down.log).toEqual(["terminate"]);
  });

  test("a close before open is a failed dial, not a session failure", () => {
    const r = rig();
    r.s.upstreamClose(r.host.attempts[0]!, undefined);
    expect(r.s.reason).toBe("connect-failed");
  });

  test("the host hears of a connect once, with connectMs set", () => {
    const r = rig();
    const seen: (number | undefined)[] = [];
    r.host.connected = (s) => void seen.push(s.connectMs);
    r.s.upstreamOpen(r.host.attempts[0]!, r.up as unknown as Socket<Attempt>);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThanOrEqual(0);
  });

  test("the late open of a timed-out dial is not a connect", () => {
    const r = rig();
    let seen = 0;
    r.host.connected = () => void seen++;
    const first = r.host.attempts[0]!;
    r.s.dialFailed(first, "ETIMEDOUT");
    r.s.upstreamOpen(first, r.up as unknown as Socket<Attempt>);
    expect(seen).toBe(0);
    expect(r.up.log).toEqual(["terminate"]);
  });
});

/** A downstream socket that takes every write and records what happens to it. */
function fakeSocket() {
  const events: string[] = [];
  const sock = {
    data: undefined as unknown,
    write: (d: Uint8Array) => d.length,
    shutdown: () => void events.push("shutdown"),
    pause: () => void events.push("pause"),
    resume: () => void events.push("resume"),
    close: () => void events.push("close"),
    end: () => void events.push("end"),
    terminate: () => void events.push("terminate"),
  };
  return { sock: sock as unknown as Socket<Session>, events };
}

describe("Session firstClose", () => {
  const rows: [name: string, events: Event[], policy: "shutdown" | "idle-timeout" | null, first: string, reason: string][] = [
    ["the client's FIN first, then the target's", ["open", "D.data", "D.end", "U.data", "U.end"], null, "client", "client-closed"],
    ["the target's FIN first, then the client's", ["open", "U.data", "U.end", "D.end"], null, "target", "target-closed"],
    ["the target resets", ["open", "U.closeErr"], null, "target", "target-reset"],
    ["the client resets after the target's FIN", ["open", "U.end", "D.closeErr"], null, "target", "client-reset"],
    ["a silent client reset found by a write", ["open", "D.rst", "U.data"], null, "client", "client-reset"],
    ["sluice shuts down a busy session", ["open", "D.data", "U.data"], "shutdown", "sluice", "shutdown"],
    ["sluice times out a session the client half-closed", ["open", "D.end"], "idle-timeout", "client", "idle-timeout"],
  ];
  for (const [name, events, policy, first, reason] of rows) {
    test(name, () => {
      const { r } = run(events);
      if (policy !== null) r.s.close(policy);
      expect([r.s.firstClose, r.s.reason]).toEqual([first as never, reason as never]);
    });
  }
});

describe("Session idle timeout", () => {
  test("a session made after a quiet spell starts its idle clock now, not at the last sweep", () => {
    coarse.now = 0; // as if no sweep had run for a long while
    const { sock } = fakeSocket();
    const s = new Session(makeHost(), sock, 10_000);
    expect(s.sweep(performance.now() + 5_000)).toBe(false);
    expect(s.closed).toBe(false);
  });

  test("writes that drain count as activity, so a slow but reading client is not cut off", () => {
    const { sock } = fakeSocket();
    const s = new Session(makeHost(), sock, 1_000);
    coarse.now = s.lastActive + 900;
    s.downstreamDrain();
    expect(s.sweep(s.lastActive + 500)).toBe(false);
    expect(s.closed).toBe(false);
  });

  test("silence past the timeout cuts the stream: a reset, so the peer cannot take it for a clean end", () => {
    const quiet = fakeSocket();
    const s = new Session(makeHost(), quiet.sock, 1_000);
    expect(s.sweep(s.lastActive + 1_001)).toBe(true);
    expect(s.reason).toBe("idle-timeout");
    expect(quiet.events).toEqual(["terminate"]);
  });
});

describe("dial when another worker frees a place between pick and waiting", () => {
  /** a capped pool whose reads are scripted: each pick's result in turn, and what waiting says after each. */
  function scripted(picks: (TargetState | undefined)[], waits: boolean[]) {
    const host = makeHost();
    const enqueued: Session[] = [];
    Object.assign(host, {
      pool: { capped: true, pick: () => picks.shift(), waiting: () => waits.shift() ?? false },
      enqueue: (s: Session) => (enqueued.push(s), true),
    });
    const down = new FakePeer("client");
    const s = new Session(host, down as unknown as Socket<Session>, 0, 8);
    down.data = s;
    s.dial();
    return { s, host, enqueued };
  }
  const target = () => new TargetState({ host: "127.0.0.1", port: 1, address: "127.0.0.1:1" });

  test("every target full, then one freed before waiting looks: the client is dialled, not closed", () => {
    const { s, host } = scripted([undefined, target()], [false]);
    expect(s.closed).toBe(false);
    expect(host.attempts.length).toBe(1);
  });

  test("freed and taken again: the second look finds them all full, and the client queues", () => {
    const { s, host, enqueued } = scripted([undefined, undefined], [false, true]);
    expect([s.closed, host.attempts.length, enqueued.length]).toEqual([false, 0, 1]);
  });

  test("an uncapped pool with nothing to pick closes at once as no-target", () => {
    const host = makeHost();
    Object.assign(host, { pool: { capped: false, pick: () => undefined, waiting: () => false } });
    const down = new FakePeer("client");
    const s = new Session(host, down as unknown as Socket<Session>, 0, 8);
    down.data = s;
    s.dial();
    expect([s.closed, s.reason]).toEqual([true, "no-target"]);
  });
});
