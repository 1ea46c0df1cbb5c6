/**
 * @module config/types: the resolved, validated config that the rest of sluice runs on.
 * Every default is already applied, every duration is in milliseconds and every size in bytes.
 */
import type { Endpoint } from "../target.ts";

export const BALANCERS = ["least-connections", "round-robin", "random", "p2c"] as const;
export type BalancerKind = (typeof BALANCERS)[number];

/** ON_REMOVE: what a reload does with the open sessions of a target it removed. */
export const ON_REMOVE = ["keep", "drain"] as const;
export type OnRemove = (typeof ON_REMOVE)[number];

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVEL_NAMES = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export interface LogConfig {
  format: LogFormat;
  /** undefined: the command line's level (info unless --log-level says otherwise). */
  level: LogLevelName | undefined;
  /** one line per finished client connection. */
  access: boolean;
}

export interface AdminConfig {
  listen: Endpoint;
  /** the bearer token every POST needs; undefined: POSTs only on a loopback listener. */
  token: string | undefined;
  /** where `token` was read from, when the config names a file (loadConfig reads it). */
  tokenFile: string | undefined;
}

export interface HealthConfig {
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
}

export interface AppConfig {
  name: string;
  ports: number[];
  targets: Endpoint[];
  balancer: BalancerKind;
  connectTimeoutMs: number;
  /** 0 disables the idle timeout. */
  idleTimeoutMs: number;
  /** bytes one direction of a session may queue for a slow receiver: the app's `buffer_size`, else the top-level one. */
  bufferSize: number;
  /** the app's own cap on open client connections; undefined: only the process-wide cap applies. */
  maxConnections: number | undefined;
  /** what a reload does with sessions on a target it removed: let them finish, or close them after drainTimeoutMs. */
  onRemove: OnRemove;
  drainTimeoutMs: number;
  /** false silences this app's access log lines. */
  accessLog: boolean;
}

export interface Config {
  bind: string;
  shutdownTimeoutMs: number;
  /** how long /healthz says "draining" while the ports still accept, before the drain. */
  shutdownDelayMs: number;
  /** reload when the config file changes on disk. */
  watch: boolean;
  log: LogConfig;
  /** undefined: derived from the process's file-descriptor limit at start-up. */
  maxConnections: number | undefined;
  /** `buffer_size` in bytes: what each app uses unless it sets its own. */
  bufferSize: number;
  health: HealthConfig;
  /** undefined: no admin endpoint. */
  admin: Endpoint | undefined;
  /** the admin API's POST credentials; undefined with no [admin] table. */
  adminAuth: Omit<AdminConfig, "listen"> | undefined;
  apps: AppConfig[];
}
