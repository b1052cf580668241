#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The README and the man pages list what the sources have: every keyword
# of vpnsysopt's keyword tables (as tools/fuzz/gen-dict.sh finds them) in
# the README's vpnsysopt section and in vpnsysopt(8)'s COMMANDS, every
# module parameter (module_param*() in kmod/) in the README's parameter
# list and in vpnflow_preserve(4)'s PARAMETERS.
source "$(dirname "$0")/../lib.sh"
top=$VPNFLOW_TOP
ktap_plan 4

keywords=$(sh "$top/tools/fuzz/gen-dict.sh" "$top/tools" | sed -n 's/^kw_[^=]*="\(.*\)"$/\1/p')
params=$(sed -n 's/^module_param[a-z_]*(\([a-z_0-9]*\),.*/\1/p' "$top"/kmod/*.c | sort -u)

# section FILE TITLE: the README section under TITLE (up to the next one).
section()
{
	awk -v t="$2" 'prev == t && /^-+$/ { on = 1 }
		       on && /^-+$/ && prev != t { exit }
		       on { print prev } { prev = $0 }' "$1"
}

# man_section FILE NAME: a man page's .SH NAME, its escapes undone.
man_section()
{
	awk -v t=".SH $2" '$0 == t { on = 1; next } on && /^\.SH / { exit } on' "$1" |
		sed 's/\\-/-/g; s/\\f[BIRP]//g'
}

# names_in WHAT TEXT NAME...: every NAME is a word of TEXT.
names_in()
{
	local what=$1 text=$2 missing='' n
	shift 2
	for n in "$@"; do
		grep -qw -- "$n" <<<"$text" || missing="$missing $n"
	done
	[ -z "$missing" ] || ktap_info "$what lacks:$missing"
	[ -z "$missing" ] && [ $# -gt 0 ]
}

# shellcheck disable=SC2086 # one word per keyword or parameter
ktap_check "README's vpnsysopt section names every command keyword" \
	names_in README "$(section "$top/README" vpnsysopt)" $keywords
# shellcheck disable=SC2086
ktap_check "vpnsysopt(8)'s COMMANDS name every command keyword" \
	names_in "vpnsysopt(8)" "$(man_section "$top/tools/vpnsysopt.8" COMMANDS)" $keywords
# shellcheck disable=SC2086
ktap_check "README names every module parameter" \
	names_in README "$(section "$top/README" "Configuration that survives a reboot")" $params
# shellcheck disable=SC2086
ktap_check "vpnflow_preserve(4)'s PARAMETERS name every module parameter" \
	names_in "vpnflow_preserve(4)" "$(man_section "$top/kmod/vpnflow_preserve.4" PARAMETERS)" $params
ktap_finish
