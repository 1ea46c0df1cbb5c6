/**
 * The board of shared numbers (src/sys/board.ts), seen from several "workers"
 * (views of one buffer with different rows), as worker threads see it.
 */
import { describe, expect, test } from "bun:test";
import { A, Board, Cell, Directory, G, MAX_TARGETS, T, TURN } from "../../src/sys/board.ts";
import { Histogram } from "../../src/sys/histogram.ts";
import { cellStore } from "../../src/sys/board.ts";

describe("gauges", () => {
  test("every worker raises one total and keeps its own share", () => {
    const b0 = Board.create(3);
    const [p0, p1, p2] = [b0.process, b0.as(1).process, b0.as(2).process];
    p0.raise(G.ACTIVE, 2);
    p1.raise(G.ACTIVE, 5);
    p2.raise(G.ACTIVE, 1);
    p1.raise(G.ACTIVE, -1);
    expect([p0.level(G.ACTIVE), p2.level(G.ACTIVE)]).toEqual([7, 7]);
    expect([p0.mine(G.ACTIVE), p1.mine(G.ACTIVE), p2.mine(G.ACTIVE)]).toEqual([2, 4, 1]);
  });

  test("raiseBelow never passes the limit, whichever worker asks", () => {
    const b = Board.create(2);
    const t0 = b.target(7);
    const t1 = b.as(1).target(7);
    const got: boolean[] = [];
    for (let i = 0; i < 3; i++) got.push(t0.raiseBelow(T.ACTIVE, 4), t1.raiseBelow(T.ACTIVE, 4));
    expect(got).toEqual([true, true, true, true, false, false]);
    expect([t0.level(T.ACTIVE), t0.mine(T.ACTIVE), t1.mine(T.ACTIVE)]).toEqual([4, 2, 2]);
  });

  test("reclaim takes a dead worker's share out of every gauge and keeps its counters", () => {
    const b = Board.create(2);
    const w1 = b.as(1);
    w1.process.raise(G.ACTIVE, 3);
    w1.process.raise(G.ABANDONED, 1);
    w1.app(4).raise(A.SESSIONS, 3);
    w1.app(4).raise(A.QUEUED, 2);
    w1.app(4).add(A.ACCEPTED, 9);
    w1.target(MAX_TARGETS - 1).raise(T.ACTIVE, 3);
    w1.target(MAX_TARGETS - 1).add(T.TOTAL, 3);
    b.process.raise(G.ACTIVE, 1);
    b.target(MAX_TARGETS - 1).store(T.FLAGS, 3);
    b.reclaim(1);
    expect([b.process.level(G.ACTIVE), b.process.level(G.ABANDONED)]).toEqual([1, 0]);
    expect([b.app(4).level(A.SESSIONS), b.app(4).level(A.QUEUED), b.app(4).get(A.ACCEPTED)]).toEqual([0, 0, 9]);
    const t = b.target(MAX_TARGETS - 1);
    // FLAGS is the owner's, not a share: untouched.
    expect([t.level(T.ACTIVE), t.get(T.TOTAL), t.level(T.FLAGS)]).toEqual([0, 3, 3]);
    // A new thread in the dead one's row starts from nothing.
    expect(b.as(1).process.mine(G.ACTIVE)).toBe(0);
  });
});

describe("counters", () => {
  test("each worker adds to its own row; get sums the rows", () => {
    const b = Board.create(4);
    for (let w = 0; w < 4; w++) b.as(w).app(0).add(A.BYTES_UP, 1000 * (w + 1));
    expect(b.app(0).get(A.BYTES_UP)).toBe(10_000);
    expect(b.app(1).get(A.BYTES_UP)).toBe(0);
  });

  test("counters go past 2^31 (Float64 rows, not Int32)", () => {
    const b = Board.create(2);
    b.as(1).target(3).add(T.TOTAL, 2 ** 40);
    b.target(3).add(T.TOTAL, 1);
    expect(b.target(3).get(T.TOTAL)).toBe(2 ** 40 + 1);
  });

  test("a histogram on a cell sums every worker's observations", () => {
    const b = Board.create(2);
    const bounds = [0.001, 0.01];
    const h0 = new Histogram(bounds, cellStore(b.app(2), A.HISTOGRAM));
    const h1 = new Histogram(bounds, cellStore(b.as(1).app(2), A.HISTOGRAM));
    h0.observe(0.0005);
    h1.observe(0.005);
    h1.observe(5);
    expect([h0.cumulative(), h0.count, h0.sum]).toEqual([[1, 2, 3], 3, 5.0055]);
  });

  test("turn hands every worker the next place in one rotation", () => {
    const b = Board.create(2);
    const seen = [b.app(1).turn(TURN), b.as(1).app(1).turn(TURN), b.app(1).turn(TURN), b.as(1).app(1).turn(TURN)];
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  test("cells of different apps and targets never overlap", () => {
    const b = Board.create(1);
    b.app(0).add(A.HISTOGRAM + 16, 1);
    b.app(1).raise(A.SESSIONS, 1);
    b.target(0).add(T.CONNECT_ERRORS, 1);
    expect([b.app(0).get(A.HISTOGRAM + 16), b.app(1).get(A.SESSIONS), b.app(0).level(A.SESSIONS), b.target(0).get(T.CONNECT_ERRORS), b.target(1).get(T.ACTIVE)]).toEqual([1, 1, 0, 1, 0]);
  });

  test("a local cell works alone", () => {
    const c = Cell.local(2, 3, 1);
    c.raise(0, 2);
    c.add(1, 5);
    expect([c.level(0), c.mine(0), c.get(1)]).toEqual([2, 2, 5]);
  });

  test("a board for 0 or 65 workers is refused", () => {
    expect(() => Board.create(0)).toThrow(RangeError);
    expect(() => Board.create(65)).toThrow(RangeError);
  });
});

describe("Directory", () => {
  test("the owner hands out slots once per name and per (app, address); a worker's copy only looks up", () => {
    const d = new Directory();
    const web = d.app("web");
    const db = d.app("db");
    expect([web, db, d.app("web")]).toEqual([0, 1, 0]);
    const t = d.target(web, "10.0.0.1:80");
    expect([t, d.target(db, "10.0.0.1:80"), d.target(web, "10.0.0.1:80")]).toEqual([0, 1, 0]);
    const copy = new Directory(false);
    copy.load(d.entries());
    expect([copy.app("web"), copy.target(web, "10.0.0.1:80"), copy.app("new"), copy.target(web, "10.0.0.2:80")]).toEqual([0, 0, -1, -1]);
  });

  test("a full board gives -1, and the board gives such a slot a private cell", () => {
    const d = new Directory();
    for (let i = 0; i < MAX_TARGETS; i++) d.target(0, `10.0.${i >> 8}.${i & 255}:80`);
    expect(d.target(0, "10.1.0.0:80")).toBe(-1);
    const b = Board.create(1);
    const a = b.target(-1);
    const c = b.target(-1);
    a.raise(T.ACTIVE, 1);
    expect([a.level(T.ACTIVE), c.level(T.ACTIVE)]).toEqual([1, 0]);
  });
});
