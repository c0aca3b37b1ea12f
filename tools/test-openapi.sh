#!/usr/bin/env bash
# Checks the OpenAPI description against the real server: builds `gridsync`, starts
# `gridsync serve --demo` on a fresh SQLite file and a free port, signs in as the demo county
# admin and runs schemathesis (pinned, in its own virtualenv under target/) over every operation
# of /openapi.json with a fixed seed. Fails on any 5xx, and on any status, content type, header
# or JSON body the description does not declare. Each run works in its own
# target/openapi-run.XXXXXX/ (database, server output, schemathesis's HAR report), removed when
# it passes and kept when it fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
venv="$target_dir/openapi-env"
schemathesis_version="4.32.5"
# Examples per operation and phase: about 1,300 requests over the 15 operations in all.
max_examples="${GRIDSYNC_OPENAPI_EXAMPLES:-40}"
seed=20240518

echo "==> building the gridsync server" >&2
cargo build -q -p gridsync-server --bin gridsync
bin="$target_dir/debug/gridsync"

if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $schemathesis_version" ]]; then
    echo "==> installing schemathesis $schemathesis_version into $venv" >&2
    [[ -x "$venv/bin/pip" ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$schemathesis_version"
fi

# Its own directory: two runs at once must not remove each other's database and logs.
work="$(mktemp -d "$target_dir/openapi-run.XXXXXX")"
log="$work/server.log"
server_pid=""
stop_server() {
    local status=$?
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 ]]; then
        echo "test-openapi: failed; the server's log is $log (its stdout $work/server.out)" >&2
    else
        rm -rf "$work"
    fi
    exit $status
}
trap stop_server EXIT
# A signal ends the script through `exit`, so the EXIT trap stops the server then too.
trap 'exit 130' INT
trap 'exit 143' TERM

# SMS settings, so `/v1/sms/inbound` is live (its gateway is a closed port: deliveries fail and
# are retried, which this test does not look at).
cat >"$work/sms.toml" <<'TOML'
[gateway]
url = "http://127.0.0.1:9/send"
body = '{"to": "{to}", "text": "{text}", "id": "{id}"}'
[inbound]
token = "openapi-inbound-token"
TOML
echo "==> starting gridsync serve --demo (log: $log)" >&2
# Both streams go to files: a pipe nobody reads would stall the server once full.
DATABASE_URL="sqlite://$work/gridsync.db" RUST_LOG=info \
    "$bin" serve --demo --listen 127.0.0.1:0 --blob-store "$work/blobs" --supervise-every 0 \
    --sms-config "$work/sms.toml" \
    >"$work/server.out" 2>"$log" &
server_pid=$!
url=""
for _ in $(seq 1 360); do
    url="$(sed -n 's/^gridsync listening on //p' "$work/server.out")"
    [[ -n "$url" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "error: gridsync serve exited" >&2; exit 1; }
    sleep 0.5
done
[[ -n "$url" ]] || { echo "error: gridsync serve did not start within 180 s" >&2; exit 1; }

token="$(python3 tests/openapi/sign_in.py "$url" "$work/server.out" county.admin)"

echo "==> schemathesis $schemathesis_version against $url/openapi.json (seed $seed, $max_examples examples per operation)" >&2
started=$SECONDS
# Run from $work: schemathesis and hypothesis keep caches (and past crashes to replay) in the
# working directory, and each run starts afresh.
cd "$work"
PYTHONPATH="$root/tests/openapi" SCHEMATHESIS_HOOKS=gridsync_hooks \
    "$venv/bin/schemathesis" run "$url/openapi.json" \
    --url "$url" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --seed "$seed" \
    --max-examples "$max_examples" \
    --workers 1 \
    --generation-database none \
    --request-timeout 30 \
    --no-color \
    --report har --report-dir "$work/report"
echo "==> schemathesis passed in $((SECONDS - started)) s" >&2
