#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host tests of vpnsysopt: everything that needs no vpnflow_preserve module.
# Each case runs the CLI and checks its exit code and that its output
# (stdout and stderr together) contains a string; configuration files (-f)
# are made in a temporary folder. The last cases install into a DESTDIR
# and uninstall again. KTAP output.
#
#   tests/cli-host.sh [path/to/vpnsysopt]     (make -C tools check)
#
# Cases that expect "module not loaded" are skipped when the module is
# loaded; the -n /proc/self/ns/net case is skipped without root.

set -u

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${VPNSYSOPT:-$here/../vpnsysopt}}
version=$(cat "$here/../../VERSION" 2>/dev/null || echo unknown)

nomod='vpnflow_preserve module not loaded (try: modprobe vpnflow_preserve)'
mss_range='must be 0 (off) or 48-65535'
tmo_range='must be 0:00:01-596:31:23 (1-2147483 seconds)'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -a t_desc t_rc t_out t_args t_need t_in t_sh

# case DESCRIPTION EXIT-CODE SUBSTRING ARGS...
#   (in=FILE case_ ...: standard input from FILE, else /dev/null)
case_() {
	local desc=$1 rc=$2 out=$3

	shift 3
	t_desc+=("$desc")
	t_rc+=("$rc")
	t_out+=("$out")
	if (($#)); then
		t_args+=("$(printf '%q ' "$@")")
	else
		t_args+=("")
	fi
	if [[ $rc == 3 ]]; then
		t_need+=(nomod)
	else
		t_need+=("${need:-}")
	fi
	t_in+=("${in:-/dev/null}")
	t_sh+=("")
}

# sh_case DESCRIPTION EXIT-CODE SUBSTRING SHELL-CODE: a case that runs
# SHELL-CODE (with $bin, $tmp and $tools) instead of vpnsysopt ARGS.
sh_case() {
	case_ "$1" "$2" "$3"
	t_sh[${#t_sh[@]} - 1]=$4
}

# conf NAME LINES...: a configuration file $tmp/NAME, one line per LINE.
conf() {
	local name=$1

	shift
	printf '%s\n' "$@" > "$tmp/$name"
}

# Options, help, version.
tools=$(cd "$here/.." && pwd)
case_ "-h prints usage"			0 "Usage: vpnsysopt"	-h
case_ "--help prints usage"		0 "show running-config [all]" --help
case_ "usage lists show conn"		0 "show conn [active | preserved] [tunnel ID]" -h
case_ "usage lists monitor"		0 "monitor [count N]"	-h
case_ "help command prints usage"	0 "Usage: vpnsysopt"	help
case_ "-V prints the version"		0 "vpnsysopt $version"	-V
case_ "--version prints the version"	0 "vpnsysopt $version"	--version
case_ "no command is a usage error"	1 "Usage: vpnsysopt"
case_ "only options is a usage error"	1 "Usage: vpnsysopt"	-j
case_ "unknown option"			1 "Try 'vpnsysopt -h'"	-x show run
case_ "-n needs an argument"		1 "Try 'vpnsysopt -h'"	-n
case_ "-n rejects .."			1 'invalid network namespace name ".."' -n .. show run
case_ "empty keyword"			1 'unknown keyword ""; expected "no"' ""
case_ "help takes no argument"		1 'unexpected "x"'	help x

# -h and help list the commands the keyword tables make: every keyword
# of every table in the sources (struct kw, as fuzz/gen-dict.sh finds
# them) is in them, and every command they list parses (with a value in
# place of each placeholder, each optional word and each alternative in
# turn), so that neither can drift from the grammar.
help_commands() {
	"$bin" -h 2>/dev/null | sed -n '/^Commands/,/^$/s/^  //p' | python3 -c '
import re, sys
vals = {"N": "1", "ID": "1", "H:MM:SS": "1:00:00", "SECONDS": "60", "MARK[/MASK]": "0x10/0x30"}
def value(w):
    m = re.fullmatch(r"(\d+)-\d+", w)
    return m.group(1) if m else vals.get(w, w)
def alts(group):
    return [a.strip() for a in group[1:-1].split("|")]
for line in sys.stdin:
    nos = [""]
    if line.startswith("[no] "):
        line, nos = line[5:], ["", "no "]
    items = re.findall(r"\{[^}]*\}|\[[^]]*\]|\S+", line)
    base = [alts(i)[0] if i[0] == "{" else "" if i[0] == "[" else i for i in items]
    cmds = []
    for n, i in enumerate(items):
        for a in alts(i) if i[0] in "{[" else []:
            if i[0] == "[" or a != base[n]:
                cmds.append(base[:n] + [a] + base[n + 1:])
    for no in nos:
        for c in [base] + cmds:
            print(no + " ".join(value(w) for w in " ".join(c).split()))
'
}
for w in $(sh "$tools/fuzz/gen-dict.sh" "$tools" | sed -n 's/^kw_[^=]*="\(.*\)"$/\1/p'); do
	sh_case "-h lists the keyword \"$w\""	0 "listed" \
		"\"\$bin\" -h | sed '/^Options:/,\$d' | grep -qw -- '$w' && echo listed"
done
while read -r cmd; do
	read -ra words <<<"$cmd"
	if [[ $cmd == help ]]; then
		case_ "-h's command parses: $cmd" 0 "Usage: vpnsysopt" "${words[@]}"
	else
		case_ "-h's command parses: $cmd" 3 "$nomod" "${words[@]}"
	fi
done < <(help_commands)

# Keywords: unknown, suggestions, ambiguity, missing and extra words.
case_ "unknown top keyword lists all"	1 'unknown keyword "bogus"; expected "no", "sysopt", "connection", "timeout", "crypto", "show", "clear", "monitor" or "help"' bogus
case_ "typo suggests connection"	1 'unknown keyword "conection"; did you mean "connection"?' conection preserve-vpn-flows
case_ "typo suggests preserve-vpn-flows" 1 'unknown keyword "presrve"; did you mean "preserve-vpn-flows"?' connection presrve
case_ "transposition suggests show"	1 'unknown keyword "shwo"; did you mean "show"?' shwo run
case_ "typo suggests running-config"	1 'unknown keyword "runnign"; did you mean "running-config"?' show runnign
case_ "caret points at the bad word"	1 $'  connection presrve\n             ^' connection presrve
case_ "ambiguous abbreviation"		1 'ambiguous keyword "s"; did you mean "sysopt" or "show"?' s run
case_ "ambiguous abbreviation after no"	1 'unknown keyword "run"' no s run
case_ "incomplete command lists keywords" 1 'incomplete command; expected "running-config", "counters", "vpn-context", "conn" or "asp"' show
case_ "incomplete connection"		1 'expected "preserve-vpn-flows", "reclassify-vpn", "label-vpn-flows", "tcpmss" or "tcp-state-bypass"' connection
case_ "incomplete tcpmss"		1 'expected "minimum", "auto", "tunneled-only" or a number (0 or 48-65535)' connection tcpmss
case_ "missing tcpmss minimum value"	1 'incomplete command; expected a number (0 or 48-65535)' connection tcpmss minimum
case_ "missing timeout value"		1 'expected H:MM:SS or SECONDS' timeout preserve-vpn-flows
case_ "extra word"			1 'unexpected "extra" at the end of the command' connection reclassify-vpn extra
case_ "an interface name with \"#\""	1 'invalid interface name "eth#1"; expected 1-15 characters, none of "/", ":", "#" or white space' crypto ipsec df-bit clear-df "eth#1"
case_ "an interface name with \":\""	1 'invalid interface name "eth0:1"' no crypto ipsec fragmentation after-encryption eth0:1
case_ "unknown word after preserve-vpn-flows" 1 'unknown keyword "extra"; expected "fast-resume"' connection preserve-vpn-flows extra
case_ "extra word after fast-resume"	1 'unexpected "extra" at the end of the command' connection preserve-vpn-flows fast-resume extra
case_ "extra word after a value"	1 'unexpected "1400"' connection tcpmss 1380 1400
case_ "no is not valid with show"	1 '"no" is not valid with "show"' no show running-config
case_ "no is not valid with help"	1 '"no" is not valid with "help"' no help
case_ "sysopt only once"		1 'unknown keyword "sysopt"' sysopt sysopt connection preserve-vpn-flows
case_ "no only before sysopt"		1 'unknown keyword "no"' sysopt no connection preserve-vpn-flows
case_ "unknown tcpmss keyword"		1 'unknown keyword "maximum"' connection tcpmss maximum 1400
case_ "incomplete tcp-state-bypass"	1 'incomplete command; expected "mark"' connection tcp-state-bypass
case_ "missing bypass mark"		1 'incomplete command; expected MARK[/MASK], numbers (0x for hex), MARK not 0 and inside MASK' connection tcp-state-bypass mark
case_ "bypass mark not a number"	1 'invalid tcp-state-bypass mark "0x1g"' connection tcp-state-bypass mark 0x1g
case_ "bypass mask not a number"	1 'invalid tcp-state-bypass mark "16/x"' connection tcp-state-bypass mark 16/x
case_ "bypass mark too big"		1 'invalid tcp-state-bypass mark "0x100000000"' connection tcp-state-bypass mark 0x100000000
case_ "bypass mark outside its mask"	1 'tcp-state-bypass mark 0x11/0x10 has bits outside its mask' connection tcp-state-bypass mark 0x11/0x10
case_ "bypass mark 0"			1 'tcp-state-bypass mark 0/0xff would match unmarked packets' connection tcp-state-bypass mark 0/0xff
case_ "bypass mask 0"			1 'tcp-state-bypass mask 0 matches every packet' connection tcp-state-bypass mark 0/0
case_ "extra word after a bypass mark"	1 'unexpected "x" at the end of the command' connection tcp-state-bypass mark 0x10 x
case_ "show running-config junk"	1 'unknown keyword "sysopts"; expected "all"' show running-config sysopts

# show counters, clear counters, show vpn-context, show conn, monitor.
tid_alt='a tunnel id (0-4294967295, see show vpn-context)'
case_ "c is ambiguous"			1 'ambiguous keyword "c"; did you mean "connection", "crypto" or "clear"?' c counters
case_ "show co is ambiguous"		1 'ambiguous keyword "co"; did you mean "counters" or "conn"?' show co
case_ "incomplete clear"		1 'incomplete command; expected "counters"' clear
case_ "clear conn is not supported"	1 'unknown keyword "conn"; did you mean "counters"?' clear conn
case_ "clear junk lists counters"	1 'unknown keyword "xlate"; expected "counters"' clear xlate
case_ "clear counters takes no argument" 1 'unexpected "all" at the end of the command' clear counters all
case_ "no is not valid with clear"	1 '"no" is not valid with "clear"' no clear counters
case_ "no is not valid with monitor"	1 '"no" is not valid with "monitor"' no monitor
case_ "show counters takes no argument"	1 'unexpected "x"' show counters x
case_ "vpn-context typo suggests detail" 1 'unknown keyword "detial"; did you mean "detail"?' show vpn-context detial
case_ "vpn-context detail takes no argument" 1 'unexpected "3" at the end of the command' show vpn-context detail 3
case_ "incomplete show asp"		1 'incomplete command; expected "table"' show asp
case_ "incomplete show asp table"	1 'incomplete command; expected "vpn-context"' show asp table
case_ "show asp table junk"		1 'unknown keyword "conn"; expected "vpn-context"' show asp table conn
case_ "show conn junk lists filters"	1 'unknown keyword "bogus"; expected "active", "preserved" or "tunnel"' show conn bogus
case_ "show conn typo suggests preserved" 1 'unknown keyword "presreved"; did you mean "preserved"?' show conn presreved
case_ "show conn tunnel needs an id"	1 "incomplete command; expected $tid_alt" show conn tunnel
case_ "show conn tunnel id not a number" 1 "tunnel id \"x\" is not a number; expected $tid_alt" show conn tunnel x
case_ "show conn tunnel id negative"	1 'tunnel id "-1" is not a number' show conn tunnel -1
case_ "show conn tunnel id above u32"	1 'tunnel id 4294967296 is out of range: must be 0-4294967295' show conn tunnel 4294967296
case_ "show conn tunnel twice"		1 '"tunnel" given twice' show conn tunnel 1 tunnel 2
case_ "caret points at the second tunnel" 1 $'  show conn tunnel 1 tunnel 2\n                     ^' show conn tunnel 1 tunnel 2
case_ "show conn two states"		1 'only one of "active" and "preserved" may be given' show conn preserved active
case_ "show conn state twice"		1 'only one of "active" and "preserved" may be given' show conn active tunnel 3 active
case_ "monitor junk"			1 'unknown keyword "counts"; did you mean "count"?' monitor counts 3
case_ "monitor count needs N"		1 'incomplete command; expected a number of events (1-4294967295)' monitor count
case_ "monitor count 0"			1 'event count 0 is out of range: must be 1-4294967295' monitor count 0
case_ "monitor count not a number"	1 'event count "x" is not a number' monitor count x
case_ "monitor count above u32"		1 'event count 4294967296 is out of range' monitor count 4294967296
case_ "monitor count takes one value"	1 'unexpected "2" at the end of the command' monitor count 1 2

# Values, checked before anything is sent.
case_ "tcpmss below 48"			1 "tcpmss 47 is out of range: $mss_range" connection tcpmss 47
case_ "tcpmss above 65535"		1 "tcpmss 65536 is out of range: $mss_range" connection tcpmss 65536
case_ "tcpmss far above u32"		1 "tcpmss 99999999999999999999 is out of range" connection tcpmss 99999999999999999999
case_ "tcpmss not a number"		1 'tcpmss "12x" is not a number' connection tcpmss 12x
case_ "tcpmss negative"			1 'tcpmss "-5" is not a number' connection tcpmss -5
case_ "tcpmss minimum below 48"		1 "tcpmss minimum 1 is out of range: $mss_range" connection tcpmss minimum 1
case_ "no tcpmss checks its value"	1 "tcpmss 20 is out of range" no connection tcpmss 20
case_ "timeout 0"			1 "preserve-vpn-flows timeout 0 is out of range: $tmo_range" timeout preserve-vpn-flows 0
case_ "timeout above the maximum"	1 "timeout 2147484 is out of range" timeout preserve-vpn-flows 2147484
case_ "timeout H:MM:SS above the maximum" 1 "timeout 596:31:24 is out of range" timeout preserve-vpn-flows 596:31:24
case_ "timeout 0:00:00"			1 "timeout 0:00:00 is out of range" timeout preserve-vpn-flows 0:00:00
case_ "timeout minutes over 59"		1 'invalid preserve-vpn-flows timeout "1:60:00"' timeout preserve-vpn-flows 1:60:00
case_ "timeout with two fields"		1 'invalid preserve-vpn-flows timeout "1:00"' timeout preserve-vpn-flows 1:00
case_ "timeout not a number"		1 'invalid preserve-vpn-flows timeout "1h"' timeout preserve-vpn-flows 1h

# Valid commands: parsed, then the family lookup fails.
case_ "show running-config"		3 "$nomod" show running-config
case_ "sh run all"			3 "$nomod" sh run all
case_ "upper case keywords"		3 "$nomod" SHOW RUN ALL
case_ "show counters"			3 "$nomod" show counters
case_ "-j show counters"		3 "$nomod" -j show counters
case_ "-p show running-config"		3 "$nomod" -p show running-config
case_ "conn pres"			3 "$nomod" conn pres
case_ "no connection reclassify-vpn"	3 "$nomod" no connection reclassify-vpn
case_ "connection tcpmss 48"		3 "$nomod" connection tcpmss 48
case_ "connection tcpmss 65535"		3 "$nomod" connection tcpmss 65535
case_ "connection tcpmss auto"		3 "$nomod" connection tcpmss auto
case_ "no connection tcpmss"		3 "$nomod" no connection tcpmss
case_ "no connection tcpmss minimum"	3 "$nomod" no connection tcpmss minimum
case_ "no timeout preserve-vpn-flows"	3 "$nomod" no timeout preserve-vpn-flows
case_ "timeout in seconds, maximum"	3 "$nomod" timeout preserve-vpn-flows 2147483
case_ "timeout H:MM:SS, maximum"	3 "$nomod" timeout preserve-vpn-flows 596:31:23
case_ "run-config line: tcpmss"		3 "$nomod" sysopt connection tcpmss 1380
case_ "run-config line: tcpmss minimum"	3 "$nomod" sysopt connection tcpmss minimum 0
case_ "run-config line: reclassify-vpn"	3 "$nomod" sysopt connection reclassify-vpn
case_ "run-config line: no preserve"	3 "$nomod" no sysopt connection preserve-vpn-flows
case_ "run-config line: fast-resume"	3 "$nomod" sysopt connection preserve-vpn-flows fast-resume
case_ "run-config line: no fast-resume"	3 "$nomod" no sysopt connection preserve-vpn-flows fast-resume
case_ "fast-resume abbreviated"		3 "$nomod" conn pres fast
case_ "run-config line: no tcpmss auto"	3 "$nomod" no sysopt connection tcpmss auto
case_ "run-config line: timeout"	3 "$nomod" timeout preserve-vpn-flows 1:00:00
case_ "clear counters"			3 "$nomod" clear counters
case_ "cl cou"				3 "$nomod" cl cou
case_ "show vpn-context"		3 "$nomod" show vpn-context
case_ "sh vpn det"			3 "$nomod" sh vpn det
case_ "-j show vpn-context detail"	3 "$nomod" -j show vpn-context detail
case_ "show asp table vpn-context"	3 "$nomod" show asp table vpn-context
case_ "sh asp tab vpn detail"		3 "$nomod" sh asp tab vpn detail
case_ "show conn"			3 "$nomod" show conn
case_ "-j show conn"			3 "$nomod" -j show conn
case_ "show conn preserved"		3 "$nomod" show conn preserved
case_ "show conn active"		3 "$nomod" show conn active
case_ "show conn tunnel 0"		3 "$nomod" show conn tunnel 0
case_ "show conn tunnel 4294967295"	3 "$nomod" show conn tunnel 4294967295
case_ "show conn pres tun 3"		3 "$nomod" show conn pres tun 3
case_ "show conn tunnel 3 preserved"	3 "$nomod" show conn tunnel 3 preserved
case_ "monitor"				3 "$nomod" monitor
case_ "-j monitor count 1"		3 "$nomod" -j monitor count 1
case_ "monitor count 4294967295"	3 "$nomod" monitor count 4294967295

# Configuration files (-f): parsed whole before anything is sent.
ok_nomod='vpnflow_preserve module not loaded'
conf good.conf "# a comment" "" "connection preserve-vpn-flows" \
	"  no   connection   reclassify-vpn   # on the ASA's side too" \
	"conn tcpmss 1300" "connection tcpmss minimum 400" "sysopt connection tcpmss auto" \
	"timeout preserve-vpn-flows 1:30:00" "no timeout preserve-vpn-flows" \
	"connection tcpmss 1200"
conf runall.conf "sysopt connection tcpmss 1380" "sysopt connection tcpmss minimum 0" \
	"sysopt connection reclassify-vpn" "no sysopt connection preserve-vpn-flows" \
	"no sysopt connection tcpmss auto" "timeout preserve-vpn-flows 1:00:00"
conf comments.conf "# nothing but comments" "" "   " "	# indented"
conf bad3.conf "connection preserve-vpn-flows" "# line 2" "connection tcpmss 47" \
	"timeout preserve-vpn-flows 1:00:00"
conf bad2x.conf "connection preserve-vpn-flows" "conection reclassify-vpn" \
	"connection tcpmss 1200" "" "timeout preserve-vpn-flows 1h"
conf show.conf "connection preserve-vpn-flows" "show running-config all"
conf sh.conf "sh run"
conf clear.conf "clear counters"
conf monitor.conf "monitor count 1"
conf help.conf "help"
conf noshow.conf "no show counters"
conf bogus.conf "bogus"
conf s.conf "s connection preserve-vpn-flows"
conf missing.conf "connection tcpmss minimum"
conf trailing.conf "connection reclassify-vpn now"
conf hash.conf "connection preserve-vpn-flows# no space before the comment"
printf 'connection preserve-vpn-flows\r\nno connection tcpmss auto\r\n' > "$tmp/crlf.conf"
printf 'connection preserve-vpn-flows' > "$tmp/noeol.conf"
printf 'connection\0preserve-vpn-flows\n' > "$tmp/nul.conf"
printf 'connection preserve-vpn-flows %5000s\n' x > "$tmp/long.conf"
for i in $(seq 12); do echo "bogus $i"; done > "$tmp/many.conf"
mkdir "$tmp/dir.conf"

case_ "usage lists -f"			0 "-f, --file FILE"	-h
case_ "-f: a file is parsed, then sent"	3 "$ok_nomod"		-f "$tmp/good.conf"
case_ "-f: show running-config all output is a file" 3 "$ok_nomod" -f "$tmp/runall.conf"
case_ "-f: --file"			3 "$ok_nomod"		--file "$tmp/runall.conf"
# A file that sets nothing (the package's /etc/vpnsysopt.conf) sends no
# request and loads no module; one that sets an option runs modprobe.
mkdir "$tmp/rec"
printf '#!/bin/sh\necho "$*" >>"%s/rec/runs"\nexit 1\n' "$tmp" >"$tmp/rec/modprobe"
chmod 755 "$tmp/rec/modprobe"
sh_case "-f: comments and blank lines only set nothing, load nothing" 0 "exit 0, modprobe runs: 0" \
	'rm -f "$tmp/rec/runs"; PATH="$tmp/rec:$PATH" "$bin" -f "$tmp/comments.conf"; echo "exit $?, modprobe runs: $(cat "$tmp/rec/runs" 2>/dev/null | wc -l)"'
sh_case "-f: a file that sets an option loads the module" 0 "exit 3, modprobe runs: 1" \
	'rm -f "$tmp/rec/runs"; PATH="$tmp/rec:$PATH" "$bin" -f "$tmp/good.conf" 2>/dev/null; echo "exit $?, modprobe runs: $(cat "$tmp/rec/runs" 2>/dev/null | wc -l)"'
case_ "-f: a file that sets nothing still needs its -n namespace" 5 'cannot open network namespace "vpnsysopt-no-such-ns"' -n vpnsysopt-no-such-ns -f "$tmp/comments.conf"
case_ "-f: a comment right after a word" 3 "$ok_nomod"	-f "$tmp/hash.conf"
case_ "-f: CRLF line ends"		3 "$ok_nomod"		-f "$tmp/crlf.conf"
case_ "-f: no newline at the end"	3 "$ok_nomod"		-f "$tmp/noeol.conf"
case_ "-f: s is sysopt (show is no candidate)" 3 "$ok_nomod" -f "$tmp/s.conf"
in=$tmp/good.conf case_ "-f -: standard input" 3 "$ok_nomod" -f -
case_ "-f: an error names file and line" 1 "$tmp/bad3.conf:3: tcpmss 47 is out of range: $mss_range" -f "$tmp/bad3.conf"
case_ "-f: the bad line's words and a caret" 1 $'\n  connection tcpmss 47\n                    ^\n' -f "$tmp/bad3.conf"
case_ "-f: a bad line applies nothing (no module lookup)" 1 "vpnsysopt: $tmp/bad3.conf: 1 error, nothing applied" -f "$tmp/bad3.conf"
case_ "-f: every bad line is reported (1)" 1 "$tmp/bad2x.conf:2: unknown keyword \"conection\"; did you mean \"connection\"?" -f "$tmp/bad2x.conf"
case_ "-f: every bad line is reported (2)" 1 "$tmp/bad2x.conf:5: invalid preserve-vpn-flows timeout \"1h\"" -f "$tmp/bad2x.conf"
case_ "-f: error count"			1 "$tmp/bad2x.conf: 2 errors, nothing applied" -f "$tmp/bad2x.conf"
in=$tmp/bad3.conf case_ "-f -: errors name <stdin>" 1 "<stdin>:3: tcpmss 47 is out of range" -f -
case_ "-f: show is not allowed"		1 "$tmp/show.conf:2: \"show\" is not allowed in a configuration file; only \"connection\", \"timeout\" and \"crypto\" commands are" -f "$tmp/show.conf"
case_ "-f: sh run is named show"	1 "$tmp/sh.conf:1: \"show\" is not allowed" -f "$tmp/sh.conf"
case_ "-f: clear is not allowed"	1 "$tmp/clear.conf:1: \"clear\" is not allowed" -f "$tmp/clear.conf"
case_ "-f: monitor is not allowed"	1 "$tmp/monitor.conf:1: \"monitor\" is not allowed" -f "$tmp/monitor.conf"
case_ "-f: help is not allowed"		1 "$tmp/help.conf:1: \"help\" is not allowed" -f "$tmp/help.conf"
case_ "-f: no show"			1 "$tmp/noshow.conf:1: \"no\" is not valid with \"show\"" -f "$tmp/noshow.conf"
case_ "-f: unknown keyword lists config commands only" 1 "$tmp/bogus.conf:1: unknown keyword \"bogus\"; expected \"no\", \"sysopt\", \"connection\", \"timeout\" or \"crypto\"" -f "$tmp/bogus.conf"
case_ "-f: missing value"		1 "$tmp/missing.conf:1: incomplete command; expected a number (0 or 48-65535)" -f "$tmp/missing.conf"
case_ "-f: trailing word"		1 "$tmp/trailing.conf:1: unexpected \"now\" at the end of the command" -f "$tmp/trailing.conf"
case_ "-f: a NUL character"		1 "$tmp/nul.conf:1: a NUL character" -f "$tmp/nul.conf"
case_ "-f: a line too long"		1 "$tmp/long.conf:1: line too long" -f "$tmp/long.conf"
case_ "-f: gives up after 10 errors"	1 "$tmp/many.conf: too many errors, nothing applied" -f "$tmp/many.conf"
case_ "-f: reports 10 errors at most"	1 "$tmp/many.conf:10: unknown keyword \"bogus\"" -f "$tmp/many.conf"
case_ "-f of a missing file"		5 "cannot open \"$tmp/nope.conf\": No such file or directory" -f "$tmp/nope.conf"
case_ "-f of a folder"			5 "$tmp/dir.conf: read error: Is a directory" -f "$tmp/dir.conf"
case_ "-f takes no command"		1 '-f takes no command ("show")' -f "$tmp/good.conf" show run
case_ "-f needs an argument"		1 "Try 'vpnsysopt -h'"	-f
case_ "-f FILE -V only prints the version" 0 "vpnsysopt $version" -f "$tmp/bad3.conf" -V
case_ "-f FILE -h only prints usage"	0 "Usage: vpnsysopt"	-f "$tmp/nope.conf" -h
case_ "-f: the file is checked before -n" 1 "$tmp/bad3.conf:3:" -n vpnsysopt-no-such-ns -f "$tmp/bad3.conf"
case_ "-f with -n of a missing namespace" 5 'cannot open network namespace "vpnsysopt-no-such-ns"' -n vpnsysopt-no-such-ns -f "$tmp/good.conf"

# Network namespaces.
case_ "-n of a missing namespace"	5 'cannot open network namespace "vpnsysopt-no-such-ns"' -n vpnsysopt-no-such-ns show running-config
need=root
case_ "-n with a path enters it"	3 "$nomod" -n /proc/self/ns/net show running-config
need=

# bash completion of -f.
complete_() {
	(
		source "$tools/vpnsysopt.bash-completion"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMPREPLY=()
		_vpnsysopt
		echo "completions: ${COMPREPLY[*]}."
	)
}
sh_case "completion offers -f and --file" 0 "completions: -n -f -j -p -V -h --netns --file --json --pretty --version --help." \
	'complete_ vpnsysopt -'
sh_case "completion of -f is a file name" 0 "completions: $tmp/good.conf." \
	'complete_ vpnsysopt -f "$tmp/goo"'
sh_case "completion: no command after -f FILE" 0 "completions: ." \
	'complete_ vpnsysopt -n blue -f "$tmp/good.conf" ""'
sh_case "completion without -f is unchanged" 0 "completions: sysopt no connection timeout show clear monitor help." \
	'complete_ vpnsysopt -n blue ""'

# make install / uninstall into a DESTDIR: the unit with the sbin path,
# the example configuration (a valid file), and nothing left behind.
root=$tmp/root
unit=$root/lib/systemd/system/vpnsysopt.service
example=$root/usr/share/doc/vpnflow/vpnsysopt.conf.example
sh_case "make install"			0 "" \
	'make -s -C "$tools" install DESTDIR="$root" PREFIX=/usr'
sh_case "unit runs the installed vpnsysopt" 0 "ExecStart=/usr/sbin/vpnsysopt -f /etc/vpnsysopt.conf" 'cat "$unit"'
sh_case "unit leaves loading the module to vpnsysopt" 0 "modprobe lines: 0" 'echo "modprobe lines: $(grep -c modprobe "$unit")"'
sh_case "unit is ordered before strongSwan" 0 "Before=strongswan.service strongswan-starter.service" 'cat "$unit"'
sh_case "unit is ordered before conntrackd and keepalived" 0 "Before=conntrackd.service keepalived.service" 'cat "$unit"'
sh_case "unit only runs with /etc/vpnsysopt.conf" 0 "ConditionPathExists=/etc/vpnsysopt.conf" 'cat "$unit"'
sh_case "unit has no placeholder left"	0 "placeholders: 0" 'echo "placeholders: $(grep -c @ "$unit")"'
need=systemd-analyze
sh_case "systemd-analyze verify finds nothing in the unit" 0 "verify: clean" \
	'mkdir "$tmp/verify" &&
	 sed "s|@SBINDIR@|$tools|" "$tools/vpnsysopt.service" > "$tmp/verify/vpnsysopt.service" &&
	 v=$(systemd-analyze verify --man=no "$tmp/verify/vpnsysopt.service" 2>&1 |
	     grep -v "/sbin/modprobe is not executable") ; echo "${v:-verify: clean}"'
need=
sh_case "example configuration is installed" 0 "preserve-vpn-flows" 'cat "$example"'
sh_case "example configuration sets nothing as installed" 0 "exit 0, modprobe runs: 0" \
	'rm -f "$tmp/rec/runs"; PATH="$tmp/rec:$PATH" "$bin" -f "$example"; echo "exit $?, modprobe runs: $(cat "$tmp/rec/runs" 2>/dev/null | wc -l)"'
sh_case "example configuration uncommented is a valid file" 3 "$ok_nomod" \
	'sed -E "s/^#((no )?(sysopt|timeout) )/\\1/" "$example" >"$tmp/uncommented.conf" && "$bin" -f "$tmp/uncommented.conf"'
sh_case "SYSTEMDUNITDIR"		0 "$tmp/units/vpnsysopt.service" \
	'make -s -C "$tools" install DESTDIR="$tmp/root2" SYSTEMDUNITDIR=/units && ls "$tmp/root2/units/vpnsysopt.service" | sed "s|$tmp/root2|$tmp|"'
sh_case "make uninstall leaves nothing behind" 0 "files left: 0" \
	'make -s -C "$tools" uninstall DESTDIR="$root" PREFIX=/usr && echo "files left: $(find "$root" -type f | wc -l)"'

if [[ ! -x $bin ]]; then
	echo "$0: $bin: not an executable (build it with make -C tools)" >&2
	exit 1
fi

n=${#t_desc[@]}
pass=0
fail=0
skip=0

echo "KTAP version 1"
echo "1..$n"
for ((i = 0; i < n; i++)); do
	num=$((i + 1))
	desc=${t_desc[i]}

	if [[ ${t_need[i]} == nomod && -d /sys/module/vpnflow_preserve ]]; then
		echo "ok $num $desc # SKIP vpnflow_preserve is loaded"
		skip=$((skip + 1))
		continue
	fi
	if [[ ${t_need[i]} == root && $(id -u) != 0 ]]; then
		echo "ok $num $desc # SKIP needs root"
		skip=$((skip + 1))
		continue
	fi
	if [[ ${t_need[i]} == systemd-analyze ]] &&
	   ! command -v systemd-analyze > /dev/null; then
		echo "ok $num $desc # SKIP needs systemd-analyze"
		skip=$((skip + 1))
		continue
	fi

	if [[ -n ${t_sh[i]} ]]; then
		out=$(eval "${t_sh[i]}" 2>&1)
		rc=$?
	else
		eval "set -- ${t_args[i]}"
		out=$("$bin" "$@" < "${t_in[i]}" 2>&1)
		rc=$?
	fi
	if [[ $rc == "${t_rc[i]}" && $out == *"${t_out[i]}"* ]]; then
		echo "ok $num $desc"
		pass=$((pass + 1))
		continue
	fi
	echo "not ok $num $desc"
	if [[ -n ${t_sh[i]} ]]; then
		echo "# shell code:"
		echo "#   ${t_sh[i]//$'\n'/$'\n'#   }"
	else
		echo "# command: vpnsysopt ${t_args[i]}"
	fi
	echo "# expected exit ${t_rc[i]} and output containing:"
	echo "#   ${t_out[i]//$'\n'/$'\n'#   }"
	echo "# got exit $rc and output:"
	echo "#   ${out//$'\n'/$'\n'#   }"
	fail=$((fail + 1))
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[[ $fail == 0 ]]
