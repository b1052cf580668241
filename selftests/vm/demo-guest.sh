#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo, inside the VM: the same download across the same tunnel flap,
# three times (stock Linux, vpnflow with preserve-vpn-flows off, on), then
# the outcome side by side. See selftests/lib-ipsec.sh for the topology.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib-ipsec.sh"
trap - EXIT
trap _run_defer EXIT
tmp=$(mktemp -d)
defer rm -rf "$tmp"
expect=$(python3 "$XFER" expect "$XFER_BYTES" | cut -d' ' -f2)

cat <<EOT

vpnflow demo
============
client (site A) downloads $((XFER_BYTES / 1000)) kB from server (site B) at $((XFER_RATE / 1000)) kB/s
through a strongSwan IKEv2 tunnel between two hardened gateways
(nf_conntrack_tcp_loose=0, 10 s max_retrans/unacknowledged timeouts,
FORWARD DROP, INVALID dropped, MASQUERADE for unprotected traffic).
Mid-download the WAN fails: DPD clears the tunnel, the outage lasts
$OUTAGE_EXTRA s more, then the WAN is back and the tunnel is re-initiated.

EOT
# Each step of a run as it happens (the scenario's own output is kept out
# of the way): make demo shows these lines while the VM runs. Written
# through /proc, not an inherited descriptor: a daemon of the scenario
# that kept one would keep this script's output open after it ends.
out=/proc/$$/fd/1
flap_progress() { echo "    $*" >"$out"; }
for mode in none off on; do
	case $mode in
	none) echo "run 1/3: stock Linux (module not loaded) ..." ;;
	off) echo "run 2/3: vpnflow_preserve loaded, no sysopt connection preserve-vpn-flows ..." ;;
	on) echo "run 3/3: vpnflow_preserve loaded, sysopt connection preserve-vpn-flows ..." ;;
	esac
	[ "$mode" = none ] && vpnflow_unload
	flap_scenario "$mode" "$tmp" >/dev/null 2>&1
	[ "$mode" = on ] && vpnflow_unload
done

field() { cut -d' ' -f"$2" "$tmp/$1.xfer" 2>/dev/null || echo 0; }
outcome()
{
	local n sum secs
	n=$(field "$1" 1)
	sum=$(field "$1" 2)
	secs=$(field "$1" 3)
	if [ "$n" = "$XFER_BYTES" ] && [ "$sum" = "$expect" ]; then
		echo "complete, sha256 ok (${secs%.*} s)"
	else
		echo "DEAD at $((n / 1000)) kB"
	fi
}
ct() { grep -q 'dport=5001' "$tmp/$1.ct-outage" 2>/dev/null && awk '/dport=5001/ { print $4 ", " $3 " s" }' "$tmp/$1.ct-outage" | head -n 1 || echo "gone"; }
cnt() { json_get "$3" "$tmp/$1.cnt-$2" || echo -; }
logged() { grep -q 302014 "$tmp/$1.dmesg" && echo "302014 Teardown TCP" || echo "-"; }

echo
printf '%-34s %-24s %-24s %-24s\n' "" "stock Linux" "preserve-vpn-flows off" "preserve-vpn-flows on"
printf '%-34s %-24s %-24s %-24s\n' "download" "$(outcome none)" "$(outcome off)" "$(outcome on)"
printf '%-34s %-24s %-24s %-24s\n' "cleartext packets on the WAN" "$(cat "$tmp/none.leaks")" "$(cat "$tmp/off.leaks")" "$(cat "$tmp/on.leaks")"
printf '%-34s %-24s %-24s %-24s\n' "gwb conntrack entry in the outage" "$(ct none)" "$(ct off)" "$(ct on)"
printf '%-34s %-24s %-24s %-24s\n' "flows preserved / resumed (gwb)" "-" "$(cnt off gwb flows_preserved) / $(cnt off gwb flows_resumed)" "$(cnt on gwb flows_preserved) / $(cnt on gwb flows_resumed)"
printf '%-34s %-24s %-24s %-24s\n' "packets held back (gwb)" "-" "$(cnt off gwb pkts_dropped)" "$(cnt on gwb pkts_dropped)"
printf '%-34s %-24s %-24s %-24s\n' "log" "-" "$(logged off)" "$(logged on)"
echo
grep -h 302014 "$tmp/off.dmesg" | sed 's/^\[[ 0-9.]*\] /  /' | head -n 2
echo
