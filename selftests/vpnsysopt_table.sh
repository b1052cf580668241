#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vpnsysopt against the real module, table-driven. Each row runs one
# vpnsysopt command in a network namespace of its own, made fresh for the
# row, and checks its exit code, its output (stdout and stderr together:
# exact, a substring, or JSON that python3's json.loads parses and an
# expression checks) and the options afterwards: either the
# `show running-config` the row expects, or, by default, exactly the
# options the row started with. The rows cover every configuration
# command and its `no` form, every show command, bad input of every kind,
# the kernel's own checks (extack, nothing changed), an unprivileged user
# and a user namespace without CAP_NET_ADMIN over the netns,
# `clear counters`, and configuration files (`-f`).
#
#   +-------------------------------------------------+
#   | init netns                                      |
#   |  vpnsysopt -n tNN ARGS            (as root)     |
#   |  ip netns exec tNN setpriv --reuid=65534 ...    |
#   |  ip netns exec tNN unshare --user --map-root-user
#   +-------------------------------------------------+
#        |  one fresh netns per row, deleted after it
#   +-----------+  +-----------+       +-----------+
#   | netns t1  |  | netns t2  |  ...  | netns tNN |
#   +-----------+  +-----------+       +-----------+
#   No links, no traffic: configuration only. Rows that need a tunnel add
#   an xfrm SA (state only, nothing is sent).
#
# A row: [pre=CODE] [run=TEXT] [post=CODE] [as=WHO] [in=FILE]
#        row DESCRIPTION EXIT-CODE MATCH ARGS...
#   MATCH  =TEXT     the output is exactly TEXT
#          ~TEXT     the output contains TEXT
#          re:ERE    the output matches ERE (bash =~; anchor it yourself)
#          json:EXPR the output is JSON, and the Python expression EXPR
#                    (with the parsed value as j) is true
#   pre    shell code run first in the row's netns ($ns; V runs
#          vpnsysopt -n $ns); the row fails if it fails
#   run    the exact `show running-config` afterwards ("" : defaults);
#          unset: `show running-config all` must not have changed
#   post   shell code that must succeed afterwards
#   as     root (default: vpnsysopt -n $ns ARGS), plain (vpnsysopt ARGS,
#          in the init netns), nobody (uid/gid 65534, inside the netns),
#          userns (root of a new user namespace, inside the netns)
#   in     standard input (default /dev/null)
# "@NS@" in ARGS and MATCH stands for the row's netns.
source "$(dirname "$0")/lib.sh"
require_vm
command -v python3 >/dev/null || ktap_skip_all "needs python3"
command -v setpriv >/dev/null || ktap_skip_all "needs setpriv"

cfg=$(mktemp -d)
defer rm -rf "$cfg"

declare -a r_desc r_rc r_match r_args r_pre r_run r_post r_as r_in

row()
{
	local desc=$1 rc=$2 match=$3
	shift 3
	r_desc+=("$desc")
	r_rc+=("$rc")
	r_match+=("$match")
	r_args+=("$(printf '%q ' "$@")")
	r_pre+=("${pre:-}")
	# "-" marks an unset run: compare the whole configuration instead.
	r_run+=("${run--}")
	r_post+=("${post:-}")
	r_as+=("${as:-root}")
	r_in+=("${in:-/dev/null}")
}

# conf NAME LINES...: a configuration file $cfg/NAME, one line per LINE.
conf()
{
	local name=$1
	shift
	printf '%s\n' "$@" >"$cfg/$name"
}

defaults="sysopt connection tcpmss 1380
sysopt connection tcpmss minimum 0
sysopt connection reclassify-vpn
no sysopt connection preserve-vpn-flows
no sysopt connection preserve-vpn-flows fast-resume
no sysopt connection tcpmss auto
no sysopt connection tcpmss tunneled-only
timeout preserve-vpn-flows 1:00:00
no sysopt connection label-vpn-flows
no sysopt connection tcp-state-bypass mark
crypto ipsec df-bit copy-df
crypto ipsec fragmentation after-encryption"
zeros="sa-events 0
policy-events 0
tunnels-up 0
tunnels-down 0
flows-preserved 0
flows-resumed 0
flows-expired 0
flows-torn-down 0
pkts-dropped 0
flows-untracked 0
flows 0
flows-held 0"
# Counters of a newer module come after these: printed, and 0 too.
zeros_re="^$zeros("$'\n'"[a-z-]+ 0)*\$"
ctr_keys='{"sa_events", "policy_events", "tunnels_up", "tunnels_down", "flows_preserved", "flows_resumed", "flows_expired", "flows_torn_down", "pkts_dropped", "flows_untracked", "flows", "flows_held"}'
mss_range='must be 0 (off) or 48-65535'
tmo_range='must be 0:00:01-596:31:23 (1-2147483 seconds)'
eperm='Error: Operation not permitted
vpnsysopt: permission denied: changing options needs CAP_NET_ADMIN over the network namespace'
nons='vpnsysopt-no-such-ns'

