#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian-like machine: npm packages (from the lockfile) and the
# Debian packages of the offline speech engines. Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/install-speech-deps.sh
