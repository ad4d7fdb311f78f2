#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when they are missing.
#   scripts/ensure-system.sh          python3-venv (to build .venv)
#   scripts/ensure-system.sh --test   also chromium (browser tests) and nginx-light (proxy tests)
#   scripts/ensure-system.sh --bench  also wrk (HTTP load for the API benchmarks)
set -euo pipefail
want=()
python3 -c "import ensurepip, venv" 2>/dev/null || want+=(python3-venv)
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--bench" ]; then
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || want+=(chromium)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || want+=(nginx-light)
fi
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null 2>&1 || want+=(wrk)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${want[*]} (install them with your package manager)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "missing system packages: ${want[*]}; run as root: apt-get install -y ${want[*]}" >&2
    exit 0
  fi
fi
echo "installing Debian packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q </dev/null
$SUDO apt-get install -y -q "${want[@]}" </dev/null