# A tunnel: one tunnel-mode ESP SA (reqid 7), up once the module has
# reconciled; and counters that are not 0 because of it.
sa='xfrm_sa_add "$ns" 192.0.2.1 198.51.100.1 0x100 7 && busywait 5000 tunnel_up'
tunnel_up() { V show vpn-context | grep -q 'State = UP'; }
counted() { V show counters | grep -qE '^sa-events [1-9]' && V show counters | grep -qE '^tunnels-up [1-9]'; }
sa_counted="$sa && busywait 5000 counted"
# pre_set ARGS...: vpnsysopt ARGS, which must leave a non-default option
# (so that a row that undoes it can fail).
pre_set() { V "$@" && [ -n "$(V show running-config)" ]; }

# --- configuration commands and their no forms ---
run="sysopt connection preserve-vpn-flows" \
row "connection preserve-vpn-flows"		0 "=" connection preserve-vpn-flows
run="sysopt connection preserve-vpn-flows" \
row "ASA form: sysopt connection preserve-vpn-flows" 0 "=" sysopt connection preserve-vpn-flows
run="sysopt connection preserve-vpn-flows" \
row "abbreviated: conn pres"			0 "=" conn pres
pre='pre_set connection preserve-vpn-flows' run="" \
row "no connection preserve-vpn-flows"		0 "=" no connection preserve-vpn-flows
run="no sysopt connection reclassify-vpn" \
row "no connection reclassify-vpn"		0 "=" no connection reclassify-vpn
run="no sysopt connection reclassify-vpn" \
row "ASA form: no sysopt connection reclassify-vpn" 0 "=" no sysopt connection reclassify-vpn
pre='pre_set no connection reclassify-vpn' run="" \
row "connection reclassify-vpn"			0 "=" connection reclassify-vpn
run="sysopt connection label-vpn-flows" \
row "connection label-vpn-flows"		0 "=" connection label-vpn-flows
pre='pre_set connection label-vpn-flows' run="" \
row "no connection label-vpn-flows"		0 "=" no connection label-vpn-flows
run="sysopt connection tcpmss 1200" \
row "connection tcpmss 1200"			0 "=" connection tcpmss 1200
run="sysopt connection tcpmss 48" \
row "connection tcpmss 48 (lowest)"		0 "=" connection tcpmss 48
run="sysopt connection tcpmss 65535" \
row "connection tcpmss 65535 (highest)"		0 "=" connection tcpmss 65535
run="sysopt connection tcpmss 0" \
row "connection tcpmss 0 (off)"			0 "=" connection tcpmss 0
run="sysopt connection tcpmss 0" \
row "no connection tcpmss sets 0"		0 "=" no connection tcpmss
run="sysopt connection tcpmss 0" \
row "no connection tcpmss N: N checked, ignored" 0 "=" no connection tcpmss 1200
pre='pre_set connection tcpmss 1200' run="" \
row "connection tcpmss 1380 is the default again" 0 "=" connection tcpmss 1380
run="sysopt connection tcpmss minimum 400" \
row "connection tcpmss minimum 400"		0 "=" connection tcpmss minimum 400
run="sysopt connection tcpmss minimum 1380" \
row "connection tcpmss minimum = tcpmss"	0 "=" connection tcpmss minimum 1380
pre='V connection tcpmss 0' run="sysopt connection tcpmss 0
sysopt connection tcpmss minimum 65535" \
row "tcpmss minimum is free with tcpmss 0"	0 "=" connection tcpmss minimum 65535
pre='pre_set connection tcpmss minimum 400' run="" \
row "no connection tcpmss minimum"		0 "=" no connection tcpmss minimum
run="sysopt connection tcpmss minimum 500" \
row "upper case, abbreviated: CONN TCPMSS MIN 500" 0 "=" CONN TCPMSS MIN 500
run="sysopt connection tcpmss auto" \
row "connection tcpmss auto"			0 "=" connection tcpmss auto
pre='pre_set connection tcpmss auto' run="" \
row "no connection tcpmss auto"			0 "=" no connection tcpmss auto
run="timeout preserve-vpn-flows 1:30:00" \
row "timeout preserve-vpn-flows 1:30:00"	0 "=" timeout preserve-vpn-flows 1:30:00
run="timeout preserve-vpn-flows 0:01:30" \
row "timeout preserve-vpn-flows in seconds"	0 "=" timeout preserve-vpn-flows 90
run="timeout preserve-vpn-flows 0:00:01" \
row "timeout preserve-vpn-flows 0:00:01 (lowest)" 0 "=" timeout preserve-vpn-flows 0:00:01
run="timeout preserve-vpn-flows 596:31:23" \
row "timeout preserve-vpn-flows 596:31:23 (highest)" 0 "=" timeout preserve-vpn-flows 596:31:23
pre='pre_set timeout preserve-vpn-flows 2:00:00' run="" \
row "no timeout preserve-vpn-flows: the default" 0 "=" no timeout preserve-vpn-flows
run="crypto ipsec df-bit clear-df" \
row "crypto ipsec df-bit clear-df"		0 "=" crypto ipsec df-bit clear-df
run="crypto ipsec df-bit set-df" \
row "abbreviated: cry ips df set"		0 "=" cry ips df set
pre='pre_set crypto ipsec df-bit set-df' run="" \
row "crypto ipsec df-bit copy-df is the default again" 0 "=" crypto ipsec df-bit copy-df
pre='pre_set crypto ipsec df-bit clear-df' run="" \
row "no crypto ipsec df-bit: copy-df"		0 "=" no crypto ipsec df-bit
pre='pre_set crypto ipsec df-bit clear-df' run="" \
row "no crypto ipsec df-bit WORD: copy-df"	0 "=" no crypto ipsec df-bit set-df
row "crypto ipsec df-bit without a word"	1 '~incomplete command; expected "clear-df", "copy-df" or "set-df"' crypto ipsec df-bit
row "crypto ipsec df-bit with an unknown word"	1 '~unknown keyword "keep-df"; expected "clear-df", "copy-df" or "set-df"' crypto ipsec df-bit keep-df
run="crypto ipsec fragmentation before-encryption" \
row "crypto ipsec fragmentation before-encryption"	0 "=" crypto ipsec fragmentation before-encryption
run="crypto ipsec fragmentation before-encryption" \
row "abbreviated: cry ips frag bef"		0 "=" cry ips frag bef
pre='pre_set crypto ipsec fragmentation before-encryption' run="" \
row "crypto ipsec fragmentation after-encryption is the default again" 0 "=" crypto ipsec fragmentation after-encryption
pre='pre_set crypto ipsec fragmentation before-encryption' run="" \
row "no crypto ipsec fragmentation: after-encryption"	0 "=" no crypto ipsec fragmentation
row "crypto ipsec fragmentation without a word"	1 '~incomplete command; expected "before-encryption" or "after-encryption"' crypto ipsec fragmentation
row "crypto ipsec fragmentation with an unknown word"	1 '~unknown keyword "during-encryption"; expected "before-encryption" or "after-encryption"' crypto ipsec fragmentation during-encryption
run="crypto ipsec df-bit clear-df wan0" \
row "crypto ipsec df-bit clear-df wan0: an interface's own"	0 "=" crypto ipsec df-bit clear-df wan0
run="crypto ipsec fragmentation before-encryption wan0" \
row "crypto ipsec fragmentation before-encryption wan0"	0 "=" crypto ipsec fragmentation before-encryption wan0
pre='pre_set crypto ipsec df-bit set-df wan0' run="" \
row "no crypto ipsec df-bit WORD IFNAME: back to the namespace's"	0 "=" no crypto ipsec df-bit copy-df wan0
row "an interface name of 16 characters"	1 '~invalid interface name "abcdefghijklmnop"' crypto ipsec df-bit clear-df abcdefghijklmnop
row "a word after the interface name"	1 '~unexpected "x"' crypto ipsec fragmentation before-encryption wan0 x
run="sysopt connection tcp-state-bypass mark 0x10/0x10" \
row "connection tcp-state-bypass mark 0x10/0x10"	0 "=" connection tcp-state-bypass mark 0x10/0x10
run="sysopt connection tcp-state-bypass mark 0x5/0xffffffff" \
row "tcp-state-bypass mark alone: the whole mask"	0 "=" sysopt connection tcp-state-bypass mark 5
run="sysopt connection tcp-state-bypass mark 0x300/0xf00" \
row "abbreviated: conn tcp-s m 768/3840"	0 "=" conn tcp-s m 768/3840
pre='pre_set connection tcp-state-bypass mark 0x10' run="" \
row "no connection tcp-state-bypass mark: off"	0 "=" no connection tcp-state-bypass mark
pre='pre_set connection tcp-state-bypass mark 0x10' run="" \
row "no connection tcp-state-bypass mark VALUE: off" 0 "=" no connection tcp-state-bypass mark 0x20
row "tcp-state-bypass mark outside its mask"	1 '~tcp-state-bypass mark 0x3/0x1 has bits outside its mask' connection tcp-state-bypass mark 0x3/0x1
row "tcp-state-bypass mark 0"			1 '~tcp-state-bypass mark 0 would match unmarked packets' connection tcp-state-bypass mark 0

