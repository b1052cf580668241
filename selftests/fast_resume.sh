#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# preserve-vpn-flows fast-resume: how soon a preserved flow moves again
# after its tunnel is back. A download (server -> client, so gwb is the
# gateway that drops the sender's retransmissions and sends the hints)
# across a real strongSwan flap on hardened gateways (flap_scenario), over
# an IPv4 tunnel and over an IPv6 one, with fast-resume off, then on.
# FLAP_RESUME_MS is the time from the tunnel's SAs back on both gateways
# to the first resumed byte at the client.
#
# With fast-resume on: resumed within VPNFLOW_RESUME_MAX_MS (1500) of the
# tunnel being back, byte-exact (the connection was never aborted), no
# cleartext on the WAN, hints sent by gwb, no more of them than the
# burst and per-drop rule allows for the packets it dropped, and none
# from gwa (it dropped no data of the flow); gwb's own per-flow figure
# (the resumed event's resume-delay: its SAs back to the flow's first
# packet through them) within the same bound. Off: the figures are
# reported, and gwb's per-flow figure must be there too.
#
# VPNFLOW_RESUME_OUTAGES: outages to run, in seconds of WAN outage (DPD
# clears the tunnel about 10 s in; the rest is flap_download's
# OUTAGE_EXTRA); default "30". make check-resume: "30 90 300".
# VPNFLOW_RESUME_FAMILIES: default "4 6". VPNFLOW_RESUME_OFF=0: on only
# (the default with VPNFLOW_CORE=1); VPNFLOW_RESUME_OFF_FAMILIES: the
# families run off too (default: all).
# A shorter download than preserve.sh's: the outage is what is measured.
XFER_BYTES=${XFER_BYTES:-1200000}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"

OUTAGES=${VPNFLOW_RESUME_OUTAGES:-30}
FAMILIES=${VPNFLOW_RESUME_FAMILIES:-4 6}
# Off too, but not in the core runs of the other kernels (VPNFLOW_CORE).
RUN_OFF=${VPNFLOW_RESUME_OFF:-$((1 - VPNFLOW_CORE))}
OFF_FAMILIES=${VPNFLOW_RESUME_OFF_FAMILIES:-$FAMILIES}
MAX_MS=${VPNFLOW_RESUME_MAX_MS:-1500}
# Burst and per-drop hints (kmod/hint.c): the bound the counter must keep.
HINT_BURST=15
HINT_EACH=2

n_out=$(wc -w <<<"$OUTAGES")
n_fam=$(wc -w <<<"$FAMILIES")
n_off=0
if [ "$RUN_OFF" = 1 ]; then
	for fam in $FAMILIES; do
		[[ " $OFF_FAMILIES " != *" $fam "* ]] || n_off=$((n_off + 1))
	done
fi
ktap_plan $((n_out * (n_fam * 7 + n_off * 2)))

tmp=$(mktemp -d)
defer rm -rf "$tmp"
expect=$(python3 "$XFER" expect "$XFER_BYTES")

counter() { json_get "$3" "$tmp/$1.cnt-$2" || echo -1; }
xfer_ok() { [ "$(cut -d' ' -f1,2 "$tmp/$1.xfer" 2>/dev/null)" = "$expect" ]; }
# flow_delay RUN: the resume-delay of the download's last resumed event on
# gwb (vpnsysopt monitor), in ms; nothing if there is none.
flow_delay()
{
	sed -n 's|^resumed TCP .*/5001 tunnel .* resume-delay \([0-9]*\) ms$|\1|p' \
		"$tmp/$1.monitor" 2>/dev/null | tail -n 1
}

# flap_scenario's hooks: the family's tunnel, and fast-resume as $FR says.
fam=4
flap_hook_setup()
{
	if [ "$fam" = 4 ]; then
		gw_harden "$gwa" && gw_harden "$gwb" && ipsec_site_to_site
	else
		gw_harden_nft "$gwa" && gw_harden_nft "$gwb" && ipsec_site_to_site &&
			ipsec_site_to_site6
	fi
}
child() { [ "$fam" = 4 ] && echo net || echo net6; }
flap_hook_first()
{
	local v=connection
	[ "$FR" = 1 ] || v="no connection"
	"$VPNSYSOPT" -n "$gwa" $v preserve-vpn-flows fast-resume &&
		"$VPNSYSOPT" -n "$gwb" $v preserve-vpn-flows fast-resume || return 1
	ipsec_up "$(child)"
}
flap_hook_reup() { ipsec_up "$(child)"; }

