#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl --strict on the module's sources. checkpatch comes from
# Debian's linux-source package (extracted once into a cache).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-checkpatch
cp=$cache/scripts/checkpatch.pl
if [ ! -x "$cp" ]; then
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
	[ -n "$tarball" ] || { echo "style: install linux-source (for checkpatch.pl)" >&2; exit 1; }
	mkdir -p "$cache"
	base=$(basename "$tarball" .tar.xz)
	tar -C "$cache" -xJf "$tarball" --strip-components=1 \
		"$base/scripts/checkpatch.pl" "$base/scripts/spelling.txt" \
		"$base/scripts/const_structs.checkpatch"
fi
files=$(ls kmod/*.c kmod/*.h kmod/compat/*.h kmod/compat/probes/*.c | grep -v '\.mod\.c$')
# FILE_PATH_CHANGES/GIT_COMMIT_ID only make sense for patches to the tree.
"$cp" --no-tree --strict --terse --show-types --color=never \
	--ignore FILE_PATH_CHANGES,GIT_COMMIT_ID,SPDX_LICENSE_TAG \
	-f $files >"$cache/out" 2>&1 || true
cat "$cache/out"
# Clean means no ERROR, WARNING or (--strict) CHECK at all.
if grep -qE ': ?(ERROR|WARNING|CHECK):' "$cache/out"; then exit 1; fi
echo "style: checkpatch clean"
