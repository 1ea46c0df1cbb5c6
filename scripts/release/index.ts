/**
 * `bun run release`: cross-compiles sluice for Linux x64 and arm64, glibc and
 * musl, into dist/release/ with SHA256SUMS, from one machine. Each binary's
 * ELF headers must show its architecture, its loader and a symbol table (a
 * stripped sluice is plain Bun); the binary for this machine is smoke-tested:
 * --version, --check on the shipped config.toml, one forwarded connection
 * and a clean SIGTERM.
 * @module
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { arch } from "node:os";
import { join, resolve } from "node:path";
import { buildCommand } from "../build-command.ts";
import { elfFacts, type ElfFacts } from "./elf.ts";
import { smoke } from "./smoke.ts";

const ROOT = resolve(import.meta.dir, "../..");
const OUT = join(ROOT, "dist", "release");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

interface Build {
  name: string;
  target: string;
  machine: ElfFacts["machine"];
  loader: string;
}

export const BUILDS: readonly Build[] = [
  { name: "linux-x64", target: "bun-linux-x64", machine: "x86-64", loader: "/lib64/ld-linux-x86-64.so.2" },
  { name: "linux-arm64", target: "bun-linux-arm64", machine: "aarch64", loader: "/lib/ld-linux-aarch64.so.1" },
  { name: "linux-x64-musl", target: "bun-linux-x64-musl", machine: "x86-64", loader: "/lib/ld-musl-x86_64.so.1" },
  { name: "linux-arm64-musl", target: "bun-linux-arm64-musl", machine: "aarch64", loader: "/lib/ld-musl-aarch64.so.1" },
];

const fail = (msg: string): never => {
  console.error(`release: ${msg}`);
  process.exit(1);
};


/** RELEASE_FLAGS: what a release build adds to package.json's build; DEBUG_MARK is a string only the debug hooks contain. */
const RELEASE_FLAGS = ["--define", "SLUICE_RELEASE=true", "--minify-syntax"];
const DEBUG_MARK = "injected crash (debug hook)";

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const sums: string[] = [];
const rows: string[] = [];
for (const b of BUILDS) {
  const file = `sluice-${pkg.version}-${b.name}`;
  const path = join(OUT, file);
  // SLUICE_RELEASE drops the test-only fault injection (src/sys/debug.ts); the guard below checks it is gone.
  const r = Bun.spawnSync(buildCommand(ROOT, { outfile: path, extra: [`--target=${b.target}`, ...RELEASE_FLAGS] }), {
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  });
  if (r.exitCode !== 0) fail(`building ${file} failed (bun build exit ${r.exitCode})`);
  const bytes = readFileSync(path);
  const elf = elfFacts(bytes);
  if (elf.machine !== b.machine) fail(`${file}: machine is ${elf.machine}, expected ${b.machine}`);
  if (elf.interpreter !== b.loader) fail(`${file}: loader is ${elf.interpreter}, expected ${b.loader}`);
  // Guard: a stripped binary has lost what makes it sluice; never ship one.
  if (!elf.hasSymtab) fail(`${file} is stripped: it would run as plain Bun; rebuild it and do not strip`);
  if (bytes.includes(DEBUG_MARK)) fail(`${file} still has the debug hooks (${DEBUG_MARK}): SLUICE_RELEASE was not applied`);
  const sha = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
  sums.push(`${sha}  ${file}`);
  rows.push(`| ${file} | ${(statSync(path).size / 1e6).toFixed(1)} MB | ${elf.machine} | ${elf.interpreter} |`);
  const described = Bun.which("file") ? Bun.spawnSync(["file", "-b", path]).stdout.toString().trim() : "(the file command is not installed)";
  console.log(`release: ${file}: ${described}`);
}
writeFileSync(join(OUT, "SHA256SUMS"), sums.join("\n") + "\n");

const host = arch() === "arm64" ? "linux-arm64" : "linux-x64";
const native = join(OUT, `sluice-${pkg.version}-${host}`);
console.log(`release: smoke test of ${native}`);
await smoke(native, pkg.version, join(ROOT, "config.toml")).catch((e: unknown) => fail(`smoke test failed: ${e instanceof Error ? e.message : e}`));

console.log(`\n| file | size | machine | loader |\n|---|---:|---|---|\n${rows.join("\n")}\n`);
console.log(`release: ${BUILDS.length} binaries and SHA256SUMS in ${OUT}; check them with: cd dist/release && sha256sum -c SHA256SUMS`);
