#!/usr/bin/env bash
# Save-to-live under `portkey dev`: file write to first new response, split into build, shake and
# swap, against `cargo build --release` of the fixture crate alone. See benches/save_to_live.py.
#
# Usage: benches/save-to-live.sh [edits]   (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p portkey-cli --bins >&2
exec python3 benches/save_to_live.py "$@"
