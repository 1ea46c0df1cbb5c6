/**
 * @module release/smoke: proves a built binary is sluice and forwards bytes:
 * `--version` names sluice and the version, `--check` accepts the shipped
 * config, and a process started on a loopback config passes one connection
 * to an echo target and exits 0 on SIGTERM.
 */
import { echoBackend, exchange, freePort, withTimeout } from "../../test/helpers/net.ts";
import { appToml, run, startSluice } from "../../test/helpers/sluice.ts";

export async function smoke(binary: string, version: string, shippedConfig: string): Promise<void> {
  const v = await run(["--version"], 10_000, binary);
  const printed = (v.stdout + v.stderr).trim();
  if (v.code !== 0 || !printed.includes(`sluice ${version}`)) throw new Error(`--version printed ${JSON.stringify(printed)} (exit ${v.code}): a stripped or wrong binary`);
  console.log(`release: --version: ${printed}`);
  const c = await run(["--check", "-c", shippedConfig], 10_000, binary);
  if (c.code !== 0) throw new Error(`--check on the shipped config exited ${c.code}: ${(c.stdout + c.stderr).trim()}`);
  console.log(`release: --check: ${(c.stdout + c.stderr).trim()}`);

  using echo = echoBackend();
  const port = freePort();
  await using sl = await startSluice(`bind = "127.0.0.1"\n${appToml("smoke", [port], [`127.0.0.1:${echo.port}`])}`, { binary });
  const reply = await exchange(port, "ping through sluice");
  if (reply !== "ping through sluice") throw new Error(`the forwarded connection returned ${JSON.stringify(reply)}`);
  console.log(`release: forwarded one connection through ${port} to an echo target`);
  sl.signal("SIGTERM");
  const code = await withTimeout(sl.exited, 10_000, "exit after SIGTERM");
  if (code !== 0) throw new Error(`exit code ${code} after SIGTERM`);
  console.log("release: SIGTERM: exit 0");
}
