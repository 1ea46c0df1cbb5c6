/**
 * The release guard reads ELF headers: machine, loader and whether a symbol
 * table survives (a stripped sluice starts as plain Bun).
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { arch } from "node:os";
import { elfFacts } from "../../scripts/release/elf.ts";
import { BINARY } from "../helpers/sluice.ts";

test("the built binary: this machine's architecture, a loader, a symbol table", () => {
  const facts = elfFacts(readFileSync(BINARY));
  expect(facts.machine).toBe(arch() === "arm64" ? "aarch64" : "x86-64");
  expect(facts.interpreter).toMatch(/^\/lib(64)?\/ld-/);
  expect(facts.hasSymtab).toBe(true);
});

test("a binary whose symbol table is gone reads as stripped", () => {
  const b = Buffer.from(readFileSync(BINARY));
  // Do what strip does to the guard's evidence: turn every SHT_SYMTAB section header into SHT_NULL.
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  for (let i = 0; i < shnum; i++) if (b.readUInt32LE(shoff + i * shentsize + 4) === 2) b.writeUInt32LE(0, shoff + i * shentsize + 4);
  expect(elfFacts(b).hasSymtab).toBe(false);
});

test("anything but a 64-bit little-endian ELF is refused", () => {
  expect(() => elfFacts(Buffer.from("#!/bin/sh\necho hi\n".padEnd(64)))).toThrow("not an ELF file");
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 1;
  expect(() => elfFacts(b)).toThrow("64-bit");
});
