#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the vpnsysopt fuzz harnesses (built by make -C tools fuzz) for a
# bounded number of inputs each, one after the other on one core, from the
# committed seed corpus (fuzz/corpus/HARNESS/, read only) with the keyword
# dictionary. KTAP output: one result per harness, after a "#" line with
# the inputs run, the speed, the coverage and the corpus reached.
#
#   fuzz/run.sh [-r RUNS] [-t SECONDS] [-s SEED] [-o DIR] [HARNESS...]
#     -r RUNS     inputs per harness (default 300000; 0: no limit, -t then)
#     -t SECONDS  time limit per harness (default 45)
#     -s SEED     libFuzzer's random seed (default: a new one, printed)
#     -o DIR      keep the corpus each harness grows in DIR/HARNESS/
#                 (default: a temporary folder, removed)
#     HARNESS     cmdline, file (default: both)
#   FUZZ_ARGS     more libFuzzer options, e.g. FUZZ_ARGS=-use_value_profile=1
#
# A crash, a leak, undefined behaviour, a broken invariant (fuzz/*.c) or
# an input slower than 10 s fails the harness: its input is kept in
# fuzz/artifacts/ and shown in base64, with the report's end.

set -u

here=$(cd "$(dirname "$0")" && pwd)
runs=300000
time=45
seed=
out=

while getopts r:t:s:o: o; do
	case $o in
	r) runs=$OPTARG ;;
	t) time=$OPTARG ;;
	s) seed=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
((runs > 0)) || runs=-1		# libFuzzer: -runs=0 runs the seeds only
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(cmdline file)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[[ -n $out ]] || out=$tmp/corpus
artifacts=$here/artifacts

# The longest input each may get: a -f line is up to 4096 characters, and
# "line too long" is past that.
declare -A max_len=([cmdline]=2048 [file]=8192)

# stat LOG FIELD: FIELD (cov, ft, corp) of the last status line, or "?".
stat() {
	local v

	v=$(sed -n "s/.*\\b$2: \\([0-9/a-zA-Z]*\\).*/\\1/p" "$1" | tail -n 1)
	echo "${v:-?}"
}

echo "KTAP version 1"
echo "1..${#harnesses[@]}"
pass=0
fail=0
num=0
for h in "${harnesses[@]}"; do
	num=$((num + 1))
	bin=$here/fuzz-$h
	seeds=$here/corpus/$h
	log=$tmp/$h.log

	if [[ ! -x $bin || ! -d $seeds || -z ${max_len[$h]:-} ]]; then
		echo "# fuzz-$h: no such harness, or not built (make -C tools fuzz)"
		echo "not ok $num fuzz-$h"
		fail=$((fail + 1))
		continue
	fi
	mkdir -p "$out/$h" "$artifacts"
	start=$(date +%s.%N)
	# shellcheck disable=SC2086
	"$bin" -runs="$runs" -max_total_time="$time" -max_len="${max_len[$h]}" \
		-timeout=10 -print_final_stats=1 -dict="$here/vpnsysopt.dict" \
		-artifact_prefix="$artifacts/$h-" ${seed:+-seed="$seed"} \
		${FUZZ_ARGS:-} "$out/$h" "$seeds" > "$log" 2>&1
	rc=$?
	end=$(date +%s.%N)

	used_seed=$(sed -n 's/^INFO: Seed: //p' "$log" | head -n 1)
	done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	new_units=$(sed -n 's/^stat::new_units_added: *//p' "$log")
	secs=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
	init=$(grep -m 1 'INITED' "$log")
	init_cov=$(echo "$init" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	init_ft=$(echo "$init" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	nseeds=$(find "$seeds" -type f | wc -l)
	speed=$(awk "BEGIN { if ($secs > 0 && \"${done_runs:-}\" != \"\")
			       printf \"%d\", ${done_runs:-0} / $secs; else print \"?\" }")
	corp=$(stat "$log" corp)
	printf '# fuzz-%s: %s runs in %s s (%s exec/s), seed %s; coverage: cov %s ft %s (the seeds alone: cov %s ft %s); corpus %s units, %s (%s seed files, %s new units)\n' \
		"$h" "${done_runs:-?}" "$secs" "$speed" "${used_seed:-?}" \
		"$(stat "$log" cov)" "$(stat "$log" ft)" "${init_cov:-?}" \
		"${init_ft:-?}" "${corp%%/*}" "${corp#*/}" "$nseeds" \
		"${new_units:-?}"
	if [[ $rc == 0 ]] && grep -q '^Done [0-9]* runs' "$log"; then
		echo "ok $num fuzz-$h"
		pass=$((pass + 1))
		continue
	fi
	echo "# fuzz-$h: exit $rc; the end of its report:"
	grep -vE '^(INFO|#[0-9]+\s)' "$log" | tail -n 40 | sed 's/^/#   /'
	for a in $(sed -n "s/.*Test unit written to \\(.*\\)/\\1/p" "$log"); do
		echo "# input kept in $a ($(wc -c < "$a") bytes), base64:"
		base64 -w 76 "$a" | sed 's/^/#   /'
		echo "# again: $bin $a"
	done
	echo "not ok $num fuzz-$h"
	fail=$((fail + 1))
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[[ $fail == 0 ]]
