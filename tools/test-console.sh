#!/usr/bin/env bash
# Runs the browser tests of the review console: builds `gridsync` and the Python bindings (the
# tests play a grid worker's phone with them), installs Debian's Chromium and chromedriver if they
# are missing, installs the JavaScript Automerge into target/js (tools/js-deps.sh), and runs
# pytest + selenium against a real `gridsync serve --demo`. pytest, selenium, openpyxl and Pillow
# go into the virtualenv under target/ on first use. Screenshots land in
# target/console-screenshots.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
venv="$target_dir/pyenv"

if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    echo "==> installing chromium and chromium-driver" >&2
    if ! apt-get install -y -q --no-install-recommends chromium chromium-driver; then
        apt-get update -q
        apt-get install -y -q --no-install-recommends chromium chromium-driver
    fi
fi

# Without a Chinese font the screenshots show boxes for every character (the tests pass either way).
if command -v fc-list >/dev/null && [[ -z "$(fc-list :lang=zh 2>/dev/null)" ]]; then
    echo "==> installing a Chinese font for the screenshots" >&2
    apt-get install -y -q --no-install-recommends fonts-wqy-zenhei || echo "warning: no Chinese font; the screenshots will show boxes" >&2
fi

echo "==> building the gridsync server" >&2
cargo build -q -p gridsync-server --bin gridsync
tools/gen-bindings.sh "$target_dir/bindings"
[[ -s "$target_dir/bindings/python/gridsync_ffi.py" ]] || {
    echo "error: the Python bindings were not generated" >&2
    exit 1
}

[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c "import pytest, selenium, openpyxl, PIL" 2>/dev/null; then
    echo "==> installing pytest, selenium, openpyxl and Pillow into $venv" >&2
    "$venv/bin/pip" install -q "pytest>=8,<9" "selenium>=4,<5" "openpyxl>=3,<4" "pillow>=10,<12"
fi

# The tests also push cases as a phone with the JavaScript Automerge that bypasses the editor
# (tests/console/push_case.mjs): installed into target/js as for tools/test-js.sh, and run from
# there beside node_modules.
if ! command -v node >/dev/null; then
    echo "error: node is needed (tests/console/push_case.mjs)" >&2
    exit 1
fi
source tools/js-deps.sh
cp tests/js/gsyn.mjs tests/console/push_case.mjs "$js/"
export GRIDSYNC_JS="$js"

export GRIDSYNC_BIN="$target_dir/debug/gridsync"
export GRIDSYNC_BINDINGS="$target_dir/bindings/python"
export GRIDSYNC_SCREENSHOTS="$target_dir/console-screenshots"
mkdir -p "$GRIDSYNC_SCREENSHOTS"
# Exit code 5 means pytest collected no tests: that is a failure here, and pytest says so.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/console "$@"
