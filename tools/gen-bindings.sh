#!/usr/bin/env bash
# Builds gridsync-ffi and generates its Kotlin, Swift and Python bindings into OUT_DIR.
#
#   tools/gen-bindings.sh OUT_DIR [--release]
#
# OUT_DIR/kotlin, OUT_DIR/swift and OUT_DIR/python receive the bindings; the built library
# (libgridsync_ffi.so / .dylib) is copied into OUT_DIR/python so the Python module loads it.
# Cross-compiling for Android (cargo-ndk) and iOS (xcframework) is the app team's build step.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
    echo "usage: $0 OUT_DIR [--release]" >&2
    exit 2
fi
out="$1"
profile=debug
cargo_flags=()
if [[ "${2:-}" == "--release" ]]; then
    profile=release
    cargo_flags=(--release)
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

echo "==> building gridsync-ffi ($profile)" >&2
cargo build -q -p gridsync-ffi "${cargo_flags[@]}"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
lib=""
for candidate in libgridsync_ffi.so libgridsync_ffi.dylib gridsync_ffi.dll; do
    if [[ -f "$target_dir/$profile/$candidate" ]]; then
        lib="$target_dir/$profile/$candidate"
        break
    fi
done
if [[ -z "$lib" ]]; then
    echo "error: no gridsync_ffi library in $target_dir/$profile" >&2
    exit 1
fi

mkdir -p "$out"
for language in kotlin swift python; do
    echo "==> generating $language bindings into $out/$language" >&2
    # --no-format: ktlint and swiftformat are not needed to generate (or present here).
    cargo uniffi-bindgen generate --no-format --language "$language" --out-dir "$out/$language" "$lib"
done
cp "$lib" "$out/python/"
echo "==> bindings ready in $out" >&2
