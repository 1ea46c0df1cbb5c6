/**
 * The shape of src/: each folder is a layer, and imports (type imports
 * included) point down the list below or stay in their layer; no file
 * takes part in an import cycle. docs/ARCHITECTURE.md draws the layers;
 * each folder's README says what it owns.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

/** LAYERS, lowest first: a file may import its own layer's files and those of the layers before it. */
export const LAYERS = ["sys", "net", "config", "upstream", "datapath", "control", "ops", "entry"] as const;

/** layerOf is a source file's layer: its top folder, or "entry" for the executable's entry points at the top. */
function layerOf(file: string): (typeof LAYERS)[number] {
  const top = relative(SRC, file).split("/")[0]!;
  if (top.endsWith(".ts")) return "entry";
  if (!(LAYERS as readonly string[]).includes(top)) throw new Error(`${relative(SRC, file)} is in no layer: add its folder to LAYERS`);
  return top as (typeof LAYERS)[number];
}

const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;

/** sources lists every .ts file under src/ and what each imports (relative specifiers, resolved). */
function sources(): Map<string, string[]> {
  const files = [...new Bun.Glob("**/*.ts").scanSync({ cwd: SRC })].map((f) => join(SRC, f));
  const out = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const deps = [...text.matchAll(SPEC)].map((m) => normalize(join(dirname(file), m[1]!))).filter((d) => d.startsWith(SRC) && d.endsWith(".ts"));
    out.set(file, deps);
  }
  return out;
}

/** cycles finds every strongly connected set of more than one file (Tarjan), each as relative paths. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const set: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        on.delete(w);
        set.push(w);
        if (w === v) break;
      }
      if (set.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(set.map((f) => relative(SRC, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe("the layers of src/", () => {
  const graph = sources();

  test("every import points to the same layer or one below it", () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      const from = LAYERS.indexOf(layerOf(file));
      for (const dep of deps) {
        if (LAYERS.indexOf(layerOf(dep)) > from) wrong.push(`${relative(SRC, file)} (${layerOf(file)}) imports ${relative(SRC, dep)} (${layerOf(dep)})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("no import cycle, type imports included", () => {
    expect(cycles(graph)).toEqual([]);
  });

  test("every import names a file that exists (the check above sees the whole graph)", () => {
    const missing = [...graph.values()].flat().filter((d) => !graph.has(d));
    expect(missing).toEqual([]);
  });

  test("the top of src/ holds the layers and the two entry points, and little else", () => {
    const top = new Set([...graph.keys()].map((f) => relative(SRC, f).split("/")[0]!));
    expect(top.size).toBeLessThanOrEqual(12);
  });
});

describe("the checks themselves", () => {
  test("cycles finds a loop of two and of three, and none in a chain", () => {
    const g = (edges: [string, string][]) => {
      const m = new Map<string, string[]>();
      for (const [a, b] of edges) {
        m.set(join(SRC, a), [...(m.get(join(SRC, a)) ?? []), join(SRC, b)]);
        if (!m.has(join(SRC, b))) m.set(join(SRC, b), []);
      }
      return m;
    };
    expect(cycles(g([["a.ts", "b.ts"], ["b.ts", "a.ts"]]))).toEqual([["a.ts", "b.ts"]]);
    expect(cycles(g([["a.ts", "b.ts"], ["b.ts", "c.ts"], ["c.ts", "a.ts"], ["c.ts", "d.ts"]]))).toEqual([["a.ts", "b.ts", "c.ts"]]);
    expect(cycles(g([["a.ts", "b.ts"], ["b.ts", "c.ts"]]))).toEqual([]);
  });

  test("the import pattern sees static, type, side-effect, dynamic and require imports", () => {
    const text = `import a from "./a.ts";\nimport type { B } from "../b.ts";\nimport "./c.ts";\nconst d = await import("./d.ts");\nrequire("./e.ts");\nexport { f } from "./f.ts";`;
    expect([...text.matchAll(SPEC)].map((m) => m[1])).toEqual(["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts"]);
  });
});
