/**
 * @module release/elf: the three facts the release step checks in a binary,
 * read from its ELF headers: the machine, the program interpreter (the
 * loader, which names glibc or musl) and whether a symbol table is present.
 * `strip` removes the symbol table, and a stripped sluice is plain Bun (it
 * starts Bun's own CLI), so a missing .symtab means a broken release. Pure.
 */

export interface ElfFacts {
  machine: "x86-64" | "aarch64" | `unknown(${number})`;
  interpreter: string | null;
  hasSymtab: boolean;
}

const MACHINES: Record<number, ElfFacts["machine"]> = { 0x3e: "x86-64", 0xb7: "aarch64" };
const PT_INTERP = 3;
const SHT_SYMTAB = 2;

/** elfFacts reads a 64-bit little-endian ELF image; it throws on anything else. */
export function elfFacts(b: Buffer): ElfFacts {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw new Error("not an ELF file");
  if (b[4] !== 2 || b[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
  const em = b.readUInt16LE(18);
  const phoff = Number(b.readBigUInt64LE(32));
  const shoff = Number(b.readBigUInt64LE(40));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  let interpreter: string | null = null;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (b.readUInt32LE(p) !== PT_INTERP) continue;
    const off = Number(b.readBigUInt64LE(p + 8));
    const size = Number(b.readBigUInt64LE(p + 32));
    interpreter = b.toString("latin1", off, off + size).replace(/\0+$/, "");
  }
  let hasSymtab = false;
  for (let i = 0; i < shnum && shoff > 0; i++) {
    if (b.readUInt32LE(shoff + i * shentsize + 4) === SHT_SYMTAB) hasSymtab = true;
  }
  return { machine: MACHINES[em] ?? `unknown(${em})`, interpreter, hasSymtab };
}
