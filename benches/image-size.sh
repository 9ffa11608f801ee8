#!/usr/bin/env bash
# Image size: portkey's shaken image against the same shim built by rustc alone.
#
# For each fixture function, in one run:
#   - `portkey shake` builds the shim through the shaker (the anchor of the comparison);
#   - cargo builds the same generated shim crate with fat LTO, opt-level=z, codegen-units=1,
#     strip, for the same musl target, once with panic=unwind (what portkey ships, since the
#     runtime catches panics) and once with panic=abort (rustc's smallest configuration);
#   - every executable is zipped the same way (zip -9).
# The table goes to stdout and to benches/results/image-size.md.
#
# Usage: benches/image-size.sh [function ...]   (default: hello::flatter hello::render markdown::to_html)
set -euo pipefail
cd "$(dirname "$0")/.."

functions=("$@")
[ ${#functions[@]} -gt 0 ] || functions=(hello::flatter hello::render markdown::to_html)
manifest=fixtures/hello/Cargo.toml
triple=x86_64-unknown-linux-musl
portkey=target/release/portkey
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -x "$portkey" ] || cargo build --release --locked -p portkey-cli --bins >&2

zip_size() {
    rm -f "$work/z.zip"
    cp "$1" "$work/bootstrap"
    (cd "$work" && zip -q -9 -X z.zip bootstrap)
    stat -c %s "$work/z.zip"
}

rustc_build() { # manifest panic-strategy -> path of the executable
    local shim=$1 panic=$2 dir="$work/rustc-$2"
    CARGO_TARGET_DIR="$dir" \
    CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_STRIP=true \
    CARGO_PROFILE_RELEASE_PANIC="$panic" CARGO_PROFILE_RELEASE_DEBUG=false \
        cargo build -q --release --target "$triple" --manifest-path "$shim" >&2
    local bin
    bin=$(sed -n 's/^name = "\(.*\)"/\1/p' "$shim" | tail -1)
    echo "$dir/$triple/release/$bin"
}

command -v zip >/dev/null || { echo "error: the benchmark needs \`zip\`: apt-get install zip" >&2; exit 1; }

rows=()
for function in "${functions[@]}"; do
    echo "benchmarking $function" >&2
    json=$("$portkey" shake --fn "$function" --json --manifest-path "$manifest")
    shim=$(jq -r .shim <<<"$json")
    portkey_bin=$(jq -r .bootstrap <<<"$json")
    kept=$(jq -r .report.functions.kept <<<"$json")
    removed=$(jq -r .report.functions.removed <<<"$json")
    p_bin=$(stat -c %s "$portkey_bin")
    p_zip=$(zip_size "$portkey_bin")
    u_path=$(rustc_build "$shim" unwind)
    u_bin=$(stat -c %s "$u_path"); u_zip=$(zip_size "$u_path")
    a_path=$(rustc_build "$shim" abort)
    a_bin=$(stat -c %s "$a_path"); a_zip=$(zip_size "$a_path")
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
    rows+=("| \`$function\` | $kept / $removed | $p_bin | $p_zip | $u_bin | $(ratio "$p_bin" "$u_bin") | $a_bin | $(ratio "$p_bin" "$a_bin") | $a_zip |")
done

{
    echo "# Image size: portkey against rustc's fat LTO"
    echo
    echo "Made by \`benches/image-size.sh\` on $(date -u +%Y-%m-%d), $(rustc --version), target $triple,"
    echo "$(nproc) cores. Sizes in bytes; zips made with \`zip -9\` for every column. Ratios are"
    echo "portkey's executable over rustc's; below 1 means portkey ships less."
    echo
    echo "| function | functions kept / removed | portkey | portkey zip | fat LTO unwind | ratio | fat LTO abort | ratio | fat LTO abort zip |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} | tee benches/results/image-size.md
