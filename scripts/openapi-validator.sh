#!/usr/bin/env bash
# Installs openapi-spec-validator, the OpenAPI document checker the tests run on the documents
# portkey writes, into a venv at .venv/openapi, and prints the path of its executable.
#
# Safe to run again: an existing venv with the pinned version is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.9.0
venv=.venv/openapi
validator="$PWD/$venv/bin/openapi-spec-validator"

if [ -x "$validator" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('openapi-spec-validator') != '$version')" 2>/dev/null; then
    echo "$validator"
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
"$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator==$version" >&2
echo "$validator"
