#!/usr/bin/env bash
# Sourced by tools/test-js.sh and tools/test-console.sh with $target_dir set: installs the
# JavaScript Automerge (pinned in tests/js/package-lock.json) into $target_dir/js, once per
# version of the lock file, and sets `js` to that directory. The scripts that use it run from
# there, beside node_modules, so Node resolves the package.

js="$target_dir/js"
mkdir -p "$js"
if ! cmp -s tests/js/package-lock.json "$js/package-lock.json" ||
    [[ ! -d "$js/node_modules/@automerge/automerge" ]]; then
    echo "==> installing @automerge/automerge into $js" >&2
    cp tests/js/package.json tests/js/package-lock.json "$js/"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
fi
