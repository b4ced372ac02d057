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
mkdir -p .cache
status=0
npx jest --ci --json --outputFile=.cache/jest-results.json "$@" || status=$?
# A plain closing line any CI can read.
node -e "const r=require('./.cache/jest-results.json'); console.log('jest: ' + r.numPassedTests + ' passed, ' + r.numFailedTests + ' failed, ' + r.numPendingTests + ' skipped')" || true
exit $status