# --- show commands ---
row "show running-config: nothing on defaults"	0 "=" show running-config
pre='V connection preserve-vpn-flows && V connection tcpmss 1300' \
row "show running-config: what differs"		0 "=sysopt connection tcpmss 1300
sysopt connection preserve-vpn-flows" show running-config
row "show running-config all: the defaults"	0 "=$defaults" show running-config all
row "sh run all"				0 "=$defaults" sh run all
row "-j show running-config: every option"	0 'json:{"preserve_vpn_flows": False, "reclassify_vpn": True, "tcpmss": 1380, "tcpmss_minimum": 0, "tcpmss_auto": False, "preserve_timeout": 3600}.items() <= j.items()' -j show running-config
pre='V timeout preserve-vpn-flows 1:30:00 && V connection tcpmss auto' \
row "-p show running-config all"		0 'json:j["preserve_timeout"] == 5400 and j["tcpmss_auto"] is True' -p show running-config all
row "show counters: all 0 in a new netns"	0 "re:$zeros_re" show counters
row "-j show counters"				0 "json:$ctr_keys <= set(j) and all(v == 0 for v in j.values())" -j show counters
pre=$sa_counted \
row "-j show counters counts an SA"		0 'json:j["sa_events"] >= 1 and j["tunnels_up"] == 1 and j["tunnels_down"] == 0' -j show counters
row "show vpn-context: no tunnel"		0 "=" show vpn-context
row "-j show vpn-context: no tunnel"		0 'json:j == []' -j show vpn-context
pre=$sa \
row "show vpn-context: an SA's tunnel"		0 "~VPN CTX  = 1  Peer = 192.0.2.1 <-> 198.51.100.1  State = UP" show vpn-context
pre=$sa \
row "show vpn-context detail"			0 "~
  Reqid    = 7
  If-id    = 0
  Mark     = 0x0" show vpn-context detail
