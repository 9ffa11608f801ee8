#!/usr/bin/env bash
# Installs moto's server, the AWS emulator the AWS backend's tests run against, into a venv at
# .venv/moto, and prints the path of its `moto_server` executable.
#
# Safe to run again: an existing venv with the pinned version is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

version=5.2.6
venv=.venv/moto
server="$PWD/$venv/bin/moto_server"

if [ -x "$server" ] && "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$version')" 2>/dev/null; then
    echo "$server"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 is not installed; install it (Debian: apt-get install python3 python3-venv) and rerun" >&2
    exit 1
fi
if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
    else
        echo "error: python3 cannot create a venv; install it with: sudo apt-get install python3-venv" >&2
        exit 1
    fi
fi
mkdir -p .venv
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$version" >&2
echo "$server"
