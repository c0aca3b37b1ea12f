#!/usr/bin/env bash
# Checks the Debian package (ADR 0034): builds it from the debug binary (tools/build-deb.sh; no
# release build), then
#   - its contents: the binary, the unit, the configuration and secrets files with their modes;
#   - its control file: fields, conffiles, maintainer scripts;
#   - the unit with `systemd-analyze verify` against the extracted package (any warning fails,
#     and a misspelt copy of the unit must fail the same check), and its exposure with
#     `systemd-analyze security --offline`, held at its present score;
#   - the shipped gridsync.toml with `gridsync config check`;
#   - the maintainer scripts, by installing into a throwaway root (dpkg --root, scripts run
#     with DPKG_ROOT), upgrading over an operator's edit of the configuration, and purging.
# Installs dpkg-dev, binutils and systemd with apt-get when a tool is missing. Works in
# target/deb-test.XXXXXX/, removed when it passes and kept when it fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# The most exposure `systemd-analyze security` may report for the unit, in tenths as its
# --threshold takes it, on its scale from 0 (best) to 100: the unit's own score today (1.2), so
# dropping any hardening option fails (lower it when the unit gets tighter).
max_exposure_tenths=12

missing=()
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
command -v objcopy >/dev/null || missing+=(binutils)
command -v systemd-analyze >/dev/null || missing+=(systemd)
if ((${#missing[@]})); then
    echo "==> installing ${missing[*]}" >&2
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
fi

deb="$(tools/build-deb.sh)"
echo "==> checking $deb" >&2

work="$(mktemp -d "$target_dir/deb-test.XXXXXX")"
finish() {
    local status=$?
    if [[ $status -ne 0 ]]; then
        echo "test-deb: failed; its files are in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $status
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    echo "test-deb: $*" >&2
    exit 1
}

# --- contents: path, mode and owner of what an operator relies on
dpkg-deb --contents "$deb" >"$work/contents"
expect_entry() {
    local mode=$1 path=$2
    awk -v m="$mode" -v p="./$path" '$1 == m && $2 == "root/root" && $6 == p { found = 1 } END { exit !found }' \
        "$work/contents" || fail "the package lacks $path as $mode root/root; it has:
$(cat "$work/contents")"
}
expect_entry -rwxr-xr-x usr/bin/gridsync
expect_entry -rwxr-xr-x usr/sbin/gridsync-admin
expect_entry -rw-r--r-- usr/lib/systemd/system/gridsync.service
expect_entry -rw-r--r-- usr/lib/sysusers.d/gridsync.conf
expect_entry -rw-r--r-- usr/lib/tmpfiles.d/gridsync.conf
expect_entry -rw-r----- etc/gridsync/gridsync.toml
expect_entry -rw------- etc/gridsync/gridsync.env
expect_entry -rw-r--r-- usr/share/doc/gridsync/copyright

# --- control file
dpkg-deb --control "$deb" "$work/control"
! grep -n '@[A-Z_]*@' "$work/control/control" || fail "the control file kept a placeholder"
[[ "$(dpkg-deb --field "$deb" Package)" == gridsync ]] || fail "Package is not gridsync"
[[ "$(dpkg-deb --field "$deb" Architecture)" == "$(dpkg --print-architecture)" ]] || fail "wrong Architecture"
depends="$(dpkg-deb --field "$deb" Depends)"
for dep in libc6 systemd init-system-helpers; do
    [[ "$depends" == *"$dep"* ]] || fail "Depends lacks $dep: $depends"
done
[[ "$(dpkg-deb --field "$deb" Version)" == *~debug ]] || fail "the debug package's version lacks ~debug"
diff <(sort "$work/control/conffiles") <(printf '%s\n' /etc/gridsync/gridsync.env /etc/gridsync/gridsync.toml) ||
    fail "conffiles must list exactly the configuration and the secrets file"
for script in postinst prerm postrm; do
    [[ -x "$work/control/$script" ]] || fail "$script is missing or not executable"
    sh -n "$work/control/$script" || fail "$script is not valid sh"
done

# --- the unit, verified against the extracted package plus the host's own units (the targets
# it orders itself after); ExecStart's binary must exist and be executable there.
extracted="$work/root"
dpkg-deb --extract "$deb" "$extracted"
sh -n "$extracted/usr/sbin/gridsync-admin" || fail "gridsync-admin is not valid sh"
unit_dir=/usr/lib/systemd/system
[[ -f "$unit_dir/multi-user.target" ]] || unit_dir=/lib/systemd/system
mkdir -p "$extracted/usr/lib/systemd/system"
cp -rn "$unit_dir/." "$extracted/usr/lib/systemd/system/"
verify() {
    # systemd-analyze reports a misspelt key or a bad value as a warning and exits 0: any
    # output is a failure here.
    local unit=$1 out
    if ! out="$(systemd-analyze verify --root="$extracted" "$unit" 2>&1)"; then
        printf '%s\n' "$out"
        return 1
    fi
    [[ -z "$out" ]] || {
        printf '%s\n' "$out"
        return 1
    }
}
verify gridsync.service || fail "systemd-analyze verify refused gridsync.service"
# The check must catch a mistake: a copy with a misspelt key and one with a bad value.
unit="$extracted/usr/lib/systemd/system/gridsync.service"
sed 's/^ProtectSystem=/ProtectSytem=/' "$unit" >"${unit%.service}-typo.service"
sed 's/^ProtectSystem=strict/ProtectSystem=strikt/' "$unit" >"${unit%.service}-value.service"
for broken in gridsync-typo.service gridsync-value.service; do
    if verify "$broken" >"$work/$broken.out"; then
        fail "systemd-analyze verify accepted the broken $broken"
    fi
    rm "${unit%gridsync.service}$broken"
done

systemd-analyze security --offline=true --root="$extracted" --threshold="$max_exposure_tenths" \
    gridsync.service >"$work/security" 2>&1 ||
    fail "the unit's exposure is over $max_exposure_tenths tenths: $(tail -1 "$work/security")"
echo "==> $(grep 'Overall exposure level' "$work/security")" >&2

# --- the shipped configuration, read by the packaged binary alone (no variable from this shell)
env -i PATH="$PATH" "$extracted/usr/bin/gridsync" --config "$extracted/etc/gridsync/gridsync.toml" \
    config check >"$work/config-check" 2>&1 || fail "config check refused the shipped gridsync.toml:
$(cat "$work/config-check")"
for line in \
    'database_url = "sqlite:///var/lib/gridsync/gridsync.db"  # file' \
    'listen = "127.0.0.1:8080"  # file' \
    'blob_store = "/var/lib/gridsync/blobs"  # file'; do
    grep -qxF "$line" "$work/config-check" || fail "config check lacks '$line':
$(cat "$work/config-check")"
done

# --- maintainer scripts: install, upgrade, purge in a throwaway root. The scripts run outside
# it with DPKG_ROOT set; dependencies are not installed there.
dr="$work/dpkg-root"
mkdir -p "$dr/var/lib/dpkg/info" "$dr/var/lib/dpkg/updates" "$dr/var/log"
touch "$dr/var/lib/dpkg/status"
dpkg_in_root() {
    dpkg --root="$dr" --force-script-chrootless --force-depends --force-confold "$@" \
        >>"$work/dpkg.log" 2>&1 || fail "dpkg $* failed:
$(cat "$work/dpkg.log")"
}
dpkg_in_root --install "$deb"
uid="$(awk -F: '$1 == "gridsync" { print $3 }' "$dr/etc/passwd")"
gid="$(awk -F: '$1 == "gridsync" { print $3 }' "$dr/etc/group")"
[[ -n "$uid" && -n "$gid" ]] || fail "postinst made no user and group gridsync"
[[ "$(stat -c '%a %u %g' "$dr/var/lib/gridsync")" == "750 $uid $gid" ]] ||
    fail "/var/lib/gridsync is $(stat -c '%a %u %g' "$dr/var/lib/gridsync"), not 750 gridsync:gridsync"
toml_mode() { stat -c '%a %u %g' "$dr/etc/gridsync/gridsync.toml"; }
[[ "$(toml_mode)" == "640 0 $gid" ]] || fail "gridsync.toml is $(toml_mode), not 640 root:gridsync"
[[ "$(stat -c '%a %u %g' "$dr/etc/gridsync/gridsync.env")" == "600 0 0" ]] || fail "gridsync.env is not 600 root:root"
# A link into the throwaway root's /usr dangles from here: test the link, not its target.
wants="$dr/etc/systemd/system/multi-user.target.wants/gridsync.service"
[[ ! -L "$wants" ]] || fail "a first install enabled the service"

# The operator enables it and edits the configuration; an upgrade keeps both and hands the
# file back to the group gridsync.
systemctl --root="$dr" --quiet enable gridsync.service
[[ -L "$wants" ]] || fail "systemctl enable did not enable the service in the throwaway root"
sed -i 's/^listen = .*/listen = "127.0.0.1:9090"/' "$dr/etc/gridsync/gridsync.toml"
chown 0:0 "$dr/etc/gridsync/gridsync.toml"
dpkg_in_root --install "$deb"
grep -qxF 'listen = "127.0.0.1:9090"' "$dr/etc/gridsync/gridsync.toml" || fail "the upgrade replaced the operator's gridsync.toml"
[[ "$(toml_mode)" == "640 0 $gid" ]] || fail "after the upgrade gridsync.toml is $(toml_mode), not 640 root:gridsync"
[[ -L "$wants" ]] || fail "the upgrade disabled the service"

touch "$dr/var/lib/gridsync/gridsync.db"
dpkg_in_root --purge gridsync
[[ ! -e "$dr/usr/bin/gridsync" && ! -e "$dr/etc/gridsync" ]] || fail "purge left the binary or /etc/gridsync"
[[ ! -L "$wants" ]] || fail "purge left the service enabled"
[[ -f "$dr/var/lib/gridsync/gridsync.db" ]] || fail "purge deleted the county's database"

echo "==> the package passed: contents, control, unit, security, configuration, install/upgrade/purge" >&2
