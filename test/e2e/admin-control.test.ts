/**
 * Runtime control through the compiled binary's admin API: drain and enable
 * a target (open sessions carry on, new ones avoid it, the state survives a
 * reload), the bearer token on POSTs, and POST /reload.
 *
 * The 403 of a POST without a token on a listener that is not loopback is
 * covered in test/unit/admin.test.ts: tests here listen on loopback only.
 */
import { describe, expect, test } from "bun:test";
import { perTest } from "../helpers/cleanup.ts";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, deadPort, exchange, freePort, withTimeout } from "../helpers/net.ts";
import { appToml, poll, startSluice, tempDir, type Sluice } from "../helpers/sluice.ts";

const { cleanup, backends } = perTest();

/** header is the top of a config: loopback only, no file watch (the tests rewrite the file), hourly checks. */
function header(admin: number, extra = ""): string {
  return `bind = "127.0.0.1"\nwatch = false\n[defaults]\nbalancer = "round-robin"\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n${extra}\n`;
}

async function start(toml: string, admin: number): Promise<Sluice> {
  const sl = await startSluice(toml, { adminPort: admin });
  cleanup.push(() => sl[Symbol.asyncDispose]());
  return sl;
}

function post(admin: number, path: string, token?: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${admin}${path}`, { method: "POST", headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
}

/** greetings connects `n` times through `port` and lists the target names that greet, each connection closed after. */
async function greetings(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await exchange(port, "")).slice(0, 2));
  return out;
}

describe("drain and enable", () => {
  test("a drained target gets no new sessions while its open one carries on; enable puts it back", async () => {
    const [t1, t2] = backends(["t1", "t2"]);
    const [port, admin] = [freePort(), freePort()];
    const a1 = `127.0.0.1:${t1!.port}`;
    const a2 = `127.0.0.1:${t2!.port}`;
    const sl = await start(header(admin) + appToml("web", [port], [a1, a2]), admin);

    // An open session on t2, kept open across the drain.
    let open = await connect(port);
    cleanup.push(() => open.socket.end());
    await withTimeout(open.waitFor(2), 5000, "a greeting");
    if (open.received().toString() !== "t2") {
      const other = open;
      open = await connect(port);
      cleanup.push(() => open.socket.end());
      await withTimeout(open.waitFor(2), 5000, "a greeting");
      other.socket.end();
    }
    expect(open.received().toString()).toBe("t2");

    const res = await post(admin, `/apps/web/targets/${encodeURIComponent(a2)}/drain`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ address: a2, enabled: false, active: 1 });
    expect(await greetings(port, 4)).toEqual(["t1", "t1", "t1", "t1"]);

    // The open session still moves bytes both ways.
    open.writer.write(Buffer.from("ping"));
    await withTimeout(open.waitFor(6), 5000, "the echo on the drained target");
    expect(open.received().toString()).toBe("t2ping");

    const status = await sl.status();
    expect(status.apps[0]!.targets.map((t) => [t.address, (t as { enabled?: boolean }).enabled])).toEqual([
      [a1, true],
      [a2, false],
    ]);

    const back = await post(admin, `/apps/web/targets/${a2}/enable`);
    expect([back.status, ((await back.json()) as { enabled: boolean }).enabled]).toEqual([200, true]);
    expect(new Set(await greetings(port, 4))).toEqual(new Set(["t1", "t2"]));
    expect(sl.output()).toContain(`target ${a2} drained through the admin API`);
  });

  test("an IPv6 target is addressed percent-encoded; unknown app or target is 404, a GET is 405", async () => {
    const [port, admin] = [freePort(), freePort()];
    const v6 = `[::1]:${deadPort()}`;
    await start(header(admin) + appToml("web", [port], [`127.0.0.1:${deadPort()}`, v6]), admin);
    const encoded = encodeURIComponent(v6);
    expect(encoded).toStartWith("%5B%3A%3A1%5D%3A");
    const res = await post(admin, `/apps/web/targets/${encoded}/drain`);
    expect([res.status, ((await res.json()) as { address: string }).address]).toEqual([200, v6]);
    expect((await post(admin, `/apps/nope/targets/${encoded}/drain`)).status).toBe(404);
    expect((await post(admin, `/apps/web/targets/127.0.0.1:1/drain`)).status).toBe(404);
    const get = await fetch(`http://127.0.0.1:${admin}/apps/web/targets/${encoded}/enable`);
    expect([get.status, get.headers.get("allow")]).toEqual([405, "POST"]);
  });

  test("the drain survives a reload that keeps the address, and is forgotten once a reload removes it", async () => {
    const [t1, t2, t3] = backends(["t1", "t2", "t3"]);
    const [port, admin] = [freePort(), freePort()];
    const [a1, a2, a3] = [t1!, t2!, t3!].map((b) => `127.0.0.1:${b.port}`);
    const sl = await start(header(admin) + appToml("web", [port], [a1!, a2!]), admin);
    expect((await post(admin, `/apps/web/targets/${a2}/drain`)).status).toBe(200);

    const reload = async (targets: string[]) => {
      writeFileSync(sl.configPath, header(admin) + appToml("web", [port], targets));
      const res = await post(admin, "/reload");
      expect([res.status, ((await res.json()) as { result: string }).result]).toEqual([200, "success"]);
    };
    await reload([a2!, a3!, a1!]);
    const enabled = async () => Object.fromEntries((await sl.status()).apps[0]!.targets.map((t) => [t.address, (t as { enabled?: boolean }).enabled]));
    expect(await enabled()).toEqual({ [a1!]: true, [a2!]: false, [a3!]: true });
    expect(await greetings(port, 6)).not.toContain("t2");

    await reload([a1!]);
    await reload([a1!, a2!]);
    expect(await enabled()).toEqual({ [a1!]: true, [a2!]: true });
  });
});

