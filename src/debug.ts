/**
 * @module debug: fault injection for tests, never in a release.
 *
 * Release builds define SLUICE_RELEASE=true (scripts/release), which makes
 * debugHooks the constant false and lets the bundler drop every hook; other
 * builds still need SLUICE_DEBUG_HOOKS=1 in the environment to turn them on.
 * The one hook: POST /debug/workers/{n}/crash makes worker thread n throw
 * from a timer, as a bug would, to show the others survive it.
 */
declare const SLUICE_RELEASE: boolean | undefined;

export const debugHooks: boolean = (typeof SLUICE_RELEASE === "undefined" || !SLUICE_RELEASE) && process.env.SLUICE_DEBUG_HOOKS === "1";
