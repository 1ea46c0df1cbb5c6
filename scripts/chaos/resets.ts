/**
 * @module chaos/resets: one side resets mid-stream while the other is still
 * sending. The side that did not reset must see a reset, never a clean end.
 *
 * target-reset: the client uploads without pause; the target sends a random
 *   prefix of a declared reply (sometimes nothing, sometimes part of the
 *   header) and resets. The client judges the reply.
 * client-reset: the target streams a reply without pause; the client sends a
 *   random prefix of a declared upload and resets. The target judges the upload.
 */
import type { Socket } from "bun";
import { HOST } from "../../test/helpers/net.ts";
import { dial, End, listen, outcome, payload, Sender } from "./endpoint.ts";
import { HEADER, prng, type Verdict } from "./pattern.ts";
import { drained, open, type Settings, type Via } from "./path.ts";
import { OUTCOMES, runStreams, tally, total, type Outcome, type Row, type Tally } from "./tally.ts";
import type { Sluice } from "../../test/helpers/sluice.ts";

/** A reset comes right after the last write, on the next tick, or a few ms later: each exposes other event orders. */
function resetSoon(rand: () => number, s: { terminate(): void }): void {
  const r = rand();
  if (r < 1 / 3) s.terminate();
  else if (r < 2 / 3) setImmediate(() => s.terminate());
  else setTimeout(() => s.terminate(), Math.floor(rand() * 5));
}

/** cutPayload: a declared stream of up to `max` bytes, cut short of its end: 5 % send nothing, 5 % part of the header. */
function cutPayload(rand: () => number, id: number, max: number): Buffer {
  const p = payload(id, 1 + Math.floor(rand() * max));
  const r = rand();
  const cut = r < 0.05 ? 0 : r < 0.1 ? 1 + Math.floor(rand() * (HEADER - 1)) : Math.floor(rand() * p.length);
  return p.subarray(0, cut);
}

/**
 * steadyThenBurst runs half the streams `concurrency` at a time and half `burst` at a time. With its event loop that
 * busy, sluice often handles a socket's events only after the peer's reset has arrived, and its first write then
 * fails: the order that made a build before the fix pass resets on as FINs (docs/CHAOS.md).
 */
async function steadyThenBurst(s: Settings, deadline: number, one: (i: number) => Promise<Outcome>): Promise<Tally> {
  const steady = Math.ceil(s.streams / 2);
  const t = await runStreams({ count: steady, concurrency: s.concurrency, deadline }, one);
  // A burst overflows listen backlogs: dropped SYNs are retried after 1, 3, 7, 15 s, so a stream gets 30 s here.
  const b = await runStreams({ count: s.streams - steady, concurrency: s.burst, deadline, perStreamMs: 30_000 }, (i) => one(steady + i));
  for (const o of OUTCOMES) t[o] += b[o];
  return t;
}

function shape(s: Settings): string {
  const steady = Math.ceil(s.streams / 2);
  return `${steady} streams ${s.concurrency} at a time, ${s.streams - steady} ${s.burst} at a time`;
}

type Conn = { end: End; sender: Sender; resetAfter?: number; got?: number; resetting?: boolean };

export async function targetReset(via: Via, s: Settings): Promise<Row> {
  const rand = prng(s.seed);
  let accepted = 0;
  const target = listen<Conn>({
    open(sock) {
      const id = accepted++;
      const sender = new Sender(sock as Socket<unknown>, () => sock.terminate());
      // Half the targets reset soon after their reply, half once a random part of the upload has arrived (sluice is
      // writing to the socket right then); half the early ones never read, so the upload waits in sluice's queue.
      const early = rand() < 0.5;
      sock.data = { end: new End(), sender, resetAfter: early ? -1 : Math.floor(rand() * 1024 * 1024), got: 0 };
      if (early && rand() < 0.5) sock.pause();
      sender.send(cutPayload(rand, id, 256 * 1024));
      if (early) void sender.flushed().then(() => resetSoon(rand, sock));
    },
    data(sock, d) {
      const c = sock.data;
      c.got! += d.length;
      if (c.resetAfter! >= 0 && c.got! >= c.resetAfter! && !c.resetting) {
        c.resetting = true;
        void c.sender.flushed().then(() => resetSoon(rand, sock));
      }
    },
    drain: (sock) => sock.data.sender.flush(),
    error() {},
  });
  await using path = await open(via, [target.port], s);
  const deadline = performance.now() + s.seconds * 1000;
  try {
    const t = await steadyThenBurst(s, deadline, (i) => uploader(path.port, i));
    const problems = (await drained(path)) ? [] : ["sluice kept connections open"];
    return { ...row("target-reset", via, t, problems), notes: [shape(s)] };
  } finally {
    target.stop(true);
  }
}

