/** Defined (true) by release builds only: `bun build --define SLUICE_RELEASE=true` (see src/sys/debug.ts). */
declare const SLUICE_RELEASE: true | undefined;
