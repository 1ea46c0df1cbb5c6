/**
 * A dial that fails because this process is out of file descriptors must be
 * told apart from a target that refuses: Bun reports both as ECONNREFUSED.
 */
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { withTimeout } from "../helpers/net.ts";

test("dialError names EMFILE when the fd table is full, and ECONNREFUSED for a real refusal", async () => {
  const script = resolve(import.meta.dir, "../fixtures/dial-under-emfile.ts");
  const proc = Bun.spawn(["sh", "-c", `ulimit -n 64 && exec "$0" "$1"`, process.execPath, script], { stdout: "pipe", stderr: "pipe" });
  try {
    const [out, code] = await withTimeout(Promise.all([new Response(proc.stdout).text(), proc.exited]), 10_000, "the fixture");
    expect(code).toBe(0);
    const r = JSON.parse(out) as { held: number; raw: string; classified: string; refused: string };
    expect(r.held).toBeGreaterThan(0);
    // What Bun says, which is why dialError exists.
    expect(r.raw).toBe("ECONNREFUSED");
    expect(r.classified).toBe("EMFILE");
    expect(r.refused).toBe("ECONNREFUSED");
  } finally {
    proc.kill("SIGKILL");
  }
});
