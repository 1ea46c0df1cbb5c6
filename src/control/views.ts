/**
 * @module views: the running proxy as the operator's surface (the admin API,
 * /status, /metrics) sees it. Defined here, with the control plane, and
 * implemented by the Runtime, so that the admin and metrics code depends on
 * the runtime and never the other way round.
 */
import type { App } from "./app.ts";
import type { LimitsView } from "../sys/limits.ts";
import type { UpgradeOutcome } from "./upgrade.ts";
import type { WorkerInfo } from "./worker-protocol.ts";

/** ProxyView is what the views read. */
export interface ProxyView {
  readonly apps: ReadonlyMap<string, App>;
  /** apps a reload removed whose sessions are still open: still reported, so counters do not vanish mid-flight. */
  readonly retired?: Iterable<App>;
  readonly limits: LimitsView;
  readonly draining: boolean;
  readonly rejected: number;
  /** reloads applied and refused so far. */
  readonly reloads?: { readonly success: number; readonly failure: number };
  /** the config file, when it was last loaded, and why the last reload failed (null after a success). */
  readonly configInfo?: { path: string; loaded_at: string; last_error: string | null };
  /** the worker threads, when there is more than one. */
  readonly workers?: readonly WorkerInfo[];
  /** log lines dropped by every thread; this thread's own count when absent. */
  readonly logDropped?: number;
  /** binary upgrades this process started, by result. */
  readonly upgrades?: { readonly success: number; readonly failure: number };
  /** when this process started (ISO 8601). */
  readonly startedAt?: string;
}

/** ReloadOutcome is what a reload reports. */
export interface ReloadOutcome {
  ok: boolean;
  /** one line: what changed, or why it failed */
  message: string;
}

/** AdminHost is the running proxy as the admin API sees it: its views, a reload, and the POST credentials. */
export interface AdminHost extends ProxyView {
  reload(trigger: "signal" | "http" | "file"): Promise<ReloadOutcome>;
  /** the current bearer token (read per request: a reload may change it); undefined = none. */
  readonly adminToken: string | undefined;
  /** the admin listener is on a loopback address. */
  readonly adminLoopback: boolean;
  /** starts a binary upgrade to `binary` (else the path sluice was started from); undefined where this process cannot. */
  readonly upgrade?: ((binary?: string) => Promise<UpgradeOutcome>) | undefined;
  /** makes a worker thread crash or hang (debug builds only). */
  readonly injectFault?: ((index: number, fault: "crash" | "hang") => boolean) | undefined;
}

/** AdminServer is the running admin API: its port's socket (an upgrade hands it over) and how to stop it. */
export interface AdminServer {
  readonly fd: number | undefined;
  /** the port it listens on (undefined for an adopted socket). */
  readonly port: number | undefined;
  stop(closeActive?: boolean): void;
  /** settled resolves once no admin connection is open (a reply still on its way gets out), or after `ms`. */
  settled(ms: number): Promise<void>;
}
