#!/usr/bin/env bash
# Runs portkey's whole test suite on a machine prepared by scripts/setup.sh (which it runs
# first) and installs moto, the AWS emulator. Tests start their own servers on 127.0.0.1 and never
# reach the network beyond the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The AWS backend's tests run against moto's server, installed into .venv/moto.
scripts/moto.sh >/dev/null
# The OpenAPI tests check portkey's documents with openapi-spec-validator, in .venv/openapi.
scripts/openapi-validator.sh >/dev/null
cargo test --workspace --locked "$@"