pre=$sa \
row "show asp table vpn-context"		0 "~VPN CTX  = 1  Peer = 192.0.2.1 <-> 198.51.100.1" show asp table vpn-context
pre=$sa \
row "-j show vpn-context"			0 'json:len(j) == 1 and j[0]["peer_lo"] == "192.0.2.1" and j[0]["peer_hi"] == "198.51.100.1" and j[0]["state"] == "up" and j[0]["sa_count"] == 1 and j[0]["reqid"] == 7' -j show vpn-context
row "show asp table vpn-context detail: none"	0 "=" sh asp tab vpn det
row "show conn: no flow"			0 "=0 in use" show conn
pre=$sa \
row "show conn preserved tunnel 1"		0 "=0 in use" show conn preserved tunnel 1
row "show conn active"				0 "=0 in use" show conn active
row "-j show conn"				0 'json:j == []' -j show conn

# --- clear counters ---
pre=$sa_counted post='V show counters | grep -qx "sa-events 0" && V show counters | grep -qx "tunnels-up 0"' \
row "clear counters resets them"		0 "=" clear counters
pre=$sa_counted post='V show counters | grep -qx "sa-events 0"' \
row "cl cou"					0 "=" cl cou
pre=$sa_counted post='V show counters | grep -qx "flows 0" && V show vpn-context | grep -q "State = UP"' \
row "clear counters keeps the tunnels"		0 "=" clear counters

# --- bad input: exit 1, nothing changed ---
row "unknown keyword, with a suggestion"	1 '~unknown keyword "conection"; did you mean "connection"?' conection preserve-vpn-flows
row "typo suggests preserve-vpn-flows"		1 '=vpnsysopt: unknown keyword "presrve"; did you mean "preserve-vpn-flows"?
  connection presrve
             ^' connection presrve
