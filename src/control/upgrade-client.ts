/**
 * @module upgrade-client: `sluice upgrade`, the command that asks a running
 * sluice to upgrade itself. It reads the same config file as the running
 * process, finds its admin listener there, and POSTs /upgrade (with the
 * bearer token the config names); the running process does the rest
 * (src/control/upgrade.ts) and answers once the new process serves or has failed.
 */
import type { Config } from "../config/types.ts";
import { SluiceError } from "../sys/errors.ts";
import { UPGRADE_TIMEOUT_MS } from "./upgrade.ts";

/** adminUrl is where a client on this machine reaches the admin listener: a wildcard address is dialled on loopback. */
export function adminUrl(config: Config, path: string): string {
  const at = config.admin;
  if (at === undefined) {
    throw new SluiceError("USAGE", "the config has no [admin] table, so `sluice upgrade` cannot reach the running process: send it SIGUSR2 instead (it upgrades to the binary at the path it was started from)");
  }
  const host = at.host === "0.0.0.0" ? "127.0.0.1" : at.host === "::" ? "::1" : at.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${at.port}${path}`;
}

/** requestUpgrade asks the running process to upgrade to `binary` (its own path when undefined) and returns its answer as one line. */
export async function requestUpgrade(config: Config, binary: string | undefined): Promise<{ ok: boolean; message: string }> {
  const url = adminUrl(config, "/upgrade");
  const token = config.adminAuth?.token;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(binary === undefined ? {} : { binary }),
      signal: AbortSignal.timeout(UPGRADE_TIMEOUT_MS + 5_000),
    });
  } catch (e) {
    return { ok: false, message: `cannot reach the running sluice at ${url}: ${(e as Error).message}` };
  }
  const text = (await res.text()).trim();
  let body: { pid?: number; version?: string; error?: string } = {};
  try {
    body = JSON.parse(text);
  } catch {}
  if (res.status === 200 && body.pid !== undefined) return { ok: true, message: `upgraded: sluice ${body.version} serves as pid ${body.pid}; the old process drains` };
  return { ok: false, message: `upgrade refused (${res.status}): ${body.error ?? text}` };
}
