/**
 * @module config: loading and validating sluice's config (TOML or seed JSON) into a resolved Config.
 * Pure apart from loadConfig, which reads one file.
 */
export { formatDuration, MAX_DURATION_MS, parseDuration } from "./duration.ts";
export { loadConfig, parseConfig, parseConfigText, summarize } from "./load.ts";
export { DEFAULT_BUFFER_SIZE, MAX_BUFFER_SIZE, MIN_BUFFER_SIZE } from "./schema.ts";
export { formatSize, parseSize } from "./size.ts";
export { type AppConfig, BALANCERS, type BalancerKind, type Config, type HealthConfig } from "./types.ts";