row "transposition suggests show"		1 '~unknown keyword "shwo"; did you mean "show"?' shwo run
row "typo suggests running-config"		1 '~did you mean "running-config"?' show runnign
row "unknown keyword lists the choices"		1 '~unknown keyword "xlate"; expected "counters"' clear xlate
row "ambiguous abbreviation s"			1 '~ambiguous keyword "s"; did you mean "sysopt" or "show"?' s run
row "ambiguous abbreviation c"			1 '~ambiguous keyword "c"; did you mean "connection", "crypto" or "clear"?' c counters
row "ambiguous abbreviation show co"		1 '~ambiguous keyword "co"; did you mean "counters" or "conn"?' show co
row "missing keyword"				1 '~incomplete command; expected "preserve-vpn-flows", "reclassify-vpn", "label-vpn-flows", "tcpmss" or "tcp-state-bypass"' connection
row "missing tcpmss value"			1 '~incomplete command; expected "minimum", "auto", "tunneled-only" or a number (0 or 48-65535)' connection tcpmss
row "missing tcpmss minimum value"		1 '~incomplete command; expected a number (0 or 48-65535)' connection tcpmss minimum
row "missing timeout value"			1 '~incomplete command; expected H:MM:SS or SECONDS' timeout preserve-vpn-flows
row "missing show keyword"			1 '~incomplete command; expected "running-config"' show
row "tcpmss 47: below the range"		1 "=vpnsysopt: tcpmss 47 is out of range: $mss_range
  connection tcpmss 47
                    ^" connection tcpmss 47
row "tcpmss 65536: above the range"		1 "~tcpmss 65536 is out of range: $mss_range" connection tcpmss 65536
row "tcpmss above 2^32"				1 "~tcpmss 4294967296 is out of range" connection tcpmss 4294967296
row "tcpmss minimum 1: below the range"		1 "~tcpmss minimum 1 is out of range: $mss_range" connection tcpmss minimum 1
row "tcpmss minimum 65536: above the range"	1 "~tcpmss minimum 65536 is out of range: $mss_range" connection tcpmss minimum 65536
row "no tcpmss N checks N"			1 "~tcpmss 20 is out of range" no connection tcpmss 20
row "timeout 0: below the range"		1 "~preserve-vpn-flows timeout 0 is out of range: $tmo_range" timeout preserve-vpn-flows 0
row "timeout 0:00:00: below the range"		1 "~timeout 0:00:00 is out of range" timeout preserve-vpn-flows 0:00:00
row "timeout 2147484: above the range"		1 "~timeout 2147484 is out of range: $tmo_range" timeout preserve-vpn-flows 2147484
row "timeout 596:31:24: above the range"	1 "~timeout 596:31:24 is out of range" timeout preserve-vpn-flows 596:31:24
row "tcpmss not a number: a bad keyword"	1 '~unknown keyword "abc"; expected "minimum", "auto", "tunneled-only" or a number (0 or 48-65535)' connection tcpmss abc
row "tcpmss not a number"			1 '~tcpmss "12x" is not a number; expected a number (0 or 48-65535)' connection tcpmss 12x
row "tcpmss with a unit"			1 '~tcpmss "1200b" is not a number' connection tcpmss 1200b
row "tcpmss negative"				1 '~tcpmss "-5" is not a number' connection tcpmss -5
row "tcpmss minimum not a number"		1 '~tcpmss minimum "12x" is not a number' connection tcpmss minimum 12x
row "timeout not a number"			1 '~invalid preserve-vpn-flows timeout "1h"; expected H:MM:SS or SECONDS' timeout preserve-vpn-flows 1h
row "timeout minutes over 59"			1 '~invalid preserve-vpn-flows timeout "1:60:00"' timeout preserve-vpn-flows 1:60:00
row "timeout with two fields"			1 '~invalid preserve-vpn-flows timeout "1:30"' timeout preserve-vpn-flows 1:30
row "tunnel id not a number"			1 '~tunnel id "x" is not a number' show conn tunnel x
row "monitor count 0"				1 '~event count 0 is out of range' monitor count 0
row "trailing word after a flag"		1 '=vpnsysopt: unexpected "now" at the end of the command
  connection reclassify-vpn now
                            ^' connection reclassify-vpn now
row "unknown word after preserve-vpn-flows"	1 '=vpnsysopt: unknown keyword "now"; expected "fast-resume"
  connection preserve-vpn-flows now
                                ^' connection preserve-vpn-flows now
