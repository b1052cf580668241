#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian packages (debian/, `make deb`): debian/changelog's version is
# VERSION's and debian/rules refuses to build when they differ; built from
# a clean copy of the tree (scripts/deb.sh), vpnflow-dkms holds exactly
# the tree of `make dkms-src`, its dkms.conf with VERSION's version, and
# registers it with DKMS on install and removes it on remove; vpnsysopt
# holds the CLI, both man pages, the bash completion and the systemd unit
# (enabled, pointing at /usr/sbin/vpnsysopt), and its one conffile,
# /etc/vpnsysopt.conf, which sets nothing as shipped (every command in it
# commented out, each a valid command once uncommented); lintian finds no error or warning but the overridden ones.
# Nothing is installed. About 30 s.
#
#   deb.sh
source "$(dirname "$0")/../lib.sh"
top=$VPNFLOW_TOP
for t in dpkg-buildpackage dpkg-parsechangelog lintian dh dh_dkms dh_bash-completion; do
	command -v "$t" >/dev/null || ktap_skip_all "no $t (scripts/deps.sh installs it)"
done
ktap_plan 21
tmp=$(mktemp -d)
defer rm -rf "$tmp"
version=$(cat "$top/VERSION")
out=$tmp/out

changelog=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
ktap_info "VERSION $version, debian/changelog ${changelog:-(none)}"
ktap_check "debian/changelog's version is VERSION's ($version)" [ "$changelog" = "$version" ]

# debian/rules with another VERSION: refused before anything is built.
mkdir -p "$tmp/other"
cp -r "$top/debian" "$tmp/other/"
echo 9.8.7 >"$tmp/other/VERSION"
ktap_check "debian/rules refuses a VERSION the changelog does not name" \
	sh -c "cd '$tmp/other' && ! make -s -f debian/rules clean >'$tmp/other.log' 2>&1 &&
		grep -q 'VERSION says 9.8.7' '$tmp/other.log'"

ktap_quiet "dpkg-buildpackage -us -uc -b builds from a clean copy (scripts/deb.sh)" \
	"$top/scripts/deb.sh" "$out"
dkms_deb=$out/vpnflow-dkms_${version}_all.deb
# first FILE...: the first that exists (of a glob's matches), or nothing.
first() { [ -e "$1" ] && echo "$1"; }
cli_deb=$(first "$out"/vpnsysopt_"${version}"_*.deb)
changes=$(first "$out"/vpnflow_"${version}"_*.changes)
dsc=$out/vpnflow_$version.dsc
ktap_check "vpnflow-dkms (all), vpnsysopt, .changes, .buildinfo and the source .dsc in the output" \
	sh -c "[ -f '$dkms_deb' ] && [ -f '${cli_deb:-/nonexistent}' ] && [ -f '$dsc' ] &&
		[ -f '${changes:-/nonexistent}' ] && ls '$out'/vpnflow_${version}_*.buildinfo >/dev/null"
if [ ! -f "$dkms_deb" ] || [ -z "$cli_deb" ]; then
	for _ in $(seq 5 21); do ktap_skip "no packages"; done
	ktap_finish
fi
for d in "$dkms_deb" "$cli_deb"; do
	ktap_info "$(basename "$d"): $(stat -c %s "$d") bytes"
done

# --- vpnsysopt ---
dpkg-deb -c "$cli_deb" | awk '{ print $NF }' | sed 's|^\./|/|' >"$tmp/cli.list"
has() { grep -qx "$2" "$tmp/$1.list"; }
ktap_check "vpnsysopt: /usr/sbin/vpnsysopt" has cli /usr/sbin/vpnsysopt
ktap_check "vpnsysopt: man pages vpnsysopt(8) and vpnflow_preserve(4)" \
	sh -c "grep -qx /usr/share/man/man8/vpnsysopt.8.gz '$tmp/cli.list' &&
		grep -qx /usr/share/man/man4/vpnflow_preserve.4.gz '$tmp/cli.list'"
ktap_check "vpnsysopt: bash completion" has cli /usr/share/bash-completion/completions/vpnsysopt
ktap_check "vpnsysopt: /etc/vpnsysopt.conf" has cli /etc/vpnsysopt.conf
unit=$(grep -Ex '(/usr)?/lib/systemd/system/vpnsysopt.service' "$tmp/cli.list")
ktap_check "vpnsysopt: the systemd unit ${unit:-(none)}" [ -n "$unit" ]

mkdir -p "$tmp/cli" "$tmp/cli-ctl"
dpkg-deb -x "$cli_deb" "$tmp/cli"
dpkg-deb -e "$cli_deb" "$tmp/cli-ctl"
ktap_check "its unit runs /usr/sbin/vpnsysopt -f /etc/vpnsysopt.conf, nothing left to fill in" \
	sh -c "grep -qx 'ExecStart=/usr/sbin/vpnsysopt -f /etc/vpnsysopt.conf' '$tmp/cli$unit' &&
		! grep -q @ '$tmp/cli$unit'"
