#!/usr/bin/env bash
# The benchmark suite: portkey's images against the same functions on AWS's lambda_http and under
# rustc's fat LTO: sizes, cold start, peak RSS, warm latency, relink and build times, in one run.
# See benches/suite.py for what is measured and how.
#
# Usage: benches/suite.sh [--cold N] [--warm N] [--relinks N] [--functions a,b] [--no-arm64]
#                         [--no-cold-build] [--readme]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec python3 benches/suite.py "$@"
