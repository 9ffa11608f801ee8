#!/usr/bin/env bash
# Installs a pinned Python tool into a venv of its own at .venv/<venv> and prints the path of
# one of its executables. The test scripts use it for the tools the tests run.
#
# Usage: scripts/python-tool.sh VENV REQUIREMENT VERSION EXECUTABLE
#   VENV         the venv's folder name under .venv/, such as `moto`
#   REQUIREMENT  what pip installs, without the version, such as `moto[server]`
#   VERSION      the exact version to install and to expect in an existing venv
#   EXECUTABLE   the executable whose path is printed, such as `moto_server`
#
# Safe to run again: an existing venv with the pinned version is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 4 ]; then
    sed -n '5,9p' "$0" >&2
    exit 2
fi
venv=".venv/$1"
requirement="$2"
version="$3"
distribution="${requirement%%[*}"
executable="$PWD/$venv/bin/$4"

if [ -x "$executable" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$distribution') != '$version')" 2>/dev/null; then
    echo "$executable"
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
"$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement==$version" >&2
echo "$executable"
