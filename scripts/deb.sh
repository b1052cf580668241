#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Build the Debian packages (debian/) from a clean copy of the tree:
# the files git knows, committed or not, and the new ones it does not
# ignore; no build output of the tree itself. In OUT, next to the copy,
# so that nothing lands beside the checkout: the source package (.dsc,
# .tar.xz: dpkg-source -b of the copy), then the .debs, .changes and
# .buildinfo of dpkg-buildpackage -us -uc -b. lintian OUT/*.dsc
# OUT/*.changes checks them all.
#
#   deb.sh [OUT]      (default build/deb; make deb)
#
# DEB_BUILD_OPTIONS as usual (default parallel=<cores>; nocheck skips
# vpnsysopt's tests).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
version=$(cat "$top/VERSION")
src=$out/vpnflow-$version

rm -rf "$out"
mkdir -p "$src"
out=$(cd "$out" && pwd)
src=$out/vpnflow-$version
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Deleted files git still lists are left out (tar warns, goes on).
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		tar -C "$top" --null -T - --ignore-failed-read -cf - 2>/dev/null |
		tar -C "$src" -xf -
else
	# A tree without git (an exported snapshot): its build output goes.
	tar -C "$top" --exclude=./build --exclude-vcs -cf - . | tar -C "$src" -xf -
	make -s -C "$src" clean >/dev/null
	rm -rf "$src/tools/fuzz/artifacts"
fi
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}"
cd "$out"
dpkg-source -b "vpnflow-$version"
cd "$src"
dpkg-buildpackage -us -uc -b
cd "$out"
rm -rf "$src"
ls -l "$out"
