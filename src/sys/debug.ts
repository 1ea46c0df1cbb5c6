/**
 * @module debug: fault injection for tests, never in a release.
 *
 * The hooks: POST /debug/workers/{n}/crash makes worker thread n throw from
 * a timer, as a bug would, and POST /debug/workers/{n}/hang makes its loop
 * spin for ever, to show that the others survive and that it is replaced. It is on only
 * with SLUICE_DEBUG_HOOKS=1 in the environment. Release builds define
 * SLUICE_RELEASE (scripts/release) and every use site tests it first, as
 * `typeof SLUICE_RELEASE === "undefined" && debugHooks`: the bundler folds
 * that to false and drops the hook's code (a constant exported from here
 * would not be folded across modules), and the release script checks that
 * the binary no longer contains it.
 */

export const debugHooks: boolean = process.env.SLUICE_DEBUG_HOOKS === "1";
