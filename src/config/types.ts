/**
 * @module config/types: the resolved, validated config that the rest of sluice runs on.
 * Every default is already applied, every duration is in milliseconds and every size in bytes.
 */
import type { Endpoint } from "../target.ts";

export const BALANCERS = ["least-connections", "round-robin", "random", "p2c"] as const;
export type BalancerKind = (typeof BALANCERS)[number];

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
}

export interface Config {
  bind: string;
  shutdownTimeoutMs: number;
  /** undefined: derived from the process's file-descriptor limit at start-up. */
  maxConnections: number | undefined;
  /** `buffer_size` in bytes: what each app uses unless it sets its own. */
  bufferSize: number;
  health: HealthConfig;
  /** undefined: no admin endpoint. */
  admin: Endpoint | undefined;
  apps: AppConfig[];
}