row "trailing word after fast-resume"		1 '~unexpected "now" at the end of the command' connection preserve-vpn-flows fast-resume now
row "trailing word after a value"		1 '~unexpected "1300" at the end of the command' connection tcpmss 1200 1300
row "trailing word after a timeout"		1 '~unexpected "extra" at the end of the command' timeout preserve-vpn-flows 1:00:00 extra
row "trailing word after show"			1 '~unknown keyword "x"; expected "all"' show running-config x
row "trailing word after show all"		1 '~unexpected "x" at the end of the command' show running-config all x
row "trailing word after clear counters"	1 '~unexpected "all" at the end of the command' clear counters all
row "no with show"				1 '~"no" is not valid with "show"' no show running-config
row "unknown option"				1 "~Try 'vpnsysopt -h'" -x show running-config
as=plain \
row "-n of a missing netns: show"		5 "=vpnsysopt: cannot open network namespace \"$nons\": No such file or directory" -n "$nons" show running-config
as=plain \
row "-n of a missing netns: change"		5 "~cannot open network namespace \"$nons\"" -n "$nons" connection preserve-vpn-flows
as=plain \
row "-n of a missing netns: bad input first"	1 '~tcpmss 47 is out of range' -n "$nons" connection tcpmss 47

# --- the kernel's checks: exit 2 with its extack message, nothing changed ---
pre='V connection tcpmss 1200 && V connection tcpmss minimum 400' \
row "kernel: tcpmss minimum above tcpmss"	2 '=Error: vpnflow_preserve: tcpmss minimum cannot exceed tcpmss
vpnsysopt: the kernel rejected "sysopt connection tcpmss minimum"' connection tcpmss minimum 1300
pre='V connection tcpmss 1200 && V connection tcpmss minimum 1000' \
row "kernel: tcpmss below tcpmss minimum"	2 '=Error: vpnflow_preserve: tcpmss minimum cannot exceed tcpmss
vpnsysopt: the kernel rejected "sysopt connection tcpmss"' connection tcpmss 900
pre='V connection tcpmss minimum 1000' \
row "kernel: tcpmss minimum above the default tcpmss" 2 '~tcpmss minimum cannot exceed tcpmss' connection tcpmss minimum 1381

# --- configuration files: -f ---
conf full.conf "# every option; the last line wins" "" \
	"connection preserve-vpn-flows" "  no   connection   reclassify-vpn   # a comment" \
	"sysopt connection tcpmss 1300" "connection tcpmss minimum 400" \
	"sysopt connection tcpmss auto" "timeout preserve-vpn-flows 1:00:00" \
	"conn tcpmss 1200" "timeout preserve-vpn-flows 1:30:00"
full_run="sysopt connection tcpmss 1200
sysopt connection tcpmss minimum 400
no sysopt connection reclassify-vpn
sysopt connection preserve-vpn-flows
sysopt connection tcpmss auto
timeout preserve-vpn-flows 1:30:00"
printf '%s\n' "sysopt connection tcpmss 1300" "sysopt connection tcpmss minimum 500" \
	"sysopt connection reclassify-vpn" "sysopt connection preserve-vpn-flows" \
	"no sysopt connection tcpmss auto" "timeout preserve-vpn-flows 0:30:00" >"$cfg/runall.conf"
conf bad3.conf "connection preserve-vpn-flows" "connection tcpmss 1200" \
	"connection tcpmss minimum 47" "timeout preserve-vpn-flows 1:30:00"
conf show.conf "connection preserve-vpn-flows" "show running-config"
conf reject.conf "connection preserve-vpn-flows" "connection tcpmss 1000" \
	"connection tcpmss minimum 1200"
conf order.conf "connection tcpmss minimum 1000" "connection tcpmss 1400"
conf one.conf "conn pres"
conf comments.conf "# nothing but comments" ""
chmod -R a+rX "$cfg"

run=$full_run \
row "-f: the options are the file's"		0 "=" -f "$cfg/full.conf"
pre='V -f "$cfg/full.conf"' run=$full_run \
row "-f twice: exit 0, same running-config"	0 "=" -f "$cfg/full.conf"
in=$cfg/full.conf run=$full_run \
row "-f -: standard input"			0 "=" -f -
run="sysopt connection tcpmss 1300
sysopt connection tcpmss minimum 500
sysopt connection preserve-vpn-flows
timeout preserve-vpn-flows 0:30:00" \
row "-f: show running-config all output"	0 "=" -f "$cfg/runall.conf"
pre='V connection tcpmss auto' run="sysopt connection preserve-vpn-flows
sysopt connection tcpmss auto" \
row "-f: options not in the file are kept"	0 "=" -f "$cfg/one.conf"
pre='V connection tcpmss 500' run="sysopt connection tcpmss 1400
sysopt connection tcpmss minimum 1000" \
row "-f: one request, line order does not matter" 0 "=" -f "$cfg/order.conf"
pre='pre_set connection tcpmss auto' run="sysopt connection tcpmss auto" \
row "-f: comments only"				0 "=" -f "$cfg/comments.conf"
run="" \
row "-f: an error on line 3 applies nothing"	1 "=$cfg/bad3.conf:3: tcpmss minimum 47 is out of range: $mss_range
  connection tcpmss minimum 47
                            ^
