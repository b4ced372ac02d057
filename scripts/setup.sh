#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian-like machine: npm packages (from the lockfile), the Debian
# packages of the offline speech engines and of the real-speech test recordings, and Debian's chromium (the browser page's real-browser test drives it
# through playwright-core, which downloads no browser of its own). Idempotent and quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/install-speech-deps.sh
# Real human speech with the transcripts its packages ship, for the turn-taking tests (tools/bench/recordings.ts):
# CMU's test recordings (BSD-2) and Asterisk's English prompts (CC-BY-SA-3.0, read by Allison Smith). The -wav
# variant is named, or apt would satisfy asterisk-core-sounds-en with the GSM one.
bash scripts/apt-install.sh pocketsphinx-testdata asterisk-core-sounds-en-wav asterisk-core-sounds-en
bash scripts/apt-install.sh chromium
