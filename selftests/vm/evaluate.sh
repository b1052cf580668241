#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Judge one VM run from its results folder (see run-vm.sh):
#  - the guest runner's "# Totals:" line must be there (else: crash/timeout),
#  - the guest's kernel log must be free of warnings, BUGs, oopses,
#    lockdep/KASAN/UBSAN/kmemleak reports, RCU stalls and hung tasks
#    (the out-of-tree/unsigned-module taint notices aside).
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
splat+='sleeping function called from invalid context|scheduling while atomic)'
benign='(loading out-of-tree module taints kernel|module verification failed|kmemleak: Kernel memory leak detector|kmemleak: Automatic memory scanning)'
found=$(cat "$dir/dmesg" "$dir/console.log" 2>/dev/null | grep -E "$splat" | grep -vE "$benign" |
	grep -vE '^# ' | sort -u | head -n 20)
if [ -n "$found" ]; then
	echo "# evaluate: the guest kernel reported problems:"
	echo "$found" | sed 's/^/#   /'
	problems=$((problems + 1))
fi
fail=$((fail + problems))
echo "pass:$pass fail:$fail skip:$skip"
[ "$fail" = 0 ]