vpnsysopt: $cfg/bad3.conf: 1 error, nothing applied" -f "$cfg/bad3.conf"
in=$cfg/bad3.conf run="" \
row "-f -: an error names <stdin>"		1 "~<stdin>:3: tcpmss minimum 47 is out of range" -f -
run="" \
row "-f: show in a file is refused"		1 "~$cfg/show.conf:2: \"show\" is not allowed in a configuration file" -f "$cfg/show.conf"
run="" \
row "-f: the kernel refuses, nothing applied"	2 "=Error: vpnflow_preserve: tcpmss minimum cannot exceed tcpmss
$cfg/reject.conf:3: the kernel rejected \"sysopt connection tcpmss minimum\"
vpnsysopt: $cfg/reject.conf: nothing applied" -f "$cfg/reject.conf"
row "-f: a missing file"			5 "=vpnsysopt: cannot open \"$cfg/none.conf\": No such file or directory" -f "$cfg/none.conf"
as=plain \
row "-f with -n of a missing netns"		5 "~cannot open network namespace \"$nons\"" -n "$nons" -f "$cfg/full.conf"

# --- no CAP_NET_ADMIN over the netns: changes, tunnels, flows and events
# refused (exit 4); options and counters readable ---
as=nobody \
row "unprivileged: connection preserve-vpn-flows" 4 "=$eperm" connection preserve-vpn-flows
as=nobody \
row "unprivileged: no connection reclassify-vpn" 4 "~permission denied" no connection reclassify-vpn
as=nobody \
row "unprivileged: timeout preserve-vpn-flows"	4 "~permission denied" timeout preserve-vpn-flows 2:00:00
as=nobody pre=$sa_counted post='busywait 1000 counted' \
row "unprivileged: clear counters"		4 "=Error: Operation not permitted
vpnsysopt: permission denied: clearing counters needs CAP_NET_ADMIN over the network namespace" clear counters
as=nobody \
row "unprivileged: -f"				4 "=$eperm
vpnsysopt: $cfg/full.conf: nothing applied" -f "$cfg/full.conf"
as=nobody \
row "unprivileged: bad input is still exit 1"	1 "~tcpmss 47 is out of range" connection tcpmss 47
as=nobody \
row "unprivileged: show running-config all"	0 "=$defaults" show running-config all
as=nobody \
row "unprivileged: -j show counters"		0 "json:$ctr_keys <= set(j)" -j show counters
as=nobody pre=$sa \
row "unprivileged: show vpn-context"		4 "=Error: Operation not permitted
vpnsysopt: permission denied: reading tunnels needs CAP_NET_ADMIN over the network namespace" show vpn-context
as=nobody \
row "unprivileged: show conn"			4 "=Error: Operation not permitted
vpnsysopt: permission denied: reading flows needs CAP_NET_ADMIN over the network namespace" show conn
as=nobody \
row "unprivileged: -j show conn preserved"	4 "~permission denied: reading flows" -j show conn preserved
as=nobody \
row "unprivileged: monitor"			4 "=vpnsysopt: monitor: cannot join the \"events\" multicast group: Operation not permitted
vpnsysopt: permission denied: monitor needs CAP_NET_ADMIN over the network namespace" monitor count 1
as=nobody \
row "unprivileged: -n needs CAP_SYS_ADMIN"	4 '~cannot enter network namespace "@NS@": Operation not permitted' -n @NS@ show running-config
as=userns \
row "user namespace: connection preserve-vpn-flows" 4 "=$eperm" connection preserve-vpn-flows
as=userns \
row "user namespace: connection tcpmss 1200"	4 "~permission denied" connection tcpmss 1200
as=userns pre=$sa_counted post='busywait 1000 counted' \
row "user namespace: clear counters"		4 "~permission denied: clearing counters" clear counters
as=userns \
row "user namespace: -f"			4 "~vpnsysopt: $cfg/full.conf: nothing applied" -f "$cfg/full.conf"
as=userns \
row "user namespace: show running-config all"	0 "=$defaults" show running-config all
as=userns pre=$sa \
row "user namespace: show conn"		4 "~permission denied: reading flows" show conn
as=userns \
row "user namespace: monitor"			4 "~permission denied: monitor needs CAP_NET_ADMIN" monitor count 1

