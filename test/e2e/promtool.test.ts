/**
 * The exposition of a running sluice passes Prometheus' own linter,
 * `promtool check metrics` (HELP and TYPE on every family, counters ending
 * in `_total`, histograms as `_bucket{le}` / `_sum` / `_count`, base units).
 *
 * promtool ships in Debian's `prometheus` package (`.ci/run` installs it
 * when it can). Where it is missing, the test is skipped and says so in its
 * name and on stderr, so a green run without it cannot pass for a checked one.
 */
import { expect, test } from "bun:test";
import { exchange, freePort, nameBackend } from "../helpers/net.ts";
import { appToml, startSluice } from "../helpers/sluice.ts";

const PROMTOOL = Bun.which("promtool");
const SKIPPED = "SKIPPED: promtool is not on PATH (Debian: apt-get install prometheus)";
if (PROMTOOL === null) console.warn(`test/e2e/promtool.test.ts: ${SKIPPED}`);

test.skipIf(PROMTOOL === null)(`promtool check metrics accepts /metrics${PROMTOOL === null ? ` (${SKIPPED})` : ""}`, async () => {
  using target = nameBackend("t1");
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
      appToml("web", [port], [`127.0.0.1:${target.port}`]) +
      appToml("db", [freePort()], ["[::1]:1"]),
    { adminPort: admin },
  );
  // Traffic first, so the histogram and counters have samples that are not zero.
  expect(await exchange(port, "ping")).toBe("t1ping");
  const metrics = await (await sl.admin("/metrics")).text();
  expect(metrics).toContain('sluice_connect_duration_seconds_count{app="web"} 1');

  const proc = Bun.spawn([PROMTOOL!, "check", "metrics"], { stdin: new Blob([metrics]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, complaints: (out + err).trim() }).toEqual({ code: 0, complaints: "" });
});