/**
 * uploader uploads without end (up to 2 MiB: past any target's reset point, 1 MiB at most, and small enough that a
 * thousand at once do not starve this process) and judges the reply it gets.
 */
async function uploader(port: number, id: number): Promise<Outcome> {
  const st = dial(port, (st) => st.sender.endless(id, 2 << 20));
  try {
    return await outcome(st);
  } finally {
    // A clean end here is the lie being hunted; stop uploading either way.
    void st.then((x) => x.sock.terminate()).catch(() => {});
  }
}

export async function clientReset(via: Via, s: Settings): Promise<Row> {
  const rand = prng(s.seed ^ 0x5eed);
  const verdicts = tally();
  let accepted = 0;
  const empty = { fin: 0, reset: 0 };
  let silent = 0;
  let openNow = 0;
  const target = listen<Conn>({
    open(sock) {
      openNow++;
      const end = new End((e) => {
        if (e.empty) empty[e.ending!]++;
        else verdicts[e.verdict!]++;
        sock.terminate();
      });
      sock.data = { end, sender: new Sender(sock as Socket<unknown>, () => end.writeFailed()) };
      sock.data.sender.endless(accepted++, 2 << 20);
    },
    data: (sock, d) => sock.data.end.data(d),
    drain: (sock) => sock.data.sender.flush(),
    end: (sock) => sock.data.end.fin(),
    close(sock, err) {
      openNow--;
      sock.data.end.close(err);
    },
    error() {},
  });
  await using path = await open(via, [target.port], s);
  const deadline = performance.now() + s.seconds * 1000;
  try {
    const clients = await steadyThenBurst(s, deadline, (i) => resetter(path.port, i, rand, () => silent++));
    const problems = (await drained(path)) ? [] : ["sluice kept connections open"];
    // Every client is gone; wait (bounded) for the target to see the last of them.
    for (let i = 0; i < 2000 && openNow > 0; i++) await Bun.sleep(10);
    if (openNow > 0) problems.push(`${openNow} target connections never ended`);
    verdicts.failed = clients.failed;
    verdicts.stuck = clients.stuck + openNow;
    // A client reaches the target at most once (a client that resets before sluice accepts it never does), and so
    // does each health probe. A client that sent nothing and a probe look alike at the target (no byte), but a probe
    // ends with a FIN and such a client must end with a reset: more empty FINs than probes is a reset passed on as a
    // FIN.
    const ran = total(clients) - clients.failed - clients.stuck;
    const probes = path.sluice ? await passedChecks(path.sluice) : 0;
    const judged = total(verdicts) - verdicts.stuck + empty.fin + empty.reset;
    if (judged > ran + probes) problems.push(`${ran} clients and ${probes} probes ran but the target saw ${judged} connections`);
    if (empty.fin > probes) problems.push(`${empty.fin} empty clean connections but ${probes} health probes`);
    verdicts.reset += Math.max(0, empty.reset + empty.fin - probes);
    const notes = [shape(s), `${probes} health probes`, `${silent} clients sent nothing`, `${ran + probes - judged} never reached the target`];
    return { ...row("client-reset", via, verdicts, problems), notes };
  } finally {
    target.stop(true);
  }
}

/** resetter sends a cut upload while reading (and dropping) the reply, then resets. Its own outcome is only whether it ran. */
async function resetter(port: number, id: number, rand: () => number, onSilent: () => void): Promise<Outcome> {
  const cut = cutPayload(rand, id, 256 * 1024);
  if (cut.length === 0) onSilent();
  let done!: (o: Verdict) => void;
  const finished = new Promise<Verdict>((r) => (done = r));
  const connected = Bun.connect<Conn>({
    hostname: HOST,
    port,
    allowHalfOpen: true,
    socket: {
      open(sock) {
        const sender = new Sender(sock as Socket<unknown>, () => sock.terminate());
        sock.data = { end: new End(), sender };
        sender.send(cut);
        void sender.flushed().then(() => resetSoon(rand, sock));
      },
      data() {},
      drain: (sock) => sock.data.sender.flush(),
      end: (sock) => sock.terminate(),
      close: () => done("reset"),
      error() {},
    },
  });
  return outcome(connected.then(() => ({ settled: finished })));
}

function row(scenario: string, via: Via, t: Tally, problems: string[]): Row {
  // Direct, the kernel's own answer is the reference; through sluice a reset must stay a reset.
  return { scenario, via, tally: t, allowed: ["ok", "reset"], notes: [], problems };
}

/** passedChecks sums sluice_health_checks_total{result="pass"} from /metrics. */
async function passedChecks(sl: Sluice): Promise<number> {
  const text = await (await sl.admin("/metrics")).text();
  let n = 0;
  for (const m of text.matchAll(/^sluice_health_checks_total\{[^}]*result="pass"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}
