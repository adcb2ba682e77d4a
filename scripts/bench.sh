#!/usr/bin/env bash
# Builds the benchmark harness in release mode and runs one scenario.
#   scripts/bench.sh micro                 # hot-path micro-benchmarks → table + artifacts/bench/micro.json
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-micro}; shift || true
scripts/setup.sh
echo "bench: building giaoban-bench (release; the first build takes several minutes)"
swift build -c release --scratch-path .build-release --product giaoban-bench
mkdir -p artifacts/bench
exec .build-release/release/giaoban-bench "$scenario" --json "artifacts/bench/$scenario.json" "$@"
