#!/usr/bin/env bash
# Builds the benchmark harness (and the relay it drives) in release mode and runs one scenario.
#   scripts/bench.sh micro                 # hot-path micro-benchmarks → table + artifacts/bench/micro.json
#   scripts/bench.sh broadcast             # 1 → N through the relay, with direct and kernel-floor references
#                                          #   → table + artifacts/bench/broadcast.json + broadcast.svg
#   scripts/bench.sh province              # a simulcast chair watched by 10 … 200 communes that each publish
#                                          #   360p + audio → table + artifacts/bench/province.json + province.svg
#   scripts/bench.sh udp                   # media socket loop vs SwiftNIO (see docs/udp-loop.md)
#   scripts/bench.sh hub                   # one incident to 1,000 WebSocket subscribers; durable ingest rate
#                                          #   → table + artifacts/bench/hub.json (docs/hub.md)
#   scripts/bench.sh mixing                # one meeting's audio mixer tick and compositor frame (docs/mixing.md)
#   scripts/bench.sh mixing-relay          # 20, 100, 200 participants of one meeting in mixed mode through the
#                                          #   relay, then Janus AudioBridge → table + artifacts/bench/mixing-relay.json
#                                          #   (docs/bench.md)
#   scripts/bench.sh downlinks             # 20, 100, 200 participants on downlinks: time and relay CPU to offer
#                                          #   everyone a publisher that comes and goes → artifacts/bench/downlinks.json
#   scripts/bench.sh recording             # one meeting (3 publishers, 10 watchers of each) with meetings.record
#                                          #   off, then always, five pairs: forwarding CPU per packet → artifacts/bench/recording.json
#   scripts/bench.sh cascade               # 1 → 50, 200 through one relay, then through a parent and 2 child
#                                          #   relays: latency per hop, CPU per node, trunk packets → artifacts/bench/cascade.json;
#                                          #   then incident fan-out to 1,000 communes on 3 nodes → artifacts/bench/cascade-hub.json
#   scripts/bench.sh broadcast --subscribers 1,10,50 --seconds 5    # options go to the scenario
#   scripts/bench.sh broadcast --with-janus   # installs Debian's janus first; Janus VideoRoom joins the
#                                             #   run as a third reference (it runs whenever janus is installed)
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-micro}; shift || true
args=()
with_janus=false
for arg in "$@"; do
    if [[ "$arg" == "--with-janus" ]]; then with_janus=true; else args+=("$arg"); fi
done
scripts/setup.sh
if $with_janus && ! command -v janus >/dev/null; then
    echo "bench: installing janus (Debian package)"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends janus
fi
echo "bench: building giaoban-bench and giaoban (release; the first build takes several minutes)"
swift build -c release --scratch-path .build-release --product giaoban-bench
swift build -c release --scratch-path .build-release --product giaoban
mkdir -p artifacts/bench
extra=()
if [[ "$scenario" == "broadcast" || "$scenario" == "province" ]]; then
    extra=(--svg "artifacts/bench/$scenario.svg")
fi
if [[ "$scenario" == "cascade" ]]; then
    # Media through the cascade, then the hub's live events across three nodes sharing PostgreSQL.
    .build-release/release/giaoban-bench cascade --json artifacts/bench/cascade.json "${args[@]}"
    exec .build-release/release/giaoban-bench hub --relay .build-release/release/giaoban --nodes 3 --subscribers 1000 \
        --incidents 20 --ingest 500 --json artifacts/bench/cascade-hub.json
fi
exec .build-release/release/giaoban-bench "$scenario" --json "artifacts/bench/$scenario.json" "${extra[@]}" "${args[@]}"