# Hints gwb may have sent for what it dropped: a burst for each direction's
# first drop after the flow was held (twice: as its tunnel's policy went,
# then preserved), then HINT_EACH per dropped packet.
hint_bound() { echo $(( 2 * 2 * HINT_BURST + HINT_EACH * $(counter "$1" gwb pkts_dropped) )); }

for outage in $OUTAGES; do
	OUTAGE_EXTRA=$(( outage > 20 ? outage - 10 : 10 ))
	# Off, the sender's next retransmission may come TCP_RTO_MAX (120 s)
	# after the tunnel is back: the client waits that long for data.
	FLAP_IDLE=$(( outage + 150 ))
	for fam in $FAMILIES; do
		if [ "$fam" = 4 ]; then FLAP_DST=$IPSEC_SERVER; else FLAP_DST=$IPSEC_SERVER6; fi
		name=v$fam-$outage
		if [ "$RUN_OFF" = 1 ] && [[ " $OFF_FAMILIES " == *" $fam "* ]]; then
			mkdir -p "$tmp/off-$name"
			FR=0
			flap_scenario on "$tmp/off-$name"
			o=off-$name/on
			d=$(flow_delay "$o")
			ktap_info "IPv$fam ${outage}s fast-resume off: resumed $(cat "$tmp/$o.resume-ms") ms after the tunnel was back (gwb's resume-delay: ${d:-none} ms); download $(cat "$tmp/$o.xfer" 2>/dev/null); dropped gwb=$(counter "$o" gwb pkts_dropped)"
			ktap_check "IPv$fam ${outage}s fast-resume off: gwb's resumed event gives the flow's resume-delay" \
				test -n "$d"
			ktap_check "IPv$fam ${outage}s fast-resume off: no hint sent" \
				sh -c "[ $(counter "$o" gwb icmp_hints) = 0 ] && [ $(counter "$o" gwa icmp_hints) = 0 ]"
		fi
		mkdir -p "$tmp/on-$name"
		FR=1
		flap_scenario on "$tmp/on-$name"
		o=on-$name/on
		ms=$(cat "$tmp/$o.resume-ms" 2>/dev/null || echo -1)
		d=$(flow_delay "$o")
		ktap_info "IPv$fam ${outage}s fast-resume on: resumed $ms ms after the tunnel was back (gwb's resume-delay: ${d:-none} ms); download $(cat "$tmp/$o.xfer" 2>/dev/null) (want $expect); hints gwb=$(counter "$o" gwb icmp_hints) gwa=$(counter "$o" gwa icmp_hints), dropped gwb=$(counter "$o" gwb pkts_dropped)"
		ktap_check "IPv$fam ${outage}s: the tunnel went away and came back" \
			sh -c "[ \$(cat $tmp/$o.sa-gone) = 1 ] && [ \$(cat $tmp/$o.back) = 0 ]"
		ktap_check "IPv$fam ${outage}s fast-resume: resumed within $MAX_MS ms of the tunnel" \
			sh -c "[ $ms -ge 0 ] && [ $ms -le $MAX_MS ]"
		ktap_check "IPv$fam ${outage}s fast-resume: gwb's resume-delay for the flow within $MAX_MS ms" \
			sh -c "[ -n '$d' ] && [ '${d:-0}' -le $MAX_MS ]"
		ktap_check "IPv$fam ${outage}s fast-resume: the download completes byte-exact (never aborted)" \
			xfer_ok "$o"
		ktap_check "IPv$fam ${outage}s fast-resume: 0 cleartext packets on the WAN" \
			sh -c "[ \$(cat $tmp/$o.leaks) = 0 ]"
		ktap_check "IPv$fam ${outage}s fast-resume: gwb sent hints for the packets it dropped" \
			sh -c "[ $(counter "$o" gwb icmp_hints) -gt 0 ] && [ $(counter "$o" gwb pkts_dropped) -gt 0 ]"
		ktap_check "IPv$fam ${outage}s fast-resume: hints within the burst and per-drop limits" \
			sh -c "[ $(counter "$o" gwb icmp_hints) -le $(hint_bound "$o") ]"
	done
done
vpnflow_unload
ktap_finish
