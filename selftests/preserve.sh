#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# preserve-vpn-flows: a download across a tunnel flap on hardened gateways,
# three times: stock Linux, module with the option off, module with it on
# (VPNFLOW_CORE=1: not stock Linux).
#
#  site A 198.51.100.0/26                                site B 198.51.100.64/26
#  +--------+     +-----------+     +-------+     +-----------+     +--------+
#  | client |-----|    gwa    |=====|  wan  |=====|    gwb    |-----| server |
#  | .2     | lan | charon    | ESP |router | ESP | charon    | lan | .66    |
#  +--------+     | 192.0.2.1 |     |       |     |203.0.113.2|     +--------+
#                 +-----------+     +-------+     +-----------+
#  Gateways: nf_conntrack_tcp_loose=0, 10 s max_retrans/unacknowledged,
#  FORWARD DROP with INVALID dropped, ESTABLISHED and IPsec accepted,
#  MASQUERADE for what leaves unprotected. The client downloads 3 MB paced
#  at 150 kB/s from the server; mid-way the WAN router drops everything
#  until DPD (dpd_action=clear) has removed the CHILD_SA on both gateways,
#  and 15 s more; then the WAN is back and gwa re-initiates.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
if [ "$VPNFLOW_CORE" = 0 ]; then ktap_plan 17; else ktap_plan 16; fi

tmp=$(mktemp -d)
defer rm -rf "$tmp"
expect=$(python3 "$XFER" expect "$XFER_BYTES")

# counter MODE GW NAME: GW's counter as the MODE run saved it (-1: none).
counter() { json_get "$3" "$tmp/$1.cnt-$2" || echo -1; }

xfer_ok() { [ "$(cut -d' ' -f1,2 "$tmp/$1.xfer" 2>/dev/null)" = "$expect" ]; }
xfer_info() { ktap_info "$1: got $(cat "$tmp/$1.xfer" 2>/dev/null || echo nothing) (bytes sha256 s), want $expect"; }

# --- stock Linux ---
if [ "$VPNFLOW_CORE" = 0 ]; then
	vpnflow_unload
	flap_scenario none "$tmp"
	xfer_info none
	ktap_info "stock: $(cat "$tmp/none.leaks") cleartext packets of LAN traffic on the WAN during the outage"
	ktap_check "stock Linux: the download dies across the flap (the problem reproduces)" \
		sh -c "[ \$(cut -d' ' -f1 $tmp/none.xfer) -lt $XFER_BYTES ] && [ \$(cat $tmp/none.sa-gone) = 1 ]"
fi

# --- module loaded, preserve-vpn-flows off (the default) ---
flap_scenario off "$tmp"
xfer_info off
ktap_check "preserve off: the download is torn down" \
	sh -c "[ \$(cut -d' ' -f1 $tmp/off.xfer) -lt $XFER_BYTES ]"
log_re='%VPNFLOW-6-302014: Teardown TCP connection [0-9]+ for lan0:198\.51\.100\.2/[0-9]+ to wan0:198\.51\.100\.66/5001 duration [0-9]+:[0-9]{2}:[0-9]{2} bytes [0-9]+ Tunnel has been torn down'
grep -E '302014' "$tmp/off.dmesg" | sed 's/^/# /'
ktap_check "preserve off: teardown logged in the ASA's words (gwa side)" grep -qE "$log_re" "$tmp/off.dmesg"
ktap_check "preserve off: teardown logged from gwb's side too" \
	grep -qE '302014: Teardown TCP connection [0-9]+ for wan0:198\.51\.100\.2/[0-9]+ to lan0:198\.51\.100\.66/5001 .* Tunnel has been torn down' "$tmp/off.dmesg"
ktap_info "off: torn down gwa=$(counter off gwa flows_torn_down) gwb=$(counter off gwb flows_torn_down)"
ktap_check "preserve off: flows-torn-down counted on both gateways" \
	sh -c "[ $(counter off gwa flows_torn_down) -ge 1 ] && [ $(counter off gwb flows_torn_down) -ge 1 ]"
sed 's/^/# gwb monitor: /' "$tmp/off.monitor"
ktap_check "preserve off: a teardown event reaches vpnsysopt monitor" \
	grep -qE '^teardown TCP 198\.51\.100\.2/[0-9]+ -> 198\.51\.100\.66/5001 tunnel [0-9]+' "$tmp/off.monitor"
ktap_check "preserve off: no conntrack entry of the flow left on gwb during the outage" \
	sh -c "! grep -q 'dport=5001' $tmp/off.ct-outage"

# --- preserve-vpn-flows on ---
flap_scenario on "$tmp"
xfer_info on
ktap_check "preserve on: the download completes byte-exact across the flap" xfer_ok on
ktap_check "preserve on: the tunnel really went away (DPD cleared the SAs on both gateways)" \
	sh -c "[ \$(cat $tmp/on.sa-gone) = 1 ] && [ \$(cat $tmp/on.back) = 0 ]"
ktap_info "on: $(cat "$tmp/on.leaks") cleartext packets on the WAN during the outage"
ktap_check "preserve on: 0 cleartext packets reach the WAN during the outage" \
	sh -c "[ \$(cat $tmp/on.leaks) = 0 ]"
sed 's/^/# gwb during the outage: /' "$tmp/on.ct-outage"
ktap_check "preserve on: gwb's conntrack entry is held (timeout > 3000 s) during the outage" \
	sh -c "awk '/dport=5001/ && \$3 > 3000 { ok = 1 } END { exit !ok }' $tmp/on.ct-outage"
sed 's/^/# gwb vpn-context in the outage: /' "$tmp/on.ctx-outage"
ktap_check "preserve on: vpn-context shows the tunnel DOWN holding 1 preserved flow" \
	grep -qE 'State = DOWN .*Flags = ESP\+PRESERVE .*Flows = 1 \(preserved 1\)' "$tmp/on.ctx-outage"
sed 's/^/# gwb vpn-context after: /' "$tmp/on.ctx-after"
ktap_check "preserve on: vpn-context shows it UP again with no flow held" \
	grep -qE 'State = UP .*Flows = [0-9]+ \(preserved 0\)' "$tmp/on.ctx-after"
sed 's/^/# gwb monitor: /' "$tmp/on.monitor"
ktap_check "preserve on: preserved then resumed events reach vpnsysopt monitor" \
	sh -c "grep -qE '^preserved TCP 198\.51\.100\.2/[0-9]+ -> 198\.51\.100\.66/5001' $tmp/on.monitor &&
	       grep -qE '^resumed TCP 198\.51\.100\.2/[0-9]+ -> 198\.51\.100\.66/5001' $tmp/on.monitor"
ktap_check "preserve on: show conn preserved lists the flow during the outage" \
	grep -q '"dport": *5001' "$tmp/on.conn-outage"
for c in flows_preserved flows_resumed pkts_dropped; do
	ktap_info "on: $c gwa=$(counter on gwa $c) gwb=$(counter on gwb $c)"
done
ktap_check "preserve on: preserved and resumed counted on both gateways" \
	sh -c "[ $(counter on gwa flows_preserved) -ge 1 ] && [ $(counter on gwb flows_preserved) -ge 1 ] &&
	       [ $(counter on gwa flows_resumed) -ge 1 ] && [ $(counter on gwb flows_resumed) -ge 1 ]"
ktap_check "preserve on: no teardown logged" sh -c "! grep -q 302014 $tmp/on.dmesg"
vpnflow_unload
ktap_finish
