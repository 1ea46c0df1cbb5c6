/**
 * Failure handling through the compiled binary: failover past dead targets,
 * an app with no live target, and active health checks taking a target out
 * and bringing it back.
 */
import { afterEach, expect, test } from "bun:test";
import { blackHole } from "../helpers/black-hole.ts";
import { connect, deadPort, echoBackend, exchange, freePort, nameBackend, refused, withTimeout } from "../helpers/net.ts";
import { appToml, poll, startSluice } from "../helpers/sluice.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

test("a refused dial fails over to the next target and marks the dead one down", async () => {
  using live = nameBackend("ok");
  // The target is alive for sluice's first active check and dies before any client comes.
  const doomed = nameBackend("no");
  const dead = doomed.port;
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
      appToml("fo", [port], [`127.0.0.1:${dead}`, `127.0.0.1:${live.port}`], `balancer = "round-robin"`),
    { adminPort: admin },
  );
  await poll(async () => doomed.accepted, (n) => n >= 1, 5000, "the first health check");
  doomed.stop();
  // Every connection succeeds, whichever target the rotation offers first.
  for (let i = 0; i < 4; i++) expect(await exchange(port, "x")).toBe("okx");
  const st = await sl.status();
  const [d, l] = st.apps[0]!.targets;
  expect(d!.healthy).toBe(false);
  expect(d!.connect_errors).toBeGreaterThanOrEqual(1);
  expect(l!.healthy).toBe(true);
  expect(l!.total).toBe(4);
  const metrics = await (await sl.admin("/metrics")).text();
  expect(metrics).toContain(`sluice_target_healthy{app="fo",target="127.0.0.1:${dead}"} 0`);
  expect(metrics).toMatch(new RegExp(`sluice_connect_errors_total\\{app="fo",target="127.0.0.1:${dead}"\\} [1-9]`));
});

test("a dial that gets no answer times out and the next target is tried", async () => {
  using live = nameBackend("ok");
  await using hole = await blackHole();
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(
    // One worker: with several, the passive mark reaches the others a message later, and one of them may try the hole once more.
    `bind = "127.0.0.1"\nworkers = 1\n[health]\ninterval = "1h"\ntimeout = "30s"\n[defaults]\nconnect_timeout = "200ms"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
      appToml("to", [port], [`127.0.0.1:${hole.port}`, `127.0.0.1:${live.port}`], `balancer = "round-robin"`),
    { adminPort: admin },
  );
  // Round-robin offers the black hole first; the client still gets the live target's answer.
  for (let i = 0; i < 3; i++) expect(await exchange(port, "y")).toBe("oky");
  const [h, l] = (await sl.status()).apps[0]!.targets;
  expect(h!.connect_errors).toBe(1);
  expect(h!.healthy).toBe(false);
  expect(h!.active).toBe(0);
  expect(l!.total).toBe(3);
  // The kernel is still retrying that SYN: its fd counts against the cap until it settles.
  expect((await sl.status()).connections.abandoned_dials).toBe(1);
});

test("with every target dead the client is closed and the proxy keeps serving", async () => {
  using live = echoBackend();
  const [dead1, dead2] = [deadPort(), deadPort()];
  const [pDead, pLive, admin] = [freePort(), freePort(), freePort()];
  await using sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
      appToml("dead", [pDead], [`127.0.0.1:${dead1}`, `127.0.0.1:${dead2}`]) +
      appToml("live", [pLive], [`127.0.0.1:${live.port}`]),
    { adminPort: admin },
  );
  for (let i = 0; i < 3; i++) {
    // The proxy's close shows as end of stream, or a reset (which may even beat Bun's connect).
    expect(await refused(pDead, "hello")).toBe(0);
  }
  // Both targets were tried (fail open) even after they were marked down.
  const st = await sl.status();
  const dead = st.apps.find((a) => a.name === "dead")!;
  for (const t of dead.targets) {
    expect(t.healthy).toBe(false);
    expect(t.connect_errors).toBe(3);
  }
  expect((await sl.admin("/healthz")).status).toBe(200);
  expect(await exchange(pLive, "still here")).toBe("still here");
  expect(await (await sl.admin("/metrics")).text()).toContain(`sluice_downstream_failed_total{app="dead"} 3`);
});

test("active checks take a target down when it stops and bring it back when it returns", async () => {
  const b = echoBackend();
  const target = b.port;
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "50ms"\ntimeout = "500ms"\nrise = 2\nfall = 2\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
      appToml("hc", [port], [`127.0.0.1:${target}`]),
    { adminPort: admin },
  );
  const healthy = async () => (await sl.status()).apps[0]!.targets[0]!.healthy;
  expect(await healthy()).toBe(true);
  b.stop();
  await poll(healthy, (h) => h === false, 5000, "target marked down");
  await sl.waitForOutput(`target 127.0.0.1:${target} down`);
  using back = echoBackend(target);
  await poll(healthy, (h) => h === true, 5000, "target marked up");
  await sl.waitForOutput(`target 127.0.0.1:${target} up`);
  expect(await exchange(port, "back")).toBe("back");
  back.stop();
});
