#!/usr/bin/env bash
# Soak over an impaired link (not run in CI): a chair and ENDPOINTS endpoint clients in one
# meeting for MINUTES minutes, their media through Tests/Interop/tools/impaired_link.py (a
# userspace shaper: the kernel has no sch_netem, docs/impaired-link.md) at LOSS, DELAY_MS and
# JITTER_MS per direction. Starts its own relay (media.announced_address = 127.0.0.2), samples
# its RSS, file descriptors and threads every 10 s from /proc/<pid>/, prints progress each
# minute, and writes artifacts/soak/soak.json, artifacts/soak/soak.svg (RSS and loss over
# time), the relay's log and every endpoint's output. Exits 1 when a check fails (an endpoint
# exited non-zero or decoded under 95 % of the chair's frames, a peer timed out, peers missing).
#
#   scripts/soak.sh                                   # 20 endpoints, 30 minutes, 5 %, 40 ± 10 ms
#   ENDPOINTS=10 MINUTES=3 scripts/soak.sh
#   GIAOBAN_BIN=.build/release/giaoban scripts/soak.sh
#   IMPAIRED_CHAIR=1 scripts/soak.sh                  # the chair's link impaired too
#
# The binary is not built here: run `swift build` (or `swift build -c release`) first.
set -euo pipefail
cd "$(dirname "$0")/.."

ENDPOINTS="${ENDPOINTS:-20}"
MINUTES="${MINUTES:-30}"
LOSS="${LOSS:-0.05}"
DELAY_MS="${DELAY_MS:-40}"
JITTER_MS="${JITTER_MS:-10}"
OUT="${OUT:-artifacts/soak}"

bin="${GIAOBAN_BIN:-.build/debug/giaoban}"
[[ -x "$bin" ]] || { echo "soak: $bin does not exist (swift build first, or set GIAOBAN_BIN)" >&2; exit 1; }
export GIAOBAN_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

extra=()
[[ -n "${IMPAIRED_CHAIR:-}" ]] && extra+=(--impaired-chair)
echo "soak: $ENDPOINTS endpoints for $MINUTES min, loss $LOSS, delay $DELAY_MS ± $JITTER_MS ms per direction; $GIAOBAN_BIN"
exec python3 Tests/Interop/tools/impaired_meeting.py --endpoints "$ENDPOINTS" --minutes "$MINUTES" \
    --loss "$LOSS" --delay-ms "$DELAY_MS" --jitter-ms "$JITTER_MS" --out "$OUT" "${extra[@]}"
