#!/usr/bin/env bash
# Coverage-guided fuzzing of the code that reads untrusted bytes (ADR 0014), on stable Rust.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]     default: 30 seconds each, every target
#   tools/fuzz.sh 600 admission             a long run of one target
#   FUZZ_UPDATE_CORPUS=1 tools/fuzz.sh 600  also merge what was found into fuzz/corpus (cmin)
#   GRIDSYNC_FUZZ_STRICT=1 tools/fuzz.sh 60  panics caught inside Automerge count as crashes
#
# SECONDS is wall clock per target; the CPU time printed is what the fuzzer got of it.
#
# cargo-fuzz builds the targets with libFuzzer and SanitizerCoverage, which need only stable
# `-C` flags once the sanitizer is off (`-s none`; ASan would need `-Zsanitizer`, i.e. nightly
# or RUSTC_BOOTSTRAP). `-a` keeps debug assertions and overflow checks on in the optimised build.
# The targets run one after another, niced, on a scratch corpus under fuzz/target that starts
# from the committed one; crashers land in fuzz/artifacts/<target>/. A crasher, once fixed, is
# kept in fuzz/regressions/<target>/, which the ordinary test run replays.
set -euo pipefail

seconds="${1:-30}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
all=(envelope admission attachment content_range thumbnail)
targets=("${@:-${all[@]}}")
flags=(-s none -a)
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="fuzz/target/$triple/release"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
for t in "${targets[@]}"; do
    nice -n 10 cargo fuzz build "${flags[@]}" "$t"
done

status=0
summary=()
for t in "${targets[@]}"; do
    work="fuzz/target/corpus/$t"
    mkdir -p "$work" "fuzz/corpus/$t" "fuzz/artifacts/$t"
    log="fuzz/target/$t.log"
    # CPU time of the fuzzer alone (user + system), not the wall clock of a shared machine.
    TIMEFORMAT='%U %S'
    # New inputs go to the first directory; the others are read (a regressed crasher fails
    # at once).
    dirs=("$work" "fuzz/corpus/$t")
    [ ! -d "fuzz/regressions/$t" ] || dirs+=("fuzz/regressions/$t")
    { time nice -n 10 "$bin_dir/$t" -max_total_time="$seconds" -timeout=30 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
        "${dirs[@]}" >"$log" 2>&1; } 2>"fuzz/target/$t.time" || status=1
    read -r user sys <"fuzz/target/$t.time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", (u + s) / 60 }')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[bKM]*' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
    if [ "${FUZZ_UPDATE_CORPUS:-0}" = 1 ]; then
        cp -n "$work"/* "fuzz/corpus/$t/" 2>/dev/null || true
        # Minimised on edges, not hit counts: every covered edge stays, the corpus stays small.
        nice -n 10 cargo fuzz cmin "${flags[@]}" "$t" "fuzz/corpus/$t" -- -use_counters=0 \
            >>"$log" 2>&1
    fi
    committed=$(find "fuzz/corpus/$t" -type f | wc -l)
    line=$(printf '%-14s %6s CPU-min  %11s execs  corpus %s (committed %s files)  artifacts %s' \
        "$t" "$cpu" "${execs:-?}" "${corp:-?}" "$committed" "$crashes")
    echo "$line"
    summary+=("$line")
    [ "$crashes" = 0 ] || status=1
done

echo
echo "target         CPU time         executions  corpus (files/bytes)"
printf '%s\n' "${summary[@]}"
[ "$status" = 0 ] || echo "a target failed or left artifacts: see fuzz/target/<target>.log and fuzz/artifacts/" >&2
exit "$status"
