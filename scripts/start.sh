#!/usr/bin/env bash
# npm start: install what is missing, then run the local stack in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx local/main.ts
