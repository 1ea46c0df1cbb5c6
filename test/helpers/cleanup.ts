/** Test helper: undo steps run after each test, newest first, and named backends that stop themselves. */
import { afterEach } from "bun:test";
import { nameBackend, type Backend } from "./net.ts";

/** perTest registers an afterEach that runs every pushed step (call it at a test file's top level). */
export function perTest(): { cleanup: (() => unknown)[]; backends(names: string[]): Backend[] } {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  return {
    cleanup,
    backends(names) {
      const bs = names.map((n) => nameBackend(n));
      cleanup.push(() => bs.forEach((b) => b.stop()));
      return bs;
    },
  };
}
