#!/usr/bin/env bash
# npm start: install what is missing, then run the local stack in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# One GC thread per isolate: the stack runs dozens of isolates (one per Lambda environment) on few cores, and V8's
# parallel/concurrent GC made every collection wait for helper threads (docs/ARCHITECTURE.md, the local stack).
exec node --single-threaded-gc --import tsx local/main.ts
