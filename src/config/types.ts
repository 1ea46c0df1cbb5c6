/**
 * @module config/types: the resolved, validated config that the rest of sluice runs on.
 * Every default is already applied, every duration is in milliseconds and every size in bytes.
 */
import type { Cidr } from "../net/acl.ts";
import type { Endpoint } from "../net/target.ts";

export const BALANCERS = ["least-connections", "round-robin", "random", "p2c"] as const;
export type BalancerKind = (typeof BALANCERS)[number];

/** ON_REMOVE: what a reload does with the open sessions of a target it removed. */
export const ON_REMOVE = ["keep", "drain"] as const;
export type OnRemove = (typeof ON_REMOVE)[number];

/** SEND_PROXY: the PROXY protocol header written to targets, if any. */
export const SEND_PROXY = ["none", "v1", "v2"] as const;
export type SendProxy = (typeof SEND_PROXY)[number];

export { LOG_FORMATS, LOG_LEVEL_NAMES, type LogConfig, type LogFormat, type LogLevelName } from "../sys/log.ts";
import type { LogConfig } from "../sys/log.ts";

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
  /** bytes written once connected; undefined: a plain connect check. */
  send?: Uint8Array;
  /** the reply must start with these bytes within the timeout. */
  expect?: Uint8Array;
}

/** Route sends TLS clients whose server name matches `sni` to its own targets. */
export interface RouteConfig {
  sni: string[];
  targets: Endpoint[];
  balancer: BalancerKind;
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
  /** this app's health checks: [health] with the app's own `health` table on top. */
  health: HealthConfig;
  /** how long a client waits for a target below its max_connections; 0: closed at once. */
  queueTimeoutMs: number;
  /** a target that turns healthy ramps from 10 % to 100 % of its weight over this long. */
  slowStartMs: number;
  allow: Cidr[];
  deny: Cidr[];
  /** open connections allowed per client IP; 0: no limit. */
  maxConnectionsPerClient: number;
  sendProxy: SendProxy;
  acceptProxy: boolean;
  /** accept a client only once it has sent data (TCP_DEFER_ACCEPT): for protocols where the client speaks first. */
  deferAccept: boolean;
  /** TLS passthrough routes by server name; empty: none. */
  routes: RouteConfig[];
}

export interface Config {
  bind: string;
  shutdownTimeoutMs: number;
  /** how long /healthz says "draining" while the ports still accept, before the drain. */
  shutdownDelayMs: number;
  /** reload when the config file changes on disk. */
  watch: boolean;
  /** event loops (worker threads) sharing every port; "auto" (the default): one per CPU this process may use. Read at start only. */
  workers: number | "auto";
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
