#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Judge one VM run from its results folder (see run-vm.sh):
#  - the guest runner's "# Totals:" line must be there (else: crash/timeout),
#  - the guest's kernel log must be free of warnings, BUGs, oopses,
#    lockdep/KASAN/UBSAN/kmemleak reports, RCU stalls and hung tasks
#    (the out-of-tree/unsigned-module taint notices aside; kmemleak's
#    "N new suspected memory leaks" notice too: on the debug kernel
#    kmemleak.sh reads and judges the report).
# Prints the problems found and, last, "pass:N fail:N skip:N" counting the
# guest's test cases plus one failure per problem. Exit 0 only when clean.
#
#   evaluate.sh RESULTS_DIR
set -u
dir=$1
pass=0
fail=0
skip=0
problems=0

totals=$(grep -E '^# Totals: pass:[0-9]+ fail:[0-9]+' "$dir/output" 2>/dev/null | tail -n 1)
if [ -z "$totals" ]; then
	echo "# evaluate: no test totals from the guest (crash, panic or timeout)"
	problems=$((problems + 1))
else
	pass=$(echo "$totals" | sed -E 's/.*Totals: pass:([0-9]+).*/\1/')
	fail=$(echo "$totals" | sed -E 's/.* fail:([0-9]+).*/\1/')
	skip=$(echo "$totals" | sed -E 's/.* skip:([0-9]+).*/\1/')
fi
if [ ! -f "$dir/status" ]; then
	echo "# evaluate: the guest command did not finish"
	problems=$((problems + 1))
fi

# Kernel messages: the full log if the guest got to save it, and the
# console in any case (a panic never reaches the dmesg file).
splat='(WARNING:|BUG:|BUG |Oops|general protection fault|Kernel panic|Call Trace:|'
splat+='possible circular locking|possible recursive locking|inconsistent lock state|'
splat+='suspicious RCU usage|lockdep|KASAN:|UBSAN:|kmemleak:|unreferenced object|'
splat+='rcu_sched self-detected stall|rcu: INFO|soft lockup|hung_task|blocked for more than|'
splat+='list_add corruption|list_del corruption|refcount_t:|double free|use-after-free|'
splat+='sleeping function called from invalid context|scheduling while atomic|ODEBUG:)'
benign='(loading out-of-tree module taints kernel|module verification failed|kmemleak: Kernel memory leak detector|kmemleak: Automatic memory scanning'
benign+='|kmemleak: [0-9]+ new suspected memory leaks'
# the debug kernel's boot notices
benign+='|RCU lockdep checking is enabled|RCU callback double-/use-after-free debug is enabled)'
# kmsg: every message of the run, one record per line ("PRIO,SEQ,USEC,-;TEXT",
# continuation lines start with a space): as "[seconds] TEXT".
kmsg_text()
{
	grep -v '^ ' "$dir/kmsg" 2>/dev/null |
		awk '{ i = index($0, ";"); split(substr($0, 1, i - 1), h, ",");
		       printf "[%12.6f] %s\n", h[3] / 1e6, substr($0, i + 1) }'
}
# Without timestamps, each distinct line once, in order of appearance.
found=$( { kmsg_text; cat "$dir/dmesg" "$dir/console.log" 2>/dev/null; } | grep -vE '^# ' |
	sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' | grep -E "$splat" | grep -vE "$benign" |
	awk '!seen[$0]++' | head -n 40)
if [ -n "$found" ]; then
	echo "# evaluate: the guest kernel reported problems:"
	echo "$found" | sed 's/^/#   /'
	problems=$((problems + 1))
	# The first report with what follows it (its stack says where), from
	# the fullest log there is: CI output is all a failed run leaves.
	log=$(kmsg_text)
	[ -n "$log" ] || log=$(grep -vE '^# ' "$dir/dmesg" "$dir/console.log" 2>/dev/null)
	first=$(echo "$log" | grep -nE "$splat" | grep -vE "$benign" | head -n 1 | cut -d: -f1)
	if [ -n "$first" ]; then
		echo "# evaluate: the first report, with the 60 lines after it:"
		echo "$log" | sed -n "$((first > 5 ? first - 5 : 1)),$((first + 60))p" | sed 's/^/#   /'
	fi
fi
fail=$((fail + problems))
echo "pass:$pass fail:$fail skip:$skip"
[ "$fail" = 0 ]
