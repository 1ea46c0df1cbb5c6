/**
 * @module upgrade: a binary upgrade, from the running process's side. It
 * starts the new binary with the same arguments and hands it every listening
 * socket (src/control/inherit.ts) and the operator's drained targets; the new
 * process loads its config, adopts the sockets, starts its workers and says
 * it is ready over Bun's IPC channel. Only then does this process close its
 * listeners and drain. A new process that exits, or is not ready within
 * UPGRADE_TIMEOUT_MS, is killed and this one carries on: the sockets were
 * never closed, so no client saw a refusal either way.
 *
 * The new process is a child of this one until this one exits; it is then
 * adopted by init (or the service manager, which must be told the new main
 * PID: see deploy/systemd).
 */
import { encodeInherited, INHERIT_ENV, STATE_ENV, type Inherited, type OperatorState } from "./inherit.ts";

/** UPGRADE_TIMEOUT_MS bounds the new process's start: config, sockets, workers. */
export const UPGRADE_TIMEOUT_MS = 30_000;

/** Successor is the request: what to start, with what, and what to hand it. */
export interface Successor {
  binary: string;
  args: readonly string[];
  sockets: Inherited;
  state: OperatorState;
  timeoutMs?: number;
}

/** Ready is what the new process sends once it serves. */
export interface Ready {
  type: "ready";
  pid: number;
  version: string;
}

export type UpgradeOutcome = { ok: true; pid: number; version: string } | { ok: false; error: string };

/**
 * childSockets renumbers `sockets` as the child sees them: the parent's fds,
 * in order, become the child's 3, 4, …. Returns the parent's fds in that
 * order and the description with the child's numbers.
 */
export function childSockets(sockets: Inherited): { fds: number[]; described: Inherited } {
  const fds: number[] = [];
  const at = (fd: number) => fds.push(fd) + 2;
  const ports = new Map([...sockets.ports].map(([port, list]) => [port, list.map(at)] as [number, number[]]));
  if (sockets.admin === undefined) return { fds, described: { ports } };
  return { fds, described: { ...sockets, ports, admin: at(sockets.admin) } };
}

/** startSuccessor starts the new binary and resolves once it is ready, or with why it is not (it is then killed). */
export function startSuccessor(s: Successor): Promise<UpgradeOutcome> {
  const { fds, described } = childSockets(s.sockets);
  const { promise, resolve } = Promise.withResolvers<UpgradeOutcome>();
  let settled = false;
  const settle = (o: UpgradeOutcome) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    resolve(o);
  };
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn([s.binary, ...s.args], {
      stdio: ["ignore", "inherit", "inherit", ...fds],
      env: { ...process.env, [INHERIT_ENV]: encodeInherited(described), [STATE_ENV]: JSON.stringify(s.state) },
      ipc(message: unknown) {
        const m = message as Partial<Ready> | null;
        if (m?.type !== "ready" || typeof m.pid !== "number") return;
        child.unref();
        settle({ ok: true, pid: m.pid, version: String(m.version) });
      },
    });
  } catch (e) {
    return Promise.resolve({ ok: false, error: `cannot start ${s.binary}: ${(e as Error).message}` });
  }
  const timeoutMs = s.timeoutMs ?? UPGRADE_TIMEOUT_MS;
  const timer = setTimeout(() => {
    child.kill("SIGKILL");
    settle({ ok: false, error: `${s.binary} was not ready within ${timeoutMs} ms; killed` });
  }, timeoutMs);
  void child.exited.then((code) => settle({ ok: false, error: `${s.binary} exited (${code ?? child.signalCode}) before it was ready` }));
  return promise;
}

/** HandoverSource is what a handover is collected from: this thread's runtime and the other workers. */
export interface HandoverSource {
  listenerFds(): [port: number, fds: number[]][];
  readonly apps: ReadonlyMap<string, { readonly name: string; readonly allTargets: readonly { readonly address: string; readonly enabled: boolean }[] }>;
  readonly admin: { readonly fd: number | undefined } | undefined;
  readonly config: { readonly admin?: { readonly address: string } | undefined } | undefined;
}

/**
 * handover collects what the successor gets: every listening socket of every
 * thread by port, the admin socket with its address, and the targets drained
 * through the admin API.
 */
export function handover(runtime: HandoverSource, workers: { listenerFds(): [number, number[]][] } | undefined): { sockets: Inherited; state: OperatorState } {
  const ports = new Map<number, number[]>();
  for (const [port, fds] of [...runtime.listenerFds(), ...(workers?.listenerFds() ?? [])]) ports.set(port, [...(ports.get(port) ?? []), ...fds]);
  const state: OperatorState = {};
  for (const app of runtime.apps.values()) {
    const drained = app.allTargets.filter((t) => !t.enabled).map((t) => t.address);
    if (drained.length > 0) state[app.name] = drained;
  }
  const admin = runtime.admin?.fd;
  const adminAt = runtime.config?.admin?.address;
  return { sockets: admin === undefined ? { ports } : { ports, admin, ...(adminAt === undefined ? {} : { adminAt }) }, state };
}

/** announceReady tells the process that started this one (if any) that this one serves, and lets the channel go. */
export function announceReady(pid: number, version: string): void {
  if (typeof process.send !== "function") return;
  const ready: Ready = { type: "ready", pid, version };
  process.send(ready);
  process.disconnect?.();
}
