#!/usr/bin/env bash
# npm test: install what is missing, type-check, bundle the functions, run every jest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "test: typecheck"
npx tsc --noEmit -p tsconfig.json
echo "test: build functions"
npx tsx scripts/build-functions.ts
echo "test: jest"
npx jest --ci "$@"
