#!/usr/bin/env bash
# Checks each fixture function's zip against its budget with `portkey shake --max-size`, and
# exits non-zero when one is over, naming its largest crates, functions and native inputs.
#
# Usage: scripts/budgets.sh [BUDGETS]   (default: fixtures/budgets.txt)
# The functions are built from the project of MANIFEST (default: fixtures/hello/Cargo.toml).
# PORTKEY names the portkey executable to use (default: target/release/portkey, built when
# missing).
set -euo pipefail
cd "$(dirname "$0")/.."

budgets=${1:-fixtures/budgets.txt}
portkey=${PORTKEY:-target/release/portkey}
manifest=${MANIFEST:-fixtures/hello/Cargo.toml}
[ -f "$budgets" ] || { echo "error: no budget file at $budgets" >&2; exit 2; }
[ -x "$portkey" ] || cargo build --release --locked -p portkey-cli --bins >&2

over=0
while read -r function budget options; do
    case "$function" in '' | '#'*) continue ;; esac
    # `options` is split into words on purpose, because it contains further shake flags.
    # shellcheck disable=SC2086
    if "$portkey" shake --fn "$function" --max-size "$budget" $options \
        --manifest-path "$manifest" >/dev/null; then
        echo "within budget: $function${options:+ $options} (at most $budget)"
    else
        echo "OVER BUDGET: $function${options:+ $options} (at most $budget)" >&2
        over=1
    fi
done <"$budgets"
exit "$over"
