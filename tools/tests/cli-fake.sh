#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Output tests of vpnsysopt against a fake vpnflow family (fake-vpnflow.so,
# an LD_PRELOAD replacement of libmnl's socket calls, see its header): the
# exact text and JSON of every show command, dump requests and their
# filters, multi-part replies, attributes of a newer module, an older
# module, permission errors, monitor, and configuration files (-f: one
# request with every option, applied by the fake as the module does, so
# that a second run can be seen to change nothing). KTAP output.
#
#   tests/cli-fake.sh [path/to/vpnsysopt [path/to/fake-vpnflow.so]]
#                                                     (make -C tools check)

set -u

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../vpnsysopt}
fake=${2:-$here/fake-vpnflow.so}
log=$(mktemp)
tmp=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$tmp"' EXIT

for f in "$bin" "$fake"; do
	if [[ ! -e $f ]]; then
		echo "$0: $f: missing (build it with make -C tools check)" >&2
		exit 1
	fi
done
[[ $fake == /* ]] || fake=$PWD/$fake

results=()
num=0
pass=0
fail=0
skip=0

# V ARGS...: vpnsysopt against the fake ($scenario, default "default";
# $state: the file that keeps the fake's options, none by default).
V() {
	LD_PRELOAD=$fake VPNFLOW_FAKE=${scenario:-default} \
		VPNFLOW_FAKE_STATE=${state:-} VPNFLOW_FAKE_LOG=$log "$bin" "$@"
}

ok() {
	num=$((num + 1))
	results+=("ok $num $1")
	pass=$((pass + 1))
}

not_ok() {
	local desc=$1

	shift
	num=$((num + 1))
	results+=("not ok $num $desc")
	results+=("$@")
	fail=$((fail + 1))
}

indent() {
	printf '%s\n' "$1" | sed 's/^/#   /'
}

# expect DESC EXIT-CODE EXPECTED ARGS...: stdout and stderr are EXPECTED.
expect() {
	local desc=$1 rc=$2 want=$3 got grc

	shift 3
	: > "$log"
	got=$(V "$@" 2>&1)
	grc=$?
	if [[ $grc == "$rc" && $got == "$want" ]]; then
		ok "$desc"
		return
	fi
	not_ok "$desc" "# command: vpnsysopt $*" \
		"# expected exit $rc and output:" "$(indent "$want")" \
		"# got exit $grc and output:" "$(indent "$got")"
}

# expect_log DESC EXPECTED: the requests of the last expect.
expect_log() {
	local got

	got=$(cat "$log")
	if [[ $got == "$2" ]]; then
		ok "$1"
		return
	fi
	not_ok "$1" "# expected requests:" "$(indent "$2")" \
		"# got:" "$(indent "$got")"
}

# expect_json DESC ARGS...: -p output parses as JSON.
expect_json() {
	local desc=$1 out

	shift
	if ! command -v python3 > /dev/null; then
		num=$((num + 1))
		results+=("ok $num $desc # SKIP needs python3")
		skip=$((skip + 1))
		return
	fi
	out=$(V -p "$@" 2>&1)
	if python3 -c 'import json, sys; json.load(sys.stdin)' <<< "$out" 2>/dev/null; then
		ok "$desc"
		return
	fi
	not_ok "$desc" "# command: vpnsysopt -p $*" "$(indent "$out")"
}

# expect_signal DESC SIGNAL: monitor prints an event, then SIGNAL ends it
# with exit code 0.
expect_signal() {
	local desc=$1 sig=$2 line pid rc

	coproc MON { exec env LD_PRELOAD="$fake" VPNFLOW_FAKE=default "$bin" monitor; }
	pid=$MON_PID
	read -r -t 5 line <&"${MON[0]}"
	kill -"$sig" "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	if [[ $rc == 0 && $line == teardown\ * ]]; then
		ok "$desc"
		return
	fi
	not_ok "$desc" "# got exit $rc, first line: $line"
}

# Without LD_PRELOAD (a static build), there is nothing to test.
if V show counters 2>&1 | grep -q 'module not loaded'; then
	echo "KTAP version 1"
	echo "1..0 # SKIP $fake is not used (vpnsysopt linked statically?)"
	exit 0
fi

# show counters

counters_text='sa-events 5000000000
policy-events 20
tunnels-up 40
tunnels-down 50
flows-preserved 60
flows-resumed 70
flows-expired 80
flows-torn-down 90
pkts-dropped 100
flows-untracked 110
flows 3
flows-held 1'
counters_json='{"sa_events":5000000000,"policy_events":20,"tunnels_up":40,"tunnels_down":50,"flows_preserved":60,"flows_resumed":70,"flows_expired":80,"flows_torn_down":90,"pkts_dropped":100,"flows_untracked":110,"flows":3,"flows_held":1}'

expect "show counters"			0 "$counters_text" show counters
expect_log "show counters is a do request" "cmd=3 flags=0x5"
expect "-j show counters"		0 "$counters_json" -j show counters
scenario=old expect "show counters of an older module" 0 $'sa-events 5000000000\npolicy-events 20' show counters

# clear counters

expect "clear counters"			0 "" clear counters
expect_log "clear counters request"	"cmd=6 flags=0x5"
scenario=eperm expect "clear counters without CAP_NET_ADMIN" 4 'Error: Operation not permitted
vpnsysopt: permission denied: clearing counters needs CAP_NET_ADMIN over the network namespace' clear counters
scenario=old expect "clear counters on an older module" 2 \
	'vpnsysopt: clearing counters: not supported by the loaded vpnflow_preserve module (older than vpnsysopt?)' clear counters

# show vpn-context

ctx3='VPN CTX  = 3  Peer = 192.0.2.1 <-> 203.0.113.2  State = UP  Flags = TUNNEL+PRESERVE  SAs = 2  Flows = 2 (preserved 0)  Since = 0:02:10'
ctx7='VPN CTX  = 7  Peer = 2001:db8::1 <-> 2001:db8:ffff::2  If-id = 9  Mark = 0x2a  State = DOWN  Flags = TUNNEL+PRESERVE  SAs = 0  Flows = 1 (preserved 1)  Since = 1:02:05'
ctx_json='[{"id":3,"family":"inet","peer_lo":"192.0.2.1","peer_hi":"203.0.113.2","state":"up","flags":["tunnel","preserve"],"sa_count":2,"reqid":1,"if_id":0,"mark":0,"flows":2,"flows_held":0,"since":130},{"id":7,"family":"inet6","peer_lo":"2001:db8::1","peer_hi":"2001:db8:ffff::2","state":"down","flags":["tunnel","preserve"],"sa_count":0,"reqid":0,"if_id":9,"mark":42,"flows":1,"flows_held":1,"since":3725}]'

expect "show vpn-context, sorted by id"	0 "$ctx3"$'\n'"$ctx7" show vpn-context
expect_log "show vpn-context reads options, then dumps tunnels" $'cmd=1 flags=0x5\ncmd=4 flags=0x301'
expect "show vpn-context detail"	0 "$ctx3
  Reqid    = 1
  If-id    = 0
  Mark     = 0x0
$ctx7
  Reqid    = 0
  If-id    = 9
  Mark     = 0x2a" show vpn-context detail
expect "show asp table vpn-context"	0 "$ctx3"$'\n'"$ctx7" show asp table vpn-context
expect "-j show vpn-context"		0 "$ctx_json" -j show vpn-context
expect "-j show vpn-context detail is the same" 0 "$ctx_json" -j show vpn-context detail
VPNFLOW_FAKE_PRESERVE=0 expect "no PRESERVE flag without preserve-vpn-flows" 0 \
	"${ctx3/+PRESERVE/}"$'\n'"${ctx7/+PRESERVE/}" show vpn-context
VPNFLOW_FAKE_PRESERVE=0 expect "-j flags without preserve-vpn-flows" 0 \
	"${ctx_json//,\"preserve\"/}" -j show vpn-context
scenario=empty expect "show vpn-context of no tunnels prints nothing" 0 "" show vpn-context
scenario=empty expect "-j show vpn-context of no tunnels" 0 "[]" -j show vpn-context
scenario=old expect "show vpn-context on an older module" 2 \
	'vpnsysopt: reading tunnels: not supported by the loaded vpnflow_preserve module (older than vpnsysopt?)' show vpn-context
expect_json "-p show vpn-context is JSON" show vpn-context

# show conn

conn11='TCP lo:198.51.100.2/40000 to lo:198.51.100.66/5001, tunnel 3, state active, duration 0:00:12, bytes 123456, expires 119:59:48, resumes 2, resume-delay 68 ms'
conn12='ICMP ?:198.51.100.2 to lo:198.51.100.66, tunnel 3, state active, duration 0:00:03, bytes 168, expires 0:00:27, resumes 1'
conn7='TCP lo:2001:db8:1::10/443 to ?:2001:db8:2::20/50000, tunnel 7, state preserved, duration 1:06:40, bytes 5000000000, held 0:01:05, expires 0:58:55'
json11='{"id":11,"tunnel_id":3,"state":"active","family":"inet","proto":6,"proto_name":"tcp","src":"198.51.100.2","dst":"198.51.100.66","sport":40000,"dport":5001,"ifsrc":"lo","ifdst":"lo","ifindex_src":1,"ifindex_dst":1,"duration":12,"bytes":123456,"expires":431988,"resumes":2,"resume_delay_ms":68}'
json12='{"id":12,"tunnel_id":3,"state":"active","family":"inet","proto":1,"proto_name":"icmp","src":"198.51.100.2","dst":"198.51.100.66","sport":77,"dport":2048,"ifsrc":"?","ifdst":"lo","ifindex_src":0,"ifindex_dst":1,"duration":3,"bytes":168,"expires":27,"resumes":1}'
json7='{"id":3000000001,"tunnel_id":7,"state":"preserved","family":"inet6","proto":6,"proto_name":"tcp","src":"2001:db8:1::10","dst":"2001:db8:2::20","sport":443,"dport":50000,"ifsrc":"lo","ifdst":"?","ifindex_src":1,"ifindex_dst":999999,"duration":4000,"bytes":5000000000,"held_for":65,"expires":3535}'

expect "show conn, by tunnel"		0 "3 in use
$conn11
$conn12
$conn7" show conn
expect_log "show conn is a dump without filters" "cmd=5 flags=0x301"
expect "-j show conn"			0 "[$json11,$json12,$json7]" -j show conn
expect "show conn preserved"		0 "1 in use
$conn7" show conn preserved
expect_log "show conn preserved sends the state filter" "cmd=5 flags=0x301 state=1"
expect "show conn tunnel 3"		0 "2 in use
$conn11
$conn12" show conn tunnel 3
expect_log "show conn tunnel 3 sends the tunnel filter" "cmd=5 flags=0x301 tunnel=3"
expect "show conn active tunnel 7"	0 "0 in use" show conn active tunnel 7
expect_log "show conn active tunnel 7 sends both filters" "cmd=5 flags=0x301 tunnel=7 state=0"
expect "-j show conn preserved"		0 "[$json7]" -j show conn preserved
scenario=empty expect "show conn of no flows" 0 "0 in use" show conn
scenario=empty expect "-j show conn of no flows" 0 "[]" -j show conn
scenario=old expect "show conn on an older module" 2 \
	'vpnsysopt: reading flows: not supported by the loaded vpnflow_preserve module (older than vpnsysopt?)' show conn
expect_json "-p show conn is JSON" show conn

# monitor

ev1='teardown TCP 198.51.100.2/40000 -> 198.51.100.66/5001 tunnel 3 duration 0:00:12 bytes 123456 resumes 2 resume-delay 68 ms'
ev2='preserved TCP 2001:db8:1::10/443 -> 2001:db8:2::20/50000 tunnel 7 duration 1:06:40 bytes 5000000000 held 0:01:05'
ev5='event-42 ICMP 198.51.100.2 -> 198.51.100.66 tunnel 3 duration 0:00:03 bytes 168 resumes 1'

expect "monitor count 2"		0 "$ev1"$'\n'"$ev2" monitor count 2
expect "monitor count 5: every event type" 0 "$ev1
$ev2
${ev2/preserved/resumed}
${ev2/preserved/expired}
$ev5" monitor count 5
expect "-j monitor count 2"		0 "{\"event\":\"teardown\",${json11#\{}
{\"event\":\"preserved\",${json7#\{}" -j monitor count 2
scenario=unload expect "monitor ends when the module is unloaded" 3 "$ev1
$ev2
${ev2/preserved/resumed}
${ev2/preserved/expired}
$ev5
vpnsysopt: monitor: the vpnflow_preserve module was unloaded" monitor
scenario=old expect "monitor on an older module" 2 \
	'vpnsysopt: monitor: not supported by the loaded vpnflow_preserve module (no "events" multicast group; older than vpnsysopt?)' monitor
expect_signal "monitor exits 0 on SIGTERM" TERM
expect_signal "monitor exits 0 on SIGINT" INT

# -f FILE: every option of the file in one request, all or nothing.

conf() {
	local name=$1

	shift
	printf '%s\n' "$@" > "$tmp/$name"
}

conf all.conf "# every option, some twice: the last line wins" \
	"connection preserve-vpn-flows" "no connection reclassify-vpn" \
	"connection tcpmss 1300" "connection tcpmss minimum 400" \
	"sysopt connection tcpmss auto" "timeout preserve-vpn-flows 1:00:00" \
	"" "connection tcpmss 1200  # not 1300" "timeout preserve-vpn-flows 1:30:00" \
	"connection preserve-vpn-flows fast-resume" "crypto ipsec df-bit set-df" \
	"crypto ipsec df-bit clear-df" "sysopt connection tcp-state-bypass mark 0x100" \
	"connection tcp-state-bypass mark 0x20/0x30" "crypto ipsec fragmentation before-encryption" \
	"connection label-vpn-flows"
all_req='cmd=2 flags=0x5 preserve-vpn-flows=1 reclassify-vpn=0 tcpmss=1200 tcpmss-minimum=400 tcpmss-auto=1 preserve-timeout=5400 fast-resume=1 df-bit=1 tcp-state-bypass-mark=32 tcp-state-bypass-mask=48 fragmentation=1 label-vpn-flows=1'
all_run='sysopt connection tcpmss 1200
sysopt connection tcpmss minimum 400
no sysopt connection reclassify-vpn
sysopt connection preserve-vpn-flows
sysopt connection preserve-vpn-flows fast-resume
sysopt connection tcpmss auto
no sysopt connection tcpmss tunneled-only
timeout preserve-vpn-flows 1:30:00
sysopt connection label-vpn-flows
sysopt connection tcp-state-bypass mark 0x20/0x30
crypto ipsec df-bit clear-df
crypto ipsec fragmentation before-encryption'
conf one.conf "conn pres"
conf comments.conf "# nothing to do" ""
conf order.conf "connection tcpmss minimum 1000" "connection tcpmss 1400"
conf reject.conf "connection preserve-vpn-flows" "no connection tcpmss auto" "" \
	"connection tcpmss minimum 1300" "connection tcpmss 1250"
conf bad.conf "connection preserve-vpn-flows" "connection tcpmss 1000" \
	"connection tcpmss minimum 40"

state=$tmp/state
scenario=empty
expect "-f applies a file, silently"	0 "" -f "$tmp/all.conf"
expect_log "-f sends every option in one request" "$all_req"
expect "the options are the file's"	0 "$all_run" show running-config all
expect "-f again succeeds"		0 "" -f "$tmp/all.conf"
expect_log "-f again sends the same request" "$all_req"
expect "-f again changes nothing"	0 "$all_run" show running-config all
expect "-f - reads standard input"	0 "" -f - < "$tmp/all.conf"
expect_log "-f - sends the same request" "$all_req"

rm -f "$state"
expect "-f sends only what the file sets" 0 "" -f "$tmp/one.conf"
expect_log "-f of one line"		"cmd=2 flags=0x5 preserve-vpn-flows=1"
expect "-f of comments only"		0 "" -f "$tmp/comments.conf"
expect_log "-f of comments only sends nothing" ""
expect "the rest keeps its values"	0 "sysopt connection preserve-vpn-flows" show running-config
expect "fast-resume on"			0 "" connection preserve-vpn-flows fast-resume
expect_log "fast-resume sends its option alone" "cmd=2 flags=0x5 fast-resume=1"
expect "running-config: fast-resume right after preserve-vpn-flows" 0 "sysopt connection preserve-vpn-flows
sysopt connection preserve-vpn-flows fast-resume" show running-config
expect "no fast-resume"			0 "" no connection preserve-vpn-flows fast-resume
expect_log "no fast-resume sends 0"	"cmd=2 flags=0x5 fast-resume=0"
expect "running-config without fast-resume" 0 "sysopt connection preserve-vpn-flows" show running-config

V connection tcpmss 500 > /dev/null 2>&1
expect "-f: one request, so line order does not matter" 0 "" -f "$tmp/order.conf"
expect "tcpmss 1400 with minimum 1000"	0 "sysopt connection tcpmss 1400
sysopt connection tcpmss minimum 1000
sysopt connection preserve-vpn-flows" show running-config

rm -f "$state"
expect "-f: the kernel's rejection names the line" 2 "Error: vpnflow_preserve: tcpmss minimum cannot exceed tcpmss
$tmp/reject.conf:4: the kernel rejected \"sysopt connection tcpmss minimum\"
vpnsysopt: $tmp/reject.conf: nothing applied" -f "$tmp/reject.conf"
expect "a rejected file changes nothing" 0 "" show running-config
expect "-f: a bad line applies nothing"	1 "$tmp/bad.conf:3: tcpmss minimum 40 is out of range: must be 0 (off) or 48-65535
  connection tcpmss minimum 40
                            ^
vpnsysopt: $tmp/bad.conf: 1 error, nothing applied" -f "$tmp/bad.conf"
expect_log "-f: a bad line sends nothing" ""
scenario=eperm expect "-f without CAP_NET_ADMIN" 4 "Error: Operation not permitted
vpnsysopt: permission denied: changing options needs CAP_NET_ADMIN over the network namespace
vpnsysopt: $tmp/all.conf: nothing applied" -f "$tmp/all.conf"
expect "still nothing changed"		0 "" show running-config
scenario=
state=

echo "KTAP version 1"
echo "1..$num"
printf '%s\n' "${results[@]}"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[[ $fail == 0 ]]
