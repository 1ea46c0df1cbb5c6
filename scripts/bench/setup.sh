#!/usr/bin/env bash
# Installs the peers and load tools `bun run bench` needs, from Debian's packages.
# Idempotent: does nothing when every tool is already present.
set -euo pipefail

# tool -> Debian package that provides it
declare -A PKG=(
  [haproxy]=haproxy
  [nginx]=nginx
  [iperf3]=iperf3
  [wrk]=wrk
  [redis-server]=redis-server
  [redis-benchmark]=redis-tools
)
STREAM_MOD=/usr/lib/nginx/modules/ngx_stream_module.so

missing=()
for tool in "${!PKG[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${PKG[$tool]}")
done
# Debian's nginx ships the stream module as a separate dynamic module package.
[[ -f $STREAM_MOD ]] || missing+=(libnginx-mod-stream)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh: all benchmark tools are installed"
  exit 0
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
has_systemd() { command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; }
SERVICES=(nginx haproxy redis-server)
# Remember which services were already running so we never stop someone's own.
declare -A WAS_ACTIVE=()
if has_systemd; then
  for svc in "${SERVICES[@]}"; do
    systemctl is-active --quiet "$svc" && WAS_ACTIVE[$svc]=1 || true
  done
fi

echo "setup.sh: installing ${missing[*]}"
$SUDO apt-get update
# Noninteractive so iperf3's "start as a daemon?" debconf question takes its default (no).
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
  haproxy nginx libnginx-mod-stream iperf3 wrk redis-server redis-tools

# The packages may start system-wide services. The bench runs its own instances
# on its own ports, so services this install started are only idle noise: stop them.
if has_systemd; then
  for svc in "${SERVICES[@]}"; do
    [[ -n ${WAS_ACTIVE[$svc]:-} ]] && continue
    if systemctl is-active --quiet "$svc"; then
      $SUDO systemctl stop "$svc" && echo "setup.sh: stopped $svc (started by its package)"
    fi
  done
fi
echo "setup.sh: done"