describe("auth", () => {
  test("with a token, POSTs need it (401 and WWW-Authenticate otherwise); GETs stay open", async () => {
    const [port, admin] = [freePort(), freePort()];
    const target = `127.0.0.1:${deadPort()}`;
    const sl = await start(header(admin, `token = "s3cret-token"`) + appToml("web", [port], [target]), admin);
    for (const token of [undefined, "wrong", "s3cret-tokenX"]) {
      const res = await post(admin, `/apps/web/targets/${target}/drain`, token);
      expect([token, res.status, res.headers.get("www-authenticate")]).toEqual([token, 401, 'Bearer realm="sluice"']);
    }
    expect((await post(admin, "/reload")).status).toBe(401);
    expect((await sl.status()).apps[0]!.targets.map((t) => (t as { enabled?: boolean }).enabled)).toEqual([true]);
    expect((await sl.admin("/metrics")).status).toBe(200);
    const ok = await post(admin, `/apps/web/targets/${target}/drain`, "s3cret-token");
    expect(ok.status).toBe(200);
  });

  test("token_file is read at start and again on reload: the new token applies at once", async () => {
    const [port, admin] = [freePort(), freePort()];
    const target = `127.0.0.1:${deadPort()}`;
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "first-token\n");
    const live = await start(header(admin, `token_file = "${tokenFile}"`) + appToml("web", [port], [target]), admin);
    expect((await post(admin, "/reload", "first-token")).status).toBe(200);
    writeFileSync(tokenFile, "second-token\n");
    expect((await post(admin, "/reload", "first-token")).status).toBe(200); // this reload reads the new token
    expect((await post(admin, "/reload", "first-token")).status).toBe(401);
    expect((await post(admin, "/reload", "second-token")).status).toBe(200);
    expect(live.output()).not.toContain("second-token");
  });
});

describe("POST /reload", () => {
  test("applies the file: 200 with the summary, the new port serves; a bad file is 422 and the old config stays", async () => {
    const [t1] = backends(["t1"]);
    const [p1, p2, admin] = [freePort(), freePort(), freePort()];
    const a1 = `127.0.0.1:${t1!.port}`;
    const sl = await start(header(admin) + appToml("web", [p1], [a1]), admin);

    writeFileSync(sl.configPath, header(admin) + appToml("web", [p1, p2], [a1]));
    const ok = await post(admin, "/reload");
    const body = (await ok.json()) as { result: string; message: string };
    expect([ok.status, body.result, typeof body.message]).toEqual([200, "success", "string"]);
    expect(await exchange(p2, "")).toBe("t1");

    writeFileSync(sl.configPath, header(admin) + appToml("web", [p1], [a1]) + "bogus = 1\n");
    const bad = await post(admin, "/reload");
    const why = (await bad.json()) as { result: string; error: string };
    expect([bad.status, why.result]).toEqual([422, "failure"]);
    expect(why.error).toContain("bogus");
    expect(await exchange(p2, "")).toBe("t1"); // still the old config
    await poll(() => sl.admin("/metrics").then((r) => r.text()), (m) => m.includes('sluice_config_reloads_total{result="failure"} 1'), 5000, "the failure count");
  });
});
