#!/usr/bin/env bash
# Runs the libFuzzer target of every parser of outside input (Tests/Fuzz/Targets/Fuzz<Name>.swift)
# for a number of inputs each (default one million), starting from the committed corpus in
# Tests/Fuzz/corpus/<name>/. New interesting inputs go to .build-fuzz/corpus/<name>/;
# a crash leaves its input in Tests/Fuzz/crashes/ and fails the script.
#
#   scripts/fuzz.sh                 # all targets, 1,000,000 runs each
#   scripts/fuzz.sh rtp stun        # only these targets
#   RUNS=100000 scripts/fuzz.sh     # fewer runs
#
# A target is compiled with the sources of GiaobanWire, unless its first lines name another
# pure target (one that imports no other Giaoban module), e.g.
#   // fuzz-sources: Sources/GiaobanIncidents
# Those sources and the target are compiled as one module, as they are. A line
#   // fuzz-flags: -I Sources/COpenSSL …
# adds compiler flags (a C module's map, a package name for `package` declarations).
# A line `// fuzz-options: …` adds libFuzzer options for that target.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-1000000}
out=.build-fuzz
mkdir -p "$out" Tests/Fuzz/crashes

mapfile -t wire_sources < <(find Sources/GiaobanWire -name '*.swift' | sort)

# Targets by lower-case name: Tests/Fuzz/Targets/FuzzOpusTOC.swift is "opustoc".
declare -A sources=()
for f in Tests/Fuzz/Targets/Fuzz*.swift; do
    n=$(basename "$f" .swift)
    n=${n#Fuzz}
    sources[${n,,}]=$f
done
if (($#)); then targets=("$@"); else mapfile -t targets < <(printf '%s\n' "${!sources[@]}" | sort); fi

status=0
for t in "${targets[@]}"; do
    src=${sources[$t]:-}
    [[ -n "$src" ]] || { echo "fuzz: no target named '$t' (have: ${!sources[*]})" >&2; exit 2; }
    echo "fuzz: building $t"
    target_sources=("${wire_sources[@]}")
    declared=$(sed -n 's#^// fuzz-sources: ##p' "$src" | head -n 1)
    if [[ -n "$declared" ]]; then
        mapfile -t target_sources < <(find $declared -name '*.swift' | sort)
        if grep -lE '^(public |internal )?import Giaoban' "${target_sources[@]}"; then
            echo "fuzz: $declared imports another Giaoban module; fuzz targets take pure targets only" >&2
            exit 2
        fi
    fi
    read -r -a flags <<< "$(sed -n 's#^// fuzz-flags: ##p' "$src" | head -n 1)"
    swiftc -sanitize=fuzzer,address -parse-as-library -O "${flags[@]}" "${target_sources[@]}" "$src" -o "$out/fuzz-$t" 2>&1 \
        | grep -v "Cannot export local symbol" || true
    [[ -x "$out/fuzz-$t" ]] || { echo "fuzz: $t did not build" >&2; exit 1; }
    mkdir -p "$out/corpus/$t" "Tests/Fuzz/corpus/$t"
    echo "fuzz: running $t for $runs inputs"
    read -r -a options <<< "$(sed -n 's#^// fuzz-options: ##p' "$src" | head -n 1)"
    if "$out/fuzz-$t" "${options[@]}" -runs="$runs" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="Tests/Fuzz/crashes/$t-" "$out/corpus/$t" "Tests/Fuzz/corpus/$t" > "$out/$t.log" 2>&1; then
        echo "fuzz: $t ok — $(grep -E '^stat::number_of_executed_units' "$out/$t.log" | awk '{print $2}') inputs, no crash"
    else
        echo "fuzz: $t FAILED — see $out/$t.log and Tests/Fuzz/crashes/" >&2
        tail -n 30 "$out/$t.log" >&2
        status=1
    fi
done
exit $status
