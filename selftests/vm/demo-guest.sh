#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo, inside the VM: the same download across the same tunnel flap,
# four times (stock Linux, vpnflow with preserve-vpn-flows off, on, on
# with fast-resume), then the outcome side by side. See
# selftests/lib-ipsec.sh for the topology.
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
# (Not named "out": flap_download has a local of that name, which
# flap_progress would see when it calls it.)
demo_tty=/proc/$$/fd/1
flap_progress() { echo "    $*" >"$demo_tty"; }
for mode in none off on; do
	case $mode in
	none) echo "run 1/4: stock Linux (module not loaded) ..." ;;
	off) echo "run 2/4: vpnflow_preserve loaded, no sysopt connection preserve-vpn-flows ..." ;;
	on) echo "run 3/4: vpnflow_preserve loaded, sysopt connection preserve-vpn-flows ..." ;;
	esac
	[ "$mode" = none ] && vpnflow_unload
	flap_scenario "$mode" "$tmp" >/dev/null 2>&1
done
echo "run 4/4: vpnflow_preserve loaded, sysopt connection preserve-vpn-flows fast-resume ..."
mkdir -p "$tmp/fr"
(
	flap_hook_first()
	{
		"$VPNSYSOPT" -n "$gwa" connection preserve-vpn-flows fast-resume &&
			"$VPNSYSOPT" -n "$gwb" connection preserve-vpn-flows fast-resume && ipsec_up
	}
	flap_scenario on "$tmp/fr" >/dev/null 2>&1
)
vpnflow_unload

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
# resumed RUN: ms from the tunnel's SAs being back to the first resumed
# byte at the client ("-": the download never resumed).
resumed()
{
	local ms
	ms=$(cat "$tmp/$1.resume-ms" 2>/dev/null)
	[[ $ms =~ ^[0-9]+$ ]] && echo "$ms ms" || echo "-"
}
# delay RUN: gwb's own figure for the flow, the resumed event's
# resume-delay (its SAs back to the flow's first packet through them).
delay()
{
	local d
	d=$(sed -n 's|^resumed TCP .*/5001 tunnel .* resume-delay \([0-9]*\) ms$|\1|p' \
		"$tmp/$1.monitor" 2>/dev/null | tail -n 1)
	[ -n "$d" ] && echo "$d ms" || echo "-"
}

echo
row() { printf '%-34s %-26s %-26s %-26s %-26s\n' "$@"; }
row "" "stock Linux" "preserve-vpn-flows off" "preserve-vpn-flows on" "on, fast-resume"
row "download" "$(outcome none)" "$(outcome off)" "$(outcome on)" "$(outcome fr/on)"
row "resumed after the tunnel's return" "$(resumed none)" "$(resumed off)" "$(resumed on)" "$(resumed fr/on)"
row "resume-delay of the flow (gwb)" "-" "-" "$(delay on)" "$(delay fr/on)"
row "cleartext packets on the WAN" "$(cat "$tmp/none.leaks")" "$(cat "$tmp/off.leaks")" "$(cat "$tmp/on.leaks")" "$(cat "$tmp/fr/on.leaks")"
row "gwb conntrack entry in the outage" "$(ct none)" "$(ct off)" "$(ct on)" "$(ct fr/on)"
row "flows preserved / resumed (gwb)" "-" "$(cnt off gwb flows_preserved) / $(cnt off gwb flows_resumed)" \
	"$(cnt on gwb flows_preserved) / $(cnt on gwb flows_resumed)" "$(cnt fr/on gwb flows_preserved) / $(cnt fr/on gwb flows_resumed)"
row "packets held back (gwb)" "-" "$(cnt off gwb pkts_dropped)" "$(cnt on gwb pkts_dropped)" "$(cnt fr/on gwb pkts_dropped)"
row "ICMP hints sent (gwb)" "-" "-" "$(cnt on gwb icmp_hints)" "$(cnt fr/on gwb icmp_hints)"
row "log" "-" "$(logged off)" "$(logged on)" "$(logged fr/on)"
echo
grep -h 302014 "$tmp/off.dmesg" | sed 's/^\[[ 0-9.]*\] /  /' | head -n 2
echo
