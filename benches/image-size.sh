#!/usr/bin/env bash
# Image size and link time: portkey's default image against the same generated shim under
# rustc's fat LTO (opt-level=z, codegen-units=1, panic=abort, strip), for one function of every
# fixture crate that builds images, in one run. See benches/image_size.py for the method.
#
# Usage: benches/image-size.sh [--relinks N] [--functions fixture:path,...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec python3 benches/image_size.py "$@"