# --- run the table ---
vpnflow_load || ktap_skip_all "cannot load the module"
defer vpnflow_unload

ns=
defer 'ip netns del "$ns"'
V() { "$VPNSYSOPT" -n "$ns" "$@"; }

# json_check EXPR: standard input is JSON and EXPR holds for it (as j).
json_check()
{
	python3 -c '
import json, sys
try:
    j = json.loads(sys.stdin.read())
except ValueError as e:
    print("# not JSON:", e)
    sys.exit(1)
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}

# indent TEXT: as KTAP diagnostics.
indent() { printf '%s\n' "$1" | sed 's/^/#   /'; }

# run_row I: one row in a fresh netns; prints why it failed, returns 1.
run_row()
{
	local i=$1 out rc before after want why=
	local match=${r_match[i]} stdin=${r_in[i]}

	# No traffic, so lo stays down; processes are dear under TCG.
	ns=t$((i + 1))-$RANDOM$RANDOM
	ip netns add "$ns" || {
		ktap_info "cannot make netns $ns"
		return 1
	}
	match=${match//@NS@/$ns}
	eval "set -- ${r_args[i]//@NS@/$ns}"

	if [ -n "${r_pre[i]}" ] && ! out=$(eval "${r_pre[i]}" 2>&1); then
		why="setup failed: ${r_pre[i]}"$'\n'"$out"
	fi
	[ "${r_run[i]}" != - ] || before=$(V show running-config all 2>&1)

	if [ -z "$why" ]; then
		case ${r_as[i]} in
		root)	out=$("$VPNSYSOPT" -n "$ns" "$@" <"$stdin" 2>&1) ;;
		plain)	out=$("$VPNSYSOPT" "$@" <"$stdin" 2>&1) ;;
		nobody)	out=$(ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 \
				--clear-groups "$VPNSYSOPT" "$@" <"$stdin" 2>&1) ;;
		userns)	out=$(ip netns exec "$ns" unshare --user --map-root-user \
				"$VPNSYSOPT" "$@" <"$stdin" 2>&1) ;;
		esac
		rc=$?
	fi

	if [ -n "$why" ]; then
		:
	elif [ "$rc" != "${r_rc[i]}" ]; then
		why="exit $rc, expected ${r_rc[i]}"
	else
		case $match in
		=*)	[ "$out" = "${match#=}" ] ||
				why="output is not, exactly:"$'\n'"${match#=}" ;;
		'~'*)	[[ $out == *"${match#\~}"* ]] ||
				why="output does not contain:"$'\n'"${match#\~}" ;;
		re:*)	[[ $out =~ ${match#re:} ]] ||
				why="output does not match:"$'\n'"${match#re:}" ;;
		json:*)	json_check "${match#json:}" <<<"$out" ||
				why="JSON check failed: ${match#json:}" ;;
		*)	why="bad MATCH in the table: $match" ;;
		esac
	fi

	if [ -z "$why" ] && [ "${r_run[i]}" != - ]; then
		after=$(V show running-config 2>&1)
		[ "$after" = "${r_run[i]}" ] ||
			why="show running-config afterwards is"$'\n'"$after"$'\n'"expected"$'\n'"${r_run[i]}"
	elif [ -z "$why" ]; then
		after=$(V show running-config all 2>&1)
		[ "$after" = "$before" ] ||
			why="the options changed from"$'\n'"$before"$'\n'"to"$'\n'"$after"
	fi
	if [ -z "$why" ] && [ -n "${r_post[i]}" ] && ! eval "${r_post[i]}" >/dev/null 2>&1; then
		why="check afterwards failed: ${r_post[i]}"
	fi

	ip netns del "$ns"
	ns=
	[ -z "$why" ] && return 0
	ktap_info "vpnsysopt ${r_args[i]} (as ${r_as[i]})"
	indent "$why"
	ktap_info "output (exit ${rc:-none}):"
	indent "$out"
	return 1
}

ktap_plan "${#r_desc[@]}"
for ((i = 0; i < ${#r_desc[@]}; i++)); do
	run_row "$i"
	ktap_result $? "${r_desc[i]}"
done
ktap_finish
