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
    // Kernel buffers on loopback keep growing slowly (autotuning), so what the targets manage to send creeps up for a
    // long time; what must stop is sluice's own memory: wait for three samples a second apart within 2 % (or 2 MB) of
    // the one before.
    let last = -1;
    let still = 0;
    const limit = Math.max(5, s.seconds);
    const deadline = performance.now() + limit * 1000;
    while (still < 3 && performance.now() < deadline) {
      await Bun.sleep(1000);
      const now = rssKB(pid);
      still = Math.abs(now - last) <= Math.max(now / 50, 2048) && accepted === s.clients ? still + 1 : 0;
      last = now;
    }
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
      still >= 3 ? "RSS flat" : `RSS not flat within ${limit} s`,
      `sluice RSS ${before} → ${after} KB: ${perClientKB} KB per stalled client`,
      `${inFlightKB} KB per client sent before backpressure held (kernel buffers both hops + sluice's queue)`,
    ];
    return { scenario: "stalled", via, tally: t, allowed: ["ok"], notes, problems };
  } finally {
    for (const c of clients) c.terminate();
    target.stop(true);
  }
}