ktap_check "the unit is enabled on install (dh_installsystemd)" \
	grep -q "deb-systemd-helper enable 'vpnsysopt.service'" "$tmp/cli-ctl/postinst"
ktap_check "one conffile, /etc/vpnsysopt.conf, and nothing else in /etc" \
	sh -c "[ \"\$(cat '$tmp/cli-ctl/conffiles')\" = /etc/vpnsysopt.conf ] &&
		[ \"\$(grep '^/etc/.' '$tmp/cli.list')\" = /etc/vpnsysopt.conf ]"
conf=$tmp/cli/etc/vpnsysopt.conf
ktap_check "as shipped it sets nothing: no line but comments and blanks" \
	sh -c "! grep -Ev '^[[:space:]]*(#|\$)' '$conf' | grep -q ."
# Uncommented, its commands are a valid file: vpnsysopt parses it whole
# and exits 1 on a bad line. Run in a new network namespace with a
# modprobe that fails, so that nothing of this machine is touched: exit 3
# (no module) or, where the module is loaded, 0 (applied to that netns).
sed -En 's/^#((no )?(sysopt|timeout) .*)/\1/p' "$conf" >"$tmp/uncommented.conf"
mkdir -p "$tmp/bin"
printf '#!/bin/sh\nexit 1\n' >"$tmp/bin/modprobe"
chmod 755 "$tmp/bin/modprobe"
PATH=$tmp/bin:$PATH unshare -n "$tmp/cli/usr/sbin/vpnsysopt" -f "$tmp/uncommented.conf" >"$tmp/unc.log" 2>&1
rc=$?
sed 's/^/# /' "$tmp/unc.log"
ktap_check "uncommented, its $(wc -l <"$tmp/uncommented.conf") commands are a valid file (exit $rc)" \
	sh -c "[ $(wc -l <"$tmp/uncommented.conf") -ge 4 ] && { [ $rc = 3 ] || [ $rc = 0 ]; }"
got=$("$tmp/cli/usr/sbin/vpnsysopt" -V 2>&1)
ktap_check "vpnsysopt -V: $got" sh -c "echo '$got' | grep -qw -- '$version'"

# --- vpnflow-dkms ---
src=/usr/src/vpnflow_preserve-$version
mkdir -p "$tmp/dkms" "$tmp/dkms-ctl"
dpkg-deb -x "$dkms_deb" "$tmp/dkms"
dpkg-deb -e "$dkms_deb" "$tmp/dkms-ctl"
got=$(bash -c '. "$1" && echo "$PACKAGE_NAME $PACKAGE_VERSION"' sh "$tmp/dkms$src/dkms.conf" 2>/dev/null)
ktap_check "vpnflow-dkms: $src/dkms.conf names vpnflow_preserve $version" \
	sh -c "[ '$got' = 'vpnflow_preserve $version' ] && ! grep -q @ '$tmp/dkms$src/dkms.conf'"
make -s -C "$top" dkms-src DKMS_DIR="$tmp/dkms-src" >/dev/null 2>&1
ktap_check "$src is the tree of make dkms-src, file for file" \
	diff -r "$tmp/dkms-src" "$tmp/dkms$src"
ktap_check "vpnflow-dkms: nothing outside /usr/src but its documentation, no conffile" \
	sh -c "! dpkg-deb -c '$dkms_deb' | awk '{ print \$NF }' |
		grep -Ev '^\./(usr/(share/(doc/)?|src/)?)?$|^\./usr/src/vpnflow_preserve-|^\./usr/share/doc/vpnflow-dkms/' |
		grep -q . && [ ! -s '$tmp/dkms-ctl/conffiles' ]"
ktap_check "postinst registers it with DKMS, prerm removes it (dh_dkms)" \
	sh -c "grep -q '^DKMS_NAME=vpnflow_preserve\$' '$tmp/dkms-ctl/postinst' &&
		grep -q '^DKMS_VERSION=$version\$' '$tmp/dkms-ctl/postinst' &&
		grep -q 'common.postinst' '$tmp/dkms-ctl/postinst' &&
		grep -q 'dkms remove -m \$DKMS_NAME -v \$DKMS_VERSION --all' '$tmp/dkms-ctl/prerm' &&
		grep -q '^DKMS_VERSION=$version\$' '$tmp/dkms-ctl/prerm'"
ktap_check "vpnflow-dkms depends on dkms, vpnsysopt recommends it" \
	sh -c "dpkg-deb -f '$dkms_deb' Depends | grep -qw dkms &&
		dpkg-deb -f '$cli_deb' Recommends | grep -qw vpnflow-dkms"

# --- lintian: the source package, the .changes with the .debs and the .buildinfo ---
lintian --fail-on error,warning -I "$dsc" "$changes" >"$tmp/lintian.log" 2>&1
rc=$?
grep -v 'running with root privileges' "$tmp/lintian.log" | sed 's/^/# lintian: /'
ktap_check "lintian: no error or warning that debian/*.lintian-overrides does not explain" \
	[ "$rc" = 0 ]
ktap_finish
