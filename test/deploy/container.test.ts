/**
 * The Dockerfile and the config it ships agree: the shipped config passes
 * --check, the exposed port is its admin port, the image runs as non-root,
 * stops with SIGTERM and leaves health checks to the orchestrator. (Building
 * the image needs a registry; scripts/container-smoke.sh runs the binary in
 * the same bare layout instead.)
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { run } from "../helpers/sluice.ts";

const ROOT = resolve(import.meta.dir, "../..");
const dockerfile = readFileSync(resolve(ROOT, "Dockerfile"), "utf8");
const shipped = resolve(ROOT, "deploy/container/config.toml");

test("the config the image ships passes --check and listens on every address", async () => {
  const r = await run(["--check", "-c", shipped]);
  expect(r.code).toBe(0);
  const config = Bun.TOML.parse(readFileSync(shipped, "utf8")) as { bind: string; admin: { listen: string } };
  expect(config.bind).toBe("0.0.0.0");
  expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${config.admin.listen.split(":").at(-1)}$`, "m"));
});

test("the image runs as non-root, stops with SIGTERM, has no HEALTHCHECK and copies the shipped config", () => {
  const user = /^USER (\d+)/m.exec(dockerfile);
  expect(Number(user?.[1])).toBeGreaterThan(0);
  expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
  expect(dockerfile).not.toMatch(/^HEALTHCHECK/m);
  expect(dockerfile).toMatch(/^COPY deploy\/container\/config\.toml \/etc\/sluice\/config\.toml$/m);
  // The runtime stage must provide glibc and its loader: a distroless base, not static or scratch.
  const runtime = [...dockerfile.matchAll(/^FROM (\S+)/gm)].at(-1)?.[1];
  expect(runtime).toMatch(/^gcr\.io\/distroless\/(base|base-nossl|cc)-debian\d+/);
});
