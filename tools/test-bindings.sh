#!/usr/bin/env bash
# Runs the binding tests: builds `gridsync` and gridsync-ffi, generates the Kotlin, Swift and
# Python bindings (Kotlin and Swift must generate without error; tools/test-kotlin.sh compiles the
# Kotlin; Swift cannot be compiled here), and runs the pytest field day against a real server, over HTTPS with a self-signed certificate
# the tests make (the phones trust it through the library's configuration). pytest, Pillow (to
# make and read photos), cryptography (to make the certificate) and moto (an S3-compatible server
# for the bucket test) are installed into a virtualenv under target/ on first use.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
out="$target_dir/bindings"
venv="$target_dir/pyenv"

echo "==> building the gridsync server" >&2
cargo build -q -p gridsync-server --bin gridsync
rm -rf "$out"
tools/gen-bindings.sh "$out"
for f in "$out/kotlin/uniffi/gridsync_ffi/gridsync_ffi.kt" "$out/swift/gridsync_ffi.swift" "$out/python/gridsync_ffi.py"; do
    [[ -s "$f" ]] || { echo "error: $f was not generated" >&2; exit 1; }
done

if ! "$venv/bin/python" -c "import pytest, PIL, boto3, moto, cryptography" 2>/dev/null; then
    echo "==> installing pytest, Pillow, cryptography and moto (an S3 server for the bucket test) into $venv" >&2
    [[ -x "$venv/bin/pip" ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q "pytest>=8,<9" "pillow>=10,<12" "cryptography>=42" "moto[server]>=5,<6"
fi

export GRIDSYNC_BIN="$target_dir/debug/gridsync"
export GRIDSYNC_BINDINGS="$out/python"
# Exit code 5 means pytest collected no tests: that is a failure here, and pytest says so.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/bindings/python "$@"
