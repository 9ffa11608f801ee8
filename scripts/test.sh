#!/usr/bin/env bash
# Runs portkey's whole test suite on a machine prepared by scripts/setup.sh (which it runs
# first). Tests start their own servers on 127.0.0.1 and never reach the network beyond cargo's
# registry.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --locked "$@"
