#!/usr/bin/env bash
# Memory of `gridsync serve --demo` once seeding is done: peak (VmHWM) and settled (VmRSS)
# resident set, read from /proc/PID/status (docs/BENCHMARKS.md, "Demo memory").
#
#   tools/demo-rss.sh [--release] [--bin PATH] [--settle SECONDS] [--heaptrack]
#
# Builds the binary with cargo (debug by default, as the README runs it) unless --bin names one,
# starts it on a fresh SQLite file and blob directory in a temporary directory, listening on a
# free port, waits for the "listening" line (printed after the demo is seeded), waits --settle
# seconds (default 2), prints one line of figures and stops the server. Extra environment (e.g.
# MALLOC_ARENA_MAX=1) is passed through to the server. --heaptrack runs the server under
# heaptrack and leaves its profile in the temporary directory (printed), for `heaptrack_print`;
# it sees only glibc malloc, so profile a build without the binary's jemalloc (ADR 0021).
set -euo pipefail

cd "$(dirname "$0")/.."
profile=debug
bin=
settle=2
wrap=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --release) profile=release ;;
        --bin) bin="$2"; shift ;;
        --settle) settle="$2"; shift ;;
        --heaptrack) wrap=(heaptrack -o) ;;
        *) echo "usage: $0 [--release] [--bin PATH] [--settle SECONDS] [--heaptrack]" >&2; exit 2 ;;
    esac
    shift
done
if [[ -z "$bin" ]]; then
    flags=()
    [[ $profile == release ]] && flags=(--release)
    cargo build -q "${flags[@]}" -p gridsync-server --bin gridsync
    bin="target/$profile/gridsync"
fi

tmp=$(mktemp -d)
pid=
target=
cleanup() {
    # Under heaptrack, stop the server itself: heaptrack's script then writes its profile.
    [[ -n "$target" && "$target" != "$pid" ]] && kill -TERM "$target" 2>/dev/null
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    [[ ${#wrap[@]} -gt 0 ]] || rm -rf "$tmp"
}
trap cleanup EXIT

args=(--database-url "sqlite://$tmp/demo.db" serve --demo --listen 127.0.0.1:0
    --blob-store "$tmp/blobs")
[[ ${#wrap[@]} -gt 0 ]] && wrap+=("$tmp/heaptrack")
start=$(date +%s.%N)
RUST_LOG=warn "${wrap[@]}" "$bin" "${args[@]}" >"$tmp/out" 2>"$tmp/err" &
pid=$!
# Under heaptrack the server is heaptrack's child: measure the server itself.
if [[ ${#wrap[@]} -gt 0 ]]; then
    for _ in $(seq 100); do
        for c in $(pgrep -P "$pid" || true); do
            [[ $(readlink -f "/proc/$c/exe" 2>/dev/null) == "$(readlink -f "$bin")" ]] && child=$c
        done
        [[ -n "${child:-}" ]] && break
        sleep 0.1
    done
    target=${child:?heaptrack did not start gridsync}
else
    target=$pid
fi

# Seeding takes seconds in release, a minute or more in a debug build on two busy cores.
for _ in $(seq 6000); do
    grep -q '^gridsync listening on ' "$tmp/out" && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "the server stopped:" >&2
        cat "$tmp/err" >&2
        exit 1
    fi
    sleep 0.1
done
grep -q '^gridsync listening on ' "$tmp/out" || { echo "no listening line after 600 s" >&2; exit 1; }
seeded=$(date +%s.%N)
sleep "$settle"

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$target/status"; }
hwm=$(kib VmHWM)
rss=$(kib VmRSS)
anon=$(kib RssAnon)
file=$(kib RssFile)
threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$target/status")
summary=$(grep -o '([0-9]* cases, [0-9]* changes, [0-9]* conflicts)' "$tmp/out" || echo '(nothing seeded?)')
printf '%s: peak (VmHWM) %d MiB, settled (VmRSS, %ss after listening) %d MiB (anonymous %d, file %d); start to listening %.1f s; %s threads; %s\n' \
    "$bin" $((hwm / 1024)) "$settle" $((rss / 1024)) $((anon / 1024)) $((file / 1024)) \
    "$(awk -v a="$start" -v b="$seeded" 'BEGIN { print b - a }')" "$threads" "$summary"
if [[ ${#wrap[@]} -gt 0 ]]; then
    echo "heaptrack profile: $(ls "$tmp"/heaptrack* 2>/dev/null || echo "$tmp/heaptrack.*")"
fi
