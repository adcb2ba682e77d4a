#!/usr/bin/env bash
# Interoperability suite: real WebRTC clients (aiortc, headless Chromium) against the giaoban
# binary. Installs what it needs when missing (Debian's chromium and chromium-driver, a Python
# venv in .venv with Tests/Interop/requirements.txt), then runs pytest and exits with its status.
#
#   scripts/test-interop.sh                      # the whole suite, against .build/debug/giaoban
#   scripts/test-interop.sh -k nack              # extra arguments go to pytest
#   GIAOBAN_BIN=/path/to/giaoban scripts/test-interop.sh
#
# The binary is not built here: run `swift build` first. Screenshots and server logs land in
# artifacts/interop/.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(chromium chromium-driver python3-venv)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "test-interop: installing ${missing[*]}"
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "test-interop: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo_cmd=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv=.venv
requirements=Tests/Interop/requirements.txt
stamp="$venv/.interop-requirements"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "test-interop: creating $venv"
    python3 -m venv "$venv"
fi
# Reinstall only when requirements.txt changed since the last successful install.
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
    echo "test-interop: installing $requirements"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

mkdir -p artifacts/interop
bin="${GIAOBAN_BIN:-.build/debug/giaoban}"
[[ -e "$bin" ]] || echo "test-interop: warning: $bin does not exist (swift build first, or set GIAOBAN_BIN)" >&2

set +e
"$venv/bin/python" -m pytest -q Tests/Interop "$@"
status=$?
set -e
exit "$status"
