/**
 * @module chaos/stalled: `clients` clients that never read, each behind a
 * target that streams without end. Backpressure must bound sluice's memory
 * (it is measured per stalled client), and once the clients go, every
 * session must end.
 */
import type { Socket } from "bun";
import { HOST } from "../../test/helpers/net.ts";
import { Sender } from "./endpoint.ts";
import { drained, open, rssKB, type Settings, type Via } from "./path.ts";
import { tally, type Row } from "./tally.ts";

const MAX_PER_CLIENT_KB = 2048;

export async function stalledReaders(via: Via, s: Settings & { clients: number }): Promise<Row> {
  const senders = new Set<Sender>();
  let accepted = 0;
  const target = Bun.listen<Sender>({
    hostname: HOST,
    port: 0,
    socket: {
      open(sock) {
        sock.data = new Sender(sock as Socket<unknown>, () => sock.terminate());
        senders.add(sock.data);
        sock.data.endless(accepted++);
      },
      data() {},
      drain: (sock) => sock.data.flush(),
      close: (sock) => void senders.delete(sock.data),
      error() {},
    },
  });
  const sent = () => [...senders].reduce((n, x) => n + x.sent, 0);
  const t = tally();
  const problems: string[] = [];
  const clients: Socket<unknown>[] = [];
  try {
    await using path = await open(via, [target.port], s);
    const pid = path.sluice!.pid;
    const before = rssKB(pid);
    for (let i = 0; i < s.clients; i++) {
      const c = await Bun.connect({ hostname: HOST, port: path.port, socket: { open: (x) => x.pause(), data() {}, error() {} } });
      clients.push(c);
    }
    // Hold the stall for `seconds` (5 to 30), sampling sluice's RSS each second. Kernel buffers on loopback keep
    // growing slowly (autotuning), so the targets' byte count creeps up for minutes; sluice's own memory must not.
    const window = Math.min(30, Math.max(5, s.seconds));
    const samples: number[] = [];
    for (let i = 0; i < window; i++) {
      await Bun.sleep(1000);
      samples.push(rssKB(pid));
    }
    const mid = samples[Math.floor(samples.length / 2)]!;
    const after = rssKB(pid);
    const perClientKB = Math.round((after - before) / s.clients);
    const inFlightKB = Math.round(sent() / s.clients / 1024);
    // Bounded means two queues of buffer_size plus one read chunk each way (Bun reads up to 512 KiB at a time), with
    // room for allocator slack; without backpressure sluice would hold what the targets sent, about 10 MB a client.
    if (perClientKB > MAX_PER_CLIENT_KB) problems.push(`${perClientKB} KB per stalled client, more than ${MAX_PER_CLIENT_KB}`);
    for (const c of clients.splice(0)) c.terminate();
    if (await drained(path)) t.ok = s.clients;
    else problems.push("sluice kept sessions of gone clients");
    const notes = [
      `${s.clients} clients`,
      `sluice RSS ${before} KB before, ${mid} KB at ${Math.floor(window / 2) + 1} s and ${after} KB at ${window} s of the stall: ${perClientKB} KB per stalled client`,
      `${inFlightKB} KB per client sent before backpressure held (kernel buffers both hops + sluice's queue)`,
    ];
    return { scenario: "stalled", via, tally: t, allowed: ["ok"], notes, problems };
  } finally {
    for (const c of clients) c.terminate();
    target.stop(true);
  }
}
