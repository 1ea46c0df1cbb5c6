/**
 * @module inherit: the listening sockets and operator state one sluice
 * process hands to the next in a binary upgrade (src/control/upgrade.ts), and how the
 * new process shares them out among its threads. Pure: it only encodes,
 * parses and assigns numbers.
 *
 * The old process passes its listening sockets as open file descriptors
 * (3, 4, … in the child, in the order given), described in the environment,
 * as NGINX does on USR2. The new process accepts from the very same sockets,
 * so nothing is ever closed with connections waiting in its accept queue:
 * that is what makes an upgrade refuse no one, where binding new sockets
 * beside the old ones (SO_REUSEPORT) would reset whatever the kernel had
 * queued on an old socket at the moment it closes.
 */

/** INHERIT_ENV names the sockets passed: `port=fd,port=fd,…;admin=fd`. */
export const INHERIT_ENV = "SLUICE_INHERIT_FDS";
/** STATE_ENV carries the operator's runtime state: targets drained through the admin API, per app. */
export const STATE_ENV = "SLUICE_INHERIT_STATE";

/** Inherited is what a new process was handed: sockets by port (any number each) and the admin listener's, with its address. */
export interface Inherited {
  ports: Map<number, number[]>;
  admin?: number;
  /** the admin socket's address (`host:port`), so a config that moved the admin API does not adopt the old one. */
  adminAt?: string;
}

/** OperatorState: per app, the addresses an operator drained (POST …/drain) that stay drained across the upgrade. */
export type OperatorState = Record<string, string[]>;

/**
 * adoptable keeps of `handed` what this process can use: sockets of ports
 * `ports` still has, and the admin socket when the admin API stays at
 * `adminAt`. What it drops is returned to be closed (it closes with the old
 * process too). Pure; main.ts reads the environment and closes.
 */
export function adoptable(handed: Inherited, ports: ReadonlySet<number>, adminAt: string | undefined): { keep: Inherited; close: number[] } {
  const keep: Inherited = { ports: new Map() };
  const close: number[] = [];
  for (const [port, fds] of handed.ports) {
    if (ports.has(port)) keep.ports.set(port, fds);
    else close.push(...fds);
  }
  if (handed.admin !== undefined) {
    if (adminAt !== undefined && adminAt === handed.adminAt) {
      keep.admin = handed.admin;
      keep.adminAt = adminAt;
    } else close.push(handed.admin);
  }
  return { keep, close };
}

/** encodeInherited writes `sockets` for INHERIT_ENV. */
export function encodeInherited(sockets: Inherited): string {
  const ports = [...sockets.ports].flatMap(([port, fds]) => fds.map((fd) => `${port}=${fd}`)).join(",");
  return sockets.admin === undefined ? ports : `${ports};admin=${sockets.admin}${sockets.adminAt === undefined ? "" : `@${sockets.adminAt}`}`;
}

/** parseInherited reads INHERIT_ENV; it throws on anything but what encodeInherited writes. */
export function parseInherited(text: string): Inherited {
  const [portPart = "", ...rest] = text.split(";");
  const ports = new Map<number, number[]>();
  for (const item of portPart.split(",").filter((s) => s !== "")) {
    const m = /^(\d{1,5})=(\d{1,7})$/.exec(item);
    const port = Number(m?.[1]);
    if (m === null || port < 1 || port > 65535) throw new Error(`${INHERIT_ENV}: "${item}" is not port=fd`);
    ports.set(port, [...(ports.get(port) ?? []), Number(m[2])]);
  }
  let admin: number | undefined;
  let adminAt: string | undefined;
  for (const item of rest) {
    const m = /^admin=(\d{1,7})(?:@(\S+))?$/.exec(item);
    if (m === null || admin !== undefined) throw new Error(`${INHERIT_ENV}: "${item}" is not admin=fd[@address]`);
    admin = Number(m[1]);
    adminAt = m[2];
  }
  if (admin === undefined) return { ports };
  return adminAt === undefined ? { ports, admin } : { ports, admin, adminAt };
}

/** parseState reads STATE_ENV; a malformed value is ignored (the state is a convenience, never a reason not to start). */
export function parseState(text: string | undefined): OperatorState {
  if (text === undefined || text === "") return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) return {};
    const out: OperatorState = {};
    for (const [app, list] of Object.entries(v)) if (Array.isArray(list)) out[app] = list.filter((a): a is string => typeof a === "string");
    return out;
  } catch {
    return {};
  }
}

/** Share: the sockets one thread adopts, by port; the main thread (0) also gets every socket no thread is left for. */
export type Share = Map<number, number[]>;

/**
 * share deals the sockets of each port out to `threads` threads: the i-th
 * socket to thread i, and any beyond the last thread to thread 0, which then
 * accepts on more than one (the old process ran more workers). A thread with
 * no socket for a port binds its own beside the others (SO_REUSEPORT).
 */
export function share(sockets: ReadonlyMap<number, readonly number[]>, threads: number): Share[] {
  const out: Share[] = Array.from({ length: threads }, () => new Map());
  for (const [port, fds] of sockets) {
    fds.forEach((fd, i) => {
      const to = out[i < threads ? i : 0]!;
      to.set(port, [...(to.get(port) ?? []), fd]);
    });
  }
  return out;
}
