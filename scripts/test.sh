#!/usr/bin/env bash
# Second command of the README (and what CI runs): install what is missing, build in debug,
# and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
echo "test: building (debug) with tests"
swift build --build-tests
echo "test: running the Swift test suite"
# Serially: many suites run real relays, media threads, sockets and timers; all at once on two
# cores they starve each other and bounded waits run out (about 90 s serially, 55 s in parallel).
swift test --skip-build --no-parallel
echo "test: running the interoperability suite (aiortc, headless Chromium)"
scripts/test-interop.sh
