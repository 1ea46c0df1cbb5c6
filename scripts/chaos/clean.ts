/**
 * @module chaos/clean: streams that should arrive whole, both ways: each side
 * sends a declared payload, shuts its write side down, checks what it gets,
 * and closes once both directions ended. Used where sluice is disturbed
 * (reloads, black holes) but no peer misbehaves, so every stream must be `ok`.
 */
import type { Socket, TCPSocketListener } from "bun";
import { dial, End, listen, outcome, payload, Sender } from "./endpoint.ts";
import type { Verdict } from "./pattern.ts";
import { tally, type Tally } from "./tally.ts";

type Conn = { end: End; sender: Sender; sentAll: boolean };

export interface CleanTarget {
  listener: TCPSocketListener<Conn>;
  port: number;
  /** verdicts on the uploads this target received (health probes apart). */
  uploads: Tally;
  /** connections that ended without a byte: sluice's health probes (every client stream starts with a header). */
  empty: number;
  /** connections open right now. */
  open: number;
  stop(): void;
}

/** cleanTarget answers each connection with a payload of up to `max` bytes and checks the client's upload. */
export function cleanTarget(rand: () => number, max = 512 * 1024): CleanTarget {
  const t: CleanTarget = { uploads: tally(), open: 0, empty: 0 } as CleanTarget;
  let accepted = 0;
  const closeIfDone = (sock: Socket<Conn>) => {
    const c = sock.data;
    if (c.end.ending === "reset") sock.terminate();
    else if (c.end.ending === "fin" && c.sentAll) sock.end();
  };
  t.listener = listen<Conn>({
    open(sock) {
      t.open++;
      const end = new End((e) => {
        if (e.empty) t.empty++;
        else t.uploads[e.verdict!]++;
        closeIfDone(sock);
      });
      const c: Conn = { end, sender: new Sender(sock as Socket<unknown>, () => end.writeFailed()), sentAll: false };
      sock.data = c;
      c.sender.send(payload(accepted++, Math.floor(rand() * max)));
      void c.sender.flushed().then(() => {
        if (c.sender.failed || c.end.ending === "reset") return;
        c.end.shut = true;
        sock.shutdown();
        c.sentAll = true;
        closeIfDone(sock);
      });
    },
    data: (sock, d) => sock.data.end.data(d),
    drain: (sock) => sock.data.sender.flush(),
    end: (sock) => sock.data.end.fin(),
    close(sock, err) {
      t.open--;
      sock.data.end.close(err);
    },
    error() {},
  });
  t.port = t.listener.port;
  t.stop = () => t.listener.stop(true);
  return t;
}

/**
 * cleanClient sends a payload of up to `max` bytes (a slow one pauses half-way
 * for `pauseMs`), shuts down, and judges the reply.
 */
export async function cleanClient(port: number, id: number, rand: () => number, pauseMs = 0, max = 512 * 1024): Promise<Verdict> {
  const p = payload(id, Math.floor(rand() * max));
  const st = dial(port, (s) => {
    void (async () => {
      if (pauseMs > 0) {
        s.sender.send(p.subarray(0, p.length >> 1));
        await Bun.sleep(pauseMs);
        s.sender.send(p.subarray(p.length >> 1));
      } else s.sender.send(p);
      await s.sender.flushed();
      if (s.sender.failed || s.end.ending === "reset") return;
      s.end.shut = true;
      s.sock.shutdown();
      if ((await s.settled) === "ok") s.sock.end();
    })();
  });
  const v = await outcome(st);
  if (v !== "ok") void st.then((s) => s.sock.terminate()).catch(() => {});
  return v;
}
