/**
 * @module errors: the closed set of failures sluice reports to a user.
 * Expected runtime failures travel as values (a CloseReason); these are thrown
 * only for start-up and config problems, and callers branch on `code`.
 */

export type SluiceErrorCode =
  | "CONFIG_NOT_FOUND"
  | "CONFIG_PARSE"
  | "CONFIG_INVALID"
  | "LISTEN_FAILED"
  | "USAGE";

/** SluiceError carries a stable `code`; the message is for humans only. */
export class SluiceError extends Error {
  override readonly name = "SluiceError";
  constructor(
    readonly code: SluiceErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** One config problem: the key path it concerns (`apps[1].targets[0]`) and why. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** ConfigError lists every problem found in a config, not just the first. */
export class ConfigError extends SluiceError {
  constructor(
    readonly issues: ConfigIssue[],
    readonly file?: string,
  ) {
    super("CONFIG_INVALID", issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("\n"));
  }
}

/** errorCode names a runtime error the way logs and /status show it: its errno code when it has one. */
export function errorCode(e: unknown): string {
  const err = e as { code?: string; message?: string } | null | undefined;
  return err?.code ?? err?.message ?? String(e);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * describeError is what a user reads for a failure: a ConfigError lists each
 * problem on its own indented line; anything that is not a SluiceError is a
 * bug of ours and says so.
 */
export function describeError(e: unknown): string {
  if (e instanceof ConfigError) {
    const where = e.file ?? "config";
    return `invalid config ${where} (${plural(e.issues.length, "problem")}):\n${e.issues.map((i) => `  ${i.path ? `${i.path}: ` : ""}${i.message}`).join("\n")}`;
  }
  if (e instanceof SluiceError) return e.message;
  return `internal error: ${(e as Error)?.message ?? String(e)}`;
}

/**
 * describeErrorLine is describeError on one line, for logs and JSON answers:
 * `invalid config x.toml: apps[0].bogus: unknown key; apps[1].ports: required`.
 */
export function describeErrorLine(e: unknown): string {
  if (e instanceof ConfigError) {
    return `invalid config ${e.file ?? "config"}: ${e.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")}`;
  }
  return describeError(e).replace(/\n\s*/g, "; ");
}
