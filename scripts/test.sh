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
# The differential tests in crates/builder link through portkey-ld. `cargo test --no-run` builds
# it along with the tests, with the same features as the test run. PORTKEY_LD points the tests at
# that build, so they do not build portkey-cli a second time in a target folder of their own.
cargo test --workspace --locked --no-run
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export PORTKEY_LD="${PORTKEY_LD:-$target_dir/debug/portkey-ld}"
cargo test --workspace --locked "$@"
