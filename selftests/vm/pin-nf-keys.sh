#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest, before the tests: keep every IPv4/IPv6 netfilter hook's
# static key (nf_hooks_needed[pf][hook]) on for the whole run, with empty
# nft base chains on all five hooks in a netns of their own (no name, held
# by a sleeping process, so no test sees it). An inet chain registers its
# hook for IPv4 and IPv6 both (nf_register_net_hook()).
#
# Why: qemu 7.2's multi-threaded TCG (Debian 12's) can keep running a
# stale translation of a jump-label site that text_poke_bp() had turned
# into an int3 for a moment. Once the patch is over, the int3 handler
# finds no patch in progress, kprobes' handler sees no int3 in memory and
# backs the IP up to run the "removed" int3 again: the vCPU loops there
# for good (soft lockup in ip_local_deliver+0x5c at asm_exc_int3). Any
# key flip under traffic can do it: tcg-smc-repro.sh does it without
# vpnflow loaded, by adding and deleting an nft input chain while TCP
# flows, in under a minute. The tests register and unregister hooks
# (module load/unload, the hold hooks, conntrack's own) under traffic all
# the time; with the keys pinned on, none of that patches kernel text.
# Nothing changes for the hooks themselves: which ones run is per netns.
set -eu
ready=/run/vpnflow-nf-keys.ready
rm -f "$ready"
unshare --net sh -c '
	nft -f - <<-NFT || exit 1
	table inet pin {
		chain k_pre { type filter hook prerouting priority 0; }
		chain k_in { type filter hook input priority 0; }
		chain k_fwd { type filter hook forward priority 0; }
		chain k_out { type filter hook output priority 0; }
		chain k_post { type filter hook postrouting priority 0; }
	}
	NFT
	echo $$ > '"$ready"'
	exec sleep 2147483647 2>/dev/null
' </dev/null >/dev/null &
i=0
while [ ! -s "$ready" ]; do
	i=$((i + 1))
	[ "$i" -le 300 ] || { echo "pin-nf-keys: nft did not set up the pinning chains" >&2; exit 1; }
	sleep 0.1
done
