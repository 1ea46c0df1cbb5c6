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
