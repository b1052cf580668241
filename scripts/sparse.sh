#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# sparse (C=2: every file) on the module; any warning about our files fails.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kdir=${1:-/lib/modules/$(uname -r)/build}
command -v sparse >/dev/null || { echo "sparse: install sparse" >&2; exit 1; }
out=$(make -s -C "$kdir" M="$top" C=2 CHECK="sparse -Wno-decl" modules 2>&1) || { echo "$out"; exit 1; }
ours=$(echo "$out" | grep -E "^$top/(kmod|include)/.*(warning|error):" || true)
if [ -n "$ours" ]; then
	echo "$ours"
	exit 1
fi
echo "sparse: clean"
