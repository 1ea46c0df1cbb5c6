/**
 * @module version: the version sluice reports (--version, the ready line,
 * sluice_build_info, /status): package.json's, plus a build tag when the
 * build defines one (`bun build --define SLUICE_BUILD_TAG='"rc1"'` gives
 * `0.1.0+rc1`), so two builds of one tree can be told apart, as the upgrade
 * tests do.
 */
import pkg from "../../package.json" with { type: "json" };

declare const SLUICE_BUILD_TAG: string | undefined;

export const VERSION: string = typeof SLUICE_BUILD_TAG === "string" ? `${pkg.version}+${SLUICE_BUILD_TAG}` : pkg.version;
