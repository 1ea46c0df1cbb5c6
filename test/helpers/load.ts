/**
 * Load for upgrade tests and scripts/upgrade-load.ts: lanes that each open a
 * connection, send a unique payload with a FIN, read the echo back to the
 * target's FIN and start the next, counting every outcome.
 */
import { HOST } from "./net.ts";

/** Load opens connections one after another in `parallel` lanes, each echoing a unique payload, and counts what went wrong. */
export class Load {
  ok = 0;
  refused = 0;
  reset = 0;
  corrupt = 0;
  #stop = false;
  #runs: Promise<void>[] = [];

  constructor(port: number, parallel: number) {
    for (let i = 0; i < parallel; i++) this.#runs.push(this.#loop(port, i));
  }

  async #loop(port: number, lane: number): Promise<void> {
    for (let n = 0; n < 1_000_000 && !this.#stop; n++) {
      const payload = `lane ${lane} #${n} ${"x".repeat(n % 200)}\n`;
      const outcome = await oneExchange(port, payload);
      if (outcome === "ok") this.ok++;
      else this[outcome]++;
    }
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#runs);
  }
}

export function oneExchange(port: number, payload: string): Promise<"ok" | "refused" | "reset" | "corrupt"> {
  return new Promise((done) => {
    let got = "";
    const timer = setTimeout(() => done("reset"), 10_000);
    const finish = (o: "ok" | "refused" | "reset" | "corrupt") => {
      clearTimeout(timer);
      done(o);
    };
    Bun.connect({
      hostname: HOST,
      port,
      allowHalfOpen: true,
      socket: {
        open: (s) => {
          s.write(payload);
          s.shutdown();
        },
        data: (_s, d) => void (got += d.toString()),
        end: (s) => void s.end(),
        close: (_s, err) => finish(err !== undefined ? "reset" : got === payload ? "ok" : "corrupt"),
        connectError: () => finish("refused"),
        error: () => {},
      },
    }).catch(() => finish("refused"));
  });
}

