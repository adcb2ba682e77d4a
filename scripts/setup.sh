#!/usr/bin/env bash
# Installs what Giaoban needs to build and test on Debian: the native media and crypto
# libraries, the SQLite and PostgreSQL client libraries, pkg-config, and the tools the test
# suite drives. Safe to run repeatedly: it only calls apt-get when a package is missing.
#
#   scripts/setup.sh            # packages for building and running the server
#   scripts/setup.sh --test     # plus what the test suite needs (a PostgreSQL server among them)
set -euo pipefail

packages=(pkg-config libopus-dev libvpx-dev libssl-dev libsrtp2-dev libsqlite3-dev libpq-dev)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(python3 python3-venv postgresql coturn iproute2 nftables)  # postgresql, coturn: servers the tests start; ip, nft: network namespaces
    packages+=(systemd)  # systemd-analyze verify checks conf/giaoban.service (the service manager is not started)
    packages+=(ffmpeg mkvtoolnix)  # ffprobe, mkvinfo: judge the WebM recordings (GiaobanRecordingTests, endpoint watch --output)
    # A real RTSP camera (Tests/Interop/tools/rtsp_server.py, RTSPCameraLiveTests): gst-rtsp-server through
    # the system Python, x264enc (ugly), rtph264pay (good), videotestsrc (base)
    packages+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo_cmd=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [[ " ${missing[*]} " == *" postgresql "* ]]; then
        # The PostgreSQL tests start servers of their own in temporary directories; the package
        # only provides the programs, so it is told not to create (and start) a "main" cluster.
        conf=/etc/postgresql-common/createcluster.d/giaoban-no-main-cluster.conf
        "${sudo_cmd[@]}" mkdir -p "$(dirname "$conf")"
        echo "create_main_cluster = false" | "${sudo_cmd[@]}" tee "$conf" >/dev/null
    fi
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v swift >/dev/null || {
    echo "setup: 'swift' is not on PATH; install Swift 6.2 or newer (swift.org) and retry" >&2
    exit 1
}
echo "setup: ok ($(swift --version 2>&1 | head -n1))"
