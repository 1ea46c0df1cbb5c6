/**
 * @module limits: the process-wide connection cap.
 * Each session holds two file descriptors, and Bun's accept loop spins
 * without a word once the fd table is full (docs/BUN-SOCKETS.md), so the cap keeps
 * the table from ever filling: clients past it are closed at once.
 */
import { Cell, G } from "./board.ts";

/** LimitsView is what /status and /metrics read of the cap. */
export interface LimitsView {
  readonly maxConnections: number;
  /** open sessions of the whole process (each two fds, or one while dialling). */
  readonly active: number;
  /**
   * dials given up on (timed out, or the client left) whose socket the kernel
   * is still trying to connect: each holds an fd until it settles, which for
   * a target that drops SYNs takes about two minutes.
   */
  readonly abandonedDials: number;
}

/**
 * Limits is shared by every app and every worker thread: one connection cap
 * for the whole process. The counts live on the board (src/sys/board.ts), so a
 * session admitted by any worker counts against every other's.
 */
export class Limits implements LimitsView {
  constructor(
    public maxConnections = 0,
    /** live apps, for each app's default share of the cap (appCap). */
    public apps = 1,
    readonly cell: Cell = Cell.local(2, 4),
  ) {}

  get active(): number {
    return this.cell.level(G.ACTIVE);
  }
  get abandonedDials(): number {
    return this.cell.level(G.ABANDONED);
  }
  /** this worker's own open sessions. */
  get own(): number {
    return this.cell.mine(G.ACTIVE);
  }

  /**
   * admit counts one more session unless that would push the fds in use past
   * the cap (see atCap); two workers admitting at once cannot both take the
   * last place.
   */
  admit(): boolean {
    return this.cell.raiseBelow(G.ACTIVE, room(this));
  }
  release(): void {
    this.cell.raise(G.ACTIVE, -1);
  }
  abandon(): void {
    this.cell.raise(G.ABANDONED, 1);
  }
  settle(): void {
    this.cell.raise(G.ABANDONED, -1);
  }
}

/**
 * appCap is how many open client connections one app may hold. An app's own
 * `max_connections` wins (the process-wide cap still applies on top). Without
 * one, an app may take the whole cap except a reserve kept for each other
 * app, a quarter of an even share: one app's idle clients can then never
 * lock every other app out.
 */
export function appCap(global: number, apps: number, configured: number | undefined): number {
  if (configured !== undefined) return configured;
  if (apps <= 1) return global;
  const reserve = Math.floor(global / (4 * apps));
  return Math.max(1, global - (apps - 1) * reserve);
}

/** room is how many sessions the cap allows now: abandoned dials still hold an fd each, so two of them take one session's place. */
function room(l: LimitsView): number {
  return l.maxConnections - (l.abandonedDials >> 1);
}

/** atCap says whether a new session would push the fds in use past the cap. */
export function atCap(l: LimitsView): boolean {
  return l.active >= room(l);
}

/** FD_RESERVE is kept back for listeners, health probes, the admin server and the runtime itself. */
export const FD_RESERVE = 64;

/** FdPlan is the connection cap that fits the fd limit, and what to tell the operator about it. */
export interface FdPlan {
  cap: number;
  /** descriptors kept back for listeners, probes and the runtime. */
  reserved: number;
  /** a problem an operator must hear about at start-up, or undefined. */
  warning?: string;
  /** the configured max_connections cannot be honoured: --check fails. */
  overCommitted: boolean;
}

/** SMALL_CAP is the automatic cap below which start-up warns. */
export const SMALL_CAP = 100;

/**
 * planConnections sizes the connection cap. Reserved: FD_RESERVE, one fd per
 * port, one abandoned probe socket per target and the probes in flight. A
 * configured cap that does not fit is lowered to what fits, never kept:
 * running out of fds makes Bun's accept loop spin.
 */
export function planConnections(fdLimit: number | undefined, ports: number, targets: number, configured: number | undefined, probesInFlight: number): FdPlan {
  const reserved = FD_RESERVE + ports + targets + Math.min(targets, probesInFlight);
  if (fdLimit === undefined) return { cap: configured ?? 100_000, reserved, overCommitted: false };
  const fits = connectionCap(fdLimit, reserved);
  const raise = "raise the limit (ulimit -n, or LimitNOFILE under systemd)";
  if (configured !== undefined) {
    if (configured <= fits) return { cap: configured, reserved, overCommitted: false };
    const need = 2 * configured + reserved;
    return {
      cap: fits,
      reserved,
      overCommitted: true,
      warning: `max_connections = ${configured} needs ${need} file descriptors but the limit is ${fdLimit}: capped at ${fits}; ${raise} to at least ${need}, or lower max_connections`,
    };
  }
  const warning =
    fits < SMALL_CAP
      ? `the file descriptor limit ${fdLimit} leaves room for only ${fits} connection${fits === 1 ? "" : "s"} after ${ports} ports and ${targets} targets; ${raise}`
      : undefined;
  return { cap: fits, reserved, overCommitted: false, warning };
}

/** connectionCap is the number of sessions that fit in `fdLimit` descriptors beside `reserved` others. */
export function connectionCap(fdLimit: number, reserved: number): number {
  return Math.max(1, Math.floor((fdLimit - reserved) / 2));
}

/** readFdLimit returns the soft RLIMIT_NOFILE of this process, or undefined where /proc does not tell. */
export async function readFdLimit(): Promise<number | undefined> {
  try {
    const text = await Bun.file("/proc/self/limits").text();
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return undefined;
    return m[1] === "unlimited" ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * LOCAL_ERRORS are dial failures that say this host ran out of something, not
 * that the target is down: they must never mark a target unhealthy.
 */
const LOCAL_ERRORS = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "EADDRNOTAVAIL"]);

/** isLocalError says whether a dial error code (see dialError) is this host's own shortage. */
export function isLocalError(code: string): boolean {
  return LOCAL_ERRORS.has(code);
}

/** LOCAL_ERROR_TEXT says what each local error means, for logs. */
export const LOCAL_ERROR_TEXT: Record<string, string> = {
  EMFILE: "this process has no file descriptor left (raise ulimit -n or lower max_connections)",
  ENFILE: "the system has no file descriptor left",
  ENOBUFS: "the kernel has no socket buffer memory left",
  ENOMEM: "the kernel has no memory left for a socket",
  EADDRNOTAVAIL: "no local port left to dial from",
};

/**
 * dialError names why a dial failed. Bun reports a socket() that failed for
 * want of a file descriptor as ECONNREFUSED (docs/BUN-SOCKETS.md), so a
 * refusal is double-checked against the fd table: if a descriptor cannot be
 * had right now, the real cause is EMFILE or ENFILE.
 */
export function dialError(e: unknown): string {
  const code = (e as { code?: string } | null)?.code;
  if (code === "ECONNREFUSED") return fdShortage() ?? code;
  return code ?? (e as Error)?.message ?? String(e);
}

/** fdShortage returns EMFILE/ENFILE when no file descriptor can be opened now. node:fs loads on first use only. */
function fdShortage(): string | undefined {
  const fs = require("node:fs") as typeof import("node:fs");
  try {
    fs.closeSync(fs.openSync("/dev/null", "r"));
    return undefined;
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === "EMFILE" || code === "ENFILE" ? code : undefined;
  }
}
