#!/usr/bin/env bash
# Runs the JavaScript interop test: builds `gridsync`, installs the JavaScript Automerge
# (pinned in tests/js/package-lock.json) into target/js, starts a real `gridsync serve` on a
# fresh SQLite file and a free port with two accounts, and runs tests/js/ with Node's test
# runner: cases and workflow steps written by JavaScript, pushed as a phone pushes them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

echo "==> building the gridsync server" >&2
cargo build -q -p gridsync-server --bin gridsync
bin="$target_dir/debug/gridsync"

# Sets js (target/js) and installs @automerge/automerge there.
source tools/js-deps.sh
# The tests run from beside node_modules, so Node resolves the package there.
cp tests/js/*.mjs "$js/"

if ! command -v sqlite3 >/dev/null; then
    echo "==> installing sqlite3 (the test reads the server's quarantine)" >&2
    apt-get install -y -q sqlite3 >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q sqlite3 >/dev/null; }
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    local status=$?
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -f "$work/server.log" ]]; then
        echo "==> the server's log" >&2
        cat "$work/server.log" >&2
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/gridsync.db"
export GRIDSYNC_PASSWORD="js-interop-Pa55"
export RUST_LOG="info,sqlx=warn"
"$bin" user add wang --role grid_worker --scope 130322/101/201/01 >/dev/null 2>>"$work/server.log"
"$bin" user add chen --role township_staff --scope 130322/101 >/dev/null 2>>"$work/server.log"

"$bin" serve --listen 127.0.0.1:0 --blob-store "$work/blobs" >>"$work/server.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 600); do
    url="$(sed -n 's/^gridsync listening on //p' "$work/server.log" | head -n 1)"
    [[ -n "$url" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "error: gridsync serve exited" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$url" ]] || { echo "error: gridsync serve did not say where it listens within 60 s" >&2; exit 1; }
echo "==> gridsync serve on $url" >&2

# Spec output for people; TAP to a file, to refuse a run that tested nothing.
GRIDSYNC_URL="$url" GRIDSYNC_DB="$work/gridsync.db" node --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$work/tap.txt" \
    "$js/interop.test.mjs"
passed="$(sed -n 's/^# pass //p' "$work/tap.txt")"
if [[ -z "$passed" || "$passed" -eq 0 ]]; then
    echo "error: no test ran" >&2
    exit 1
fi
