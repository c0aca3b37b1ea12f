#!/usr/bin/env bash
# Builds the Debian package of the gridsync server with dpkg-deb from packaging/deb/ (ADR 0034)
# and prints its path on standard output.
#
#   tools/build-deb.sh            the debug binary the test command builds anyway (version
#                                 X.Y.Z~debug, gzip -1: quick), for tools/test-deb.sh
#   tools/build-deb.sh --release  the package to install: a release build without the demo
#                                 county (--no-default-features), xz-compressed
#
# The package goes to target/debian/<profile>/gridsync_<version>_<arch>.deb. Both are stripped
# of debug information, not of symbols, so a panic's backtrace still names functions.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

profile=debug
cargo_flags=()
compression=(-Zgzip -z1)
case "${1:-}" in
    "") ;;
    --release)
        profile=release
        cargo_flags=(--release --no-default-features)
        compression=(-Zxz)
        ;;
    *)
        echo "usage: tools/build-deb.sh [--release]" >&2
        exit 2
        ;;
esac

for tool in dpkg-deb dpkg-shlibdeps objcopy; do
    command -v "$tool" >/dev/null || {
        echo "error: $tool is missing (Debian packages dpkg-dev and binutils; tools/test-deb.sh installs them)" >&2
        exit 1
    }
done

# The target directory and the package's version, one a line.
{
    read -r target_dir
    read -r version
} < <(cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
m = json.load(sys.stdin)
p = next(p for p in m["packages"] if p["name"] == "gridsync-server")
print(m["target_directory"], p["version"], sep="\n")')
[[ "$profile" == release ]] || version="$version~debug"
arch="$(dpkg --print-architecture)"

echo "==> building gridsync ($profile)" >&2
cargo build -q -p gridsync-server --bin gridsync "${cargo_flags[@]}"

out="$target_dir/debian/$profile"
stage="$out/gridsync"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
pkg=packaging/deb

# Binary, unit and helpers; the configuration is root-only until postinst hands its group to
# the service's user; the secrets file stays root-only.
install -d "$stage/usr/bin" "$stage/usr/sbin"
objcopy --strip-debug "$target_dir/$profile/gridsync" "$stage/usr/bin/gridsync"
chmod 0755 "$stage/usr/bin/gridsync"
install -m 0755 "$pkg/gridsync-admin" "$stage/usr/sbin/gridsync-admin"
install -D -m 0644 "$pkg/gridsync.service" "$stage/usr/lib/systemd/system/gridsync.service"
install -D -m 0644 "$pkg/sysusers.conf" "$stage/usr/lib/sysusers.d/gridsync.conf"
install -D -m 0644 "$pkg/tmpfiles.conf" "$stage/usr/lib/tmpfiles.d/gridsync.conf"
install -D -m 0640 "$pkg/gridsync.toml" "$stage/etc/gridsync/gridsync.toml"
install -D -m 0600 "$pkg/gridsync.env" "$stage/etc/gridsync/gridsync.env"
install -D -m 0644 "$pkg/copyright" "$stage/usr/share/doc/gridsync/copyright"
install -D -m 0644 README.md "$stage/usr/share/doc/gridsync/README.md"

# Shared-library dependencies as Debian computes them (libc6, libgcc-s1 for unwinding);
# dpkg-shlibdeps wants a debian/control to read, which a one-package stub satisfies.
shlibs_dir="$out/shlibs"
rm -rf "$shlibs_dir"
mkdir -p "$shlibs_dir/debian"
printf 'Source: gridsync\n\nPackage: gridsync\nArchitecture: any\n' >"$shlibs_dir/debian/control"
shlibs="$(cd "$shlibs_dir" && dpkg-shlibdeps -O "$stage/usr/bin/gridsync" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
rm -rf "$shlibs_dir"
[[ -n "$shlibs" ]] || {
    echo "error: dpkg-shlibdeps found no library dependencies for gridsync" >&2
    exit 1
}

installed_size="$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@SHLIBS@|$shlibs|" \
    "$pkg/control" >"$stage/DEBIAN/control"
install -m 0644 "$pkg/conffiles" "$stage/DEBIAN/conffiles"
install -m 0755 "$pkg/postinst" "$pkg/prerm" "$pkg/postrm" "$stage/DEBIAN/"
# Conffiles are left out, as dh_md5sums does: dpkg keeps their sums itself.
(cd "$stage" && find . \( -path ./DEBIAN -o -path ./etc \) -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    >"$stage/DEBIAN/md5sums"

deb="$out/gridsync_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compression[@]}" --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
echo "$deb"
