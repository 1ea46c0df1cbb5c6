/**
 * @module config/types: the resolved, validated config that the rest of sluice runs on.
 * Every default is already applied and every duration is in milliseconds.
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
}

export interface Config {
  bind: string;
  shutdownTimeoutMs: number;
  /** undefined: derived from the process's file-descriptor limit at start-up. */
  maxConnections: number | undefined;
  health: HealthConfig;
  /** undefined: no admin endpoint. */
  admin: Endpoint | undefined;
  apps: AppConfig[];
}
