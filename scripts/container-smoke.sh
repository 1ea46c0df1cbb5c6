#!/usr/bin/env bash
# Runs sluice in a root filesystem holding only the binary, its libraries,
# a config and /proc (chroot), forwards traffic through it and drains it.
# Usage: scripts/container-smoke.sh [path/to/sluice]   (default dist/sluice)
# Exit 0 passed, 1 failed, 77 skipped where the kernel or user forbids it.
set -uo pipefail
cd "$(dirname "$0")/.."
bun=$(command -v bun || echo node_modules/.bin/bun)
exec "$bun" scripts/container-smoke.ts "$@"
