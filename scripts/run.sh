#!/usr/bin/env bash
# First command of the README: install what is missing, build the release binary and run
# `giaoban serve` with conf/giaoban.toml. Extra arguments go to `giaoban serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "run: building giaoban (release; the first build takes several minutes)"
swift build -c release --scratch-path .build-release --product giaoban
exec .build-release/release/giaoban serve --config conf/giaoban.toml "$@"
