import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import type { Limits } from "../../src/limits.ts";
import { Session, type SessionHost } from "../../src/session.ts";
import { coarse, Sweeper } from "../../src/sweeper.ts";

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

function host(): SessionHost & { closed: Session[] } {
  const limits: Limits = { maxConnections: 10, active: 0, abandonedDials: 0 };
  const closed: Session[] = [];
  return {
    pool: undefined as never,
    connectTimeoutMs: 1000,
    dials: new Sweeper(50),
    limits,
    dialFailed() {},
    internalError() {},
    sessionClosed: (s) => void closed.push(s),
    closed,
  };
}

describe("Session idle timeout", () => {
  test("a session made after a quiet spell starts its idle clock now, not at the last sweep", () => {
    coarse.now = 0; // as if no sweep had run for a long while
    const { sock } = fakeSocket();
    const s = new Session(host(), sock, 10_000);
    expect(s.sweep(performance.now() + 5_000)).toBe(false);
    expect(s.closed).toBe(false);
  });

  test("writes that drain count as activity, so a slow but reading client is not cut off", () => {
    const { sock } = fakeSocket();
    const s = new Session(host(), sock, 1_000);
    coarse.now = s.lastActive + 900;
    s.downstreamDrain();
    expect(s.sweep(s.lastActive + 500)).toBe(false);
    expect(s.closed).toBe(false);
  });

  test("silence past the timeout closes cleanly; with bytes still queued it resets", () => {
    const quiet = fakeSocket();
    const s = new Session(host(), quiet.sock, 1_000);
    expect(s.sweep(s.lastActive + 1_001)).toBe(true);
    expect(s.reason).toBe("idle-timeout");
    expect(quiet.events).toContain("close");

    const stuck = fakeSocket();
    const t = new Session(host(), stuck.sock, 1_000);
    t.upPipe.push(new Uint8Array(10)); // no upstream yet: the bytes wait in the pipe
    expect(t.sweep(t.lastActive + 1_001)).toBe(true);
    expect(t.reason).toBe("idle-timeout");
    expect(stuck.events).toContain("terminate");
  });
});
