#!/usr/bin/env bash
# Prepares a fresh machine to build and test portkey, then builds it.
#
# - adds the x86_64 musl target through rustup (images are static musl executables; without
#   the target portkey falls back to static glibc and says so), and the aarch64 musl target for
#   `--arch arm64` images;
# - installs the Debian packages the tests call when they are missing (a C compiler for the final
#   link, musl-gcc for C code of dependencies, unzip, curl, and qemu-user-static, which runs arm64
#   images on an x86_64 machine);
# - builds the portkey executables in release mode into target/release.
#
# Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%12s %s\n' "$1" "$2" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed; install Rust with rustup (https://rustup.rs) and rerun" >&2
    exit 1
fi

musl=x86_64-unknown-linux-musl
if rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
    say Found "rust target $musl"
elif rustup target add "$musl" >&2; then
    say Installed "rust target $musl"
else
    say Warning "cannot add $musl: images will be static glibc executables (larger)"
fi

arm64=aarch64-unknown-linux-musl
if rustup target list --installed 2>/dev/null | grep -qx "$arm64"; then
    say Found "rust target $arm64"
elif rustup target add "$arm64" >&2; then
    say Installed "rust target $arm64"
else
    say Warning "cannot add $arm64: --arch arm64 images cannot be built"
fi

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# musl-gcc compiles the C code of dependencies (crates using `cc`) for the musl target.
command -v musl-gcc >/dev/null 2>&1 || missing+=(musl-tools)
# qemu-user runs arm64 images under the local backend when this machine is not arm64.
if [ "$(uname -m)" != aarch64 ]; then
    command -v qemu-aarch64-static >/dev/null 2>&1 || command -v qemu-aarch64 >/dev/null 2>&1 \
        || missing+=(qemu-user-static)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        say Installing "${missing[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        echo "error: missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

say Building "portkey (release)"
cargo build --release --locked -p portkey-cli --bins >&2
say Ready "target/release/portkey"
