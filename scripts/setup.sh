#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian-like machine: npm packages (from the lockfile), the Debian
# packages of the offline speech engines, and Debian's chromium (the browser page's real-browser test drives it
# through playwright-core, which downloads no browser of its own). Idempotent and quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/install-speech-deps.sh
bash scripts/apt-install.sh chromium
