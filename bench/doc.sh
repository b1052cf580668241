#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# doc.sh TABLE.md DOC.md: replace what stands between the "bench:begin" and
# "bench:end" markers of DOC.md with TABLE.md.
set -eu
table=$1 doc=$2
[ -s "$table" ] || { echo "doc.sh: no table at $table (run make bench first)" >&2; exit 1; }
grep -q '<!-- bench:begin -->' "$doc" && grep -q '<!-- bench:end -->' "$doc" ||
	{ echo "doc.sh: $doc has no bench:begin/bench:end markers" >&2; exit 1; }
tmp=$(mktemp)
awk -v table="$table" '
	/<!-- bench:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
	/<!-- bench:end -->/ { skip = 0 }
	!skip { print }
' "$doc" >"$tmp"
mv "$tmp" "$doc"
echo "doc.sh: $doc updated from $table"
