/**
 * @module limits: the process-wide connection cap.
 * Each session holds two file descriptors, and Bun's accept loop spins
 * without a word once the fd table is full (BUN-NOTES §5), so the cap keeps
 * the table from ever filling: clients past it are closed at once.
 */

/** Limits is shared by every app: one connection cap for the whole process. */
export interface Limits {
  maxConnections: number;
  /** open sessions (each two fds, or one while dialling). */
  active: number;
  /**
   * dials given up on (timed out, or the client left) whose socket the kernel
   * is still trying to connect: each holds an fd until it settles, which for
   * a target that drops SYNs takes about two minutes.
   */
  abandonedDials: number;
}

/** atCap says whether a new session would push the fds in use past the cap. */
export function atCap(l: Limits): boolean {
  return l.active + (l.abandonedDials >> 1) >= l.maxConnections;
}

/** FD_RESERVE is kept back for listeners, health probes, the admin server and the runtime itself. */
export const FD_RESERVE = 64;

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
