#!/usr/bin/env bash
# Fuzzes portkey's in-image runtime with cargo-fuzz (libFuzzer) on the stable toolchain.
#
# Usage: scripts/fuzz.sh [--runs N | --seconds N] [TARGET...]
#   --runs N      stop each target after N executions (default: 10000000)
#   --seconds N   stop each target after N seconds instead
#   TARGET        event, query, binding, base64 or response (default: all five)
#
# cargo-fuzz is installed into target/fuzz-tools/ on first use. Stable rustc accepts the
# instrumentation flags cargo-fuzz passes only with RUSTC_BOOTSTRAP=1; no nightly toolchain is
# needed. The sanitizer is off (`--sanitizer none`): the runtime has no unsafe code, so
# AddressSanitizer would find nothing that a panic does not already report, at several times the
# cost per execution. Each run starts from the committed corpus in fuzz/corpus/<target>/ and
# adds the inputs it finds there; a crash is written to fuzz/artifacts/<target>/. Copy a crash
# into fuzz/regressions/<target>/ once it is fixed, so that `cargo test -p portkey-runtime`
# replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

limit=(-runs=10000000)
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) limit=(-runs="$2"); shift 2 ;;
        --seconds) limit=(-max_total_time="$2"); shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(event query binding base64 response)

# libfuzzer-sys compiles libFuzzer, which is C++.
if ! command -v c++ >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >&2
    else
        echo "error: fuzzing needs a C++ compiler for libFuzzer; install it with: sudo apt-get install g++" >&2
        exit 1
    fi
fi

tools="$root/target/fuzz-tools"
if [ ! -x "$tools/bin/cargo-fuzz" ]; then
    cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi
export PATH="$tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$root/target/fuzz}"

cd "$root/fuzz"
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    echo "== fuzzing $target (${limit[*]})"
    # -rss_limit_mb and -timeout turn unbounded allocation and hangs into reported crashes;
    # -max_len keeps inputs near the size of real events.
    cargo fuzz run --sanitizer none --release "$target" "corpus/$target" -- \
        "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1
done
