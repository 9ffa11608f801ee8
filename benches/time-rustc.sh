#!/usr/bin/env bash
# RUSTC_WORKSPACE_WRAPPER of benches/image_size.py: runs rustc with its arguments and appends
# "<crate name> <wall milliseconds>" to $PORTKEY_BENCH_RUSTC_LOG for each compilation.
rustc=$1
shift
crate=
previous=
for argument in "$@"; do
    [ "$previous" = "--crate-name" ] && crate=$argument
    previous=$argument
done
start=$(date +%s%N)
"$rustc" "$@"
status=$?
end=$(date +%s%N)
if [ -n "$crate" ] && [ -n "${PORTKEY_BENCH_RUSTC_LOG:-}" ]; then
    echo "$crate $(( (end - start) / 1000000 ))" >> "$PORTKEY_BENCH_RUSTC_LOG"
fi
exit $status
