/**
 * Test preload: builds dist/sluice when it is missing or older than any file
 * it is built from, so a plain `bun test` on a fresh clone tests the code in
 * the tree, never a stale binary. `npm test` builds first, and then this is a
 * few stat() calls.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildCommand } from "../scripts/build-command.ts";

const ROOT = resolve(import.meta.dir, "..");
const BINARY = join(ROOT, "dist", "sluice");

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((m, name) => Math.max(m, newest(join(path, name))), st.mtimeMs);
}

const inputs = ["src", "package.json", "package-lock.json", "tsconfig.json"].map((p) => join(ROOT, p)).filter(existsSync);
const stale = !existsSync(BINARY) || statSync(BINARY).mtimeMs < Math.max(...inputs.map(newest));
if (stale) {
  console.error(`test preload: ${existsSync(BINARY) ? "dist/sluice is older than its sources" : "dist/sluice is missing"}; building it`);
  const r = Bun.spawnSync(buildCommand(ROOT), { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`test preload: the build failed (exit ${r.exitCode})`);
}
