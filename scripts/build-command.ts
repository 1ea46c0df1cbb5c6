/**
 * buildCommand reads package.json's `build` script (`bun build … --outfile
 * dist/sluice`), the one place the compile flags live, and returns it as an
 * argv for the running Bun (which may not be on PATH), optionally with
 * another output path and extra flags such as `--target`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export function buildCommand(root: string, opts: { outfile?: string; extra?: string[] } = {}): string[] {
  const script: string = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.build;
  const argv = script.split(/\s+/);
  const at = argv.indexOf("--outfile");
  if (argv[0] !== "bun" || argv[1] !== "build" || at < 0) throw new Error(`unexpected build script: ${script}`);
  const outfile = opts.outfile ?? argv[at + 1]!;
  return [process.execPath, ...argv.slice(1, at), ...argv.slice(at + 2), ...(opts.extra ?? []), "--outfile", outfile];
}
