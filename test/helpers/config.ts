/** Test helpers: configs built through the real parser, so every default is the one sluice uses. */
import { parseConfig } from "../../src/config/load.ts";
import type { AppConfig } from "../../src/config/types.ts";

/** appConfig is one app's resolved config with the defaults of an empty config file, `over` on top. */
export function appConfig(over: Partial<AppConfig> & { targets?: AppConfig["targets"] } = {}): AppConfig {
  const base = parseConfig({ health: { interval: "1h", timeout: "1s" }, apps: [{ name: "web", ports: [5001], targets: ["127.0.0.1:1"] }] }).apps[0]!;
  return { ...base, balancer: "round-robin", connectTimeoutMs: 1000, bufferSize: 64 * 1024, ...over };
}
