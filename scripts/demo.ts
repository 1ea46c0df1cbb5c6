/**
 * Demo: start echo targets for every loopback target in config.toml that
 * nothing listens on yet, then run dist/sluice on that config in the
 * foreground. `npm start` runs this, so `echo hello | nc -N 127.0.0.1 5001`
 * answers on a fresh machine.
 */
import type { Socket } from "bun";
import { loadConfig } from "../src/config/index.ts";

const configPath = process.argv[2] ?? "config.toml";
const config = await loadConfig(configPath);

type Pending = { queue: Uint8Array[]; ended: boolean };

function echo(port: number, host: string): boolean {
  try {
    // An echo that honours backpressure and half-close, like a real target should.
    Bun.listen<Pending>({
      hostname: host,
      port,
      allowHalfOpen: true,
      socket: {
        open: (s) => void (s.data = { queue: [], ended: false }),
        data: (s, d) => write(s, d),
        drain: (s) => {
          const q = s.data.queue.splice(0);
          for (const c of q) write(s, c);
          if (s.data.queue.length === 0 && s.data.ended) s.shutdown();
        },
        end: (s) => {
          s.data.ended = true;
          if (s.data.queue.length === 0) s.shutdown();
        },
      },
    });
    return true;
  } catch {
    return false;
  }
}

function write(s: Socket<Pending>, d: Uint8Array) {
  if (s.data.queue.length > 0) return void s.data.queue.push(d);
  const n = s.write(d);
  if (n < d.length) s.data.queue.push(d.subarray(Math.max(0, n)));
}

const loopback = /^(127\.|localhost$|::1$)/;
for (const app of config.apps) {
  for (const t of app.targets) {
    if (!loopback.test(t.host)) continue;
    if (echo(t.port, t.host)) console.error(`demo: echo target listening on ${t.address}`);
  }
}

// sluice runs in a process group of its own: a Ctrl-C in the terminal goes to
// the whole foreground group, and sluice must get it once, from here, not
// twice (once from the terminal, once forwarded), which it would take for
// "second signal: exit now". A second Ctrl-C is forwarded as a second signal.
const sluice = Bun.spawn(["dist/sluice", "-c", configPath], { stdio: ["inherit", "inherit", "inherit"], detached: true });
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => sluice.kill(sig));
process.on("exit", () => sluice.kill("SIGKILL"));
process.exit(await sluice.exited);
