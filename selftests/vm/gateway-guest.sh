#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-gateway.sh's part in the gateway guest (gateway-image.sh), run by
# vpnflow-agent.service once each boot has finished, with the disk's boot
# count. Results go to the host's folder /mnt/ctl: test points to
# ktap.BOOT ("ok - ..." / "not ok - ...", numbered by the host), facts
# (times in microseconds since boot) to facts.BOOT.
#
#   boot 1  a fresh gateway, no vpnflow: the tunnel comes up by itself;
#           apt install ./vpnflow-dkms_*.deb ./vpnsysopt_*.deb (DKMS
#           builds the module here) changes nothing yet (its conffile
#           /etc/vpnsysopt.conf sets nothing); the operator's commands
#           written into it; systemctl reboot
#   boot 2  the options were applied before strongSwan brought the tunnel
#           up; show running-config is the file; poweroff
#   boot 3  (the host starts the guest again) the same; a download across
#           a flap survives, no cleartext; poweroff
#   boot 4  the upgrade to bookworm's 6.12 kernel (offline, from apt's
#           cache) makes DKMS build for it; its vmlinuz and initrd to the
#           host; poweroff
#   boot 5  (the host boots the 6.12 kernel) the module loads there and
#           the options are applied before the tunnel again; apt purge
#           leaves nothing behind; poweroff
# Under TCG a DKMS build takes about 5 minutes, the kernel upgrade of
# boot 4 more than 15 (check-gateway.sh gives that run more time).
#
# VPNFLOW_GW_LATE=1 (check-gateway.sh -n) is the negative control of the
# ordering check: boot 1 disables vpnsysopt.service, so that it does not
# run at boot; boot 2 runs the check (it must fail: never applied), then,
# once the tunnel is up, starts vpnsysopt.service and runs the check again
# (it must fail: applied after the tunnel came up); poweroff.
set -u
# Read whole before it runs: an edit of this file during a run does not
# change the run.
{
boot=$1
ctl=/mnt/ctl
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-ipsec.sh"
state=/var/lib/vpnflow-check
mkdir -p "$state"
out=$ctl/ktap.$boot
facts=$ctl/facts.$boot
: >"$out"
: >"$facts"
conf_text='sysopt connection preserve-vpn-flows
timeout preserve-vpn-flows 0:10:00'

ok() { echo "ok - boot $boot: $*" | tee -a "$out"; }
notok() { echo "not ok - boot $boot: $*" | tee -a "$out"; }
info() { echo "# $*" | tee -a "$out"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }
fact() { echo "$1=$2" | tee -a "$facts"; }

# The lab's names, as lib-ipsec.sh's helpers expect them; gwa is the
# initial namespace (vpnflow-lab attaches it under that name).
client=client gwa=gwa wan=wan gwb=gwb server=server
IPSEC_DIR=$state/ipsec
mkdir -p "$IPSEC_DIR/gwa" "$IPSEC_DIR/gwb"
ln -sfn /etc/strongswan.conf "$IPSEC_DIR/gwa/strongswan.conf"
ln -sfn /run/charon.vici "$IPSEC_DIR/gwa/vici"
ln -sfn /etc/vpnflow-lab/gwb/strongswan.conf "$IPSEC_DIR/gwb/strongswan.conf"
ln -sfn /var/lib/vpnflow-lab/gwb.vici "$IPSEC_DIR/gwb/vici"
VPNSYSOPT=/usr/sbin/vpnsysopt

# mono UNIT PROPERTY: a unit's monotonic timestamp (us since boot; 0: never).
mono() { systemctl show -P "$2" "$1"; }

# journal_mono ARGS... PATTERN: the monotonic time (us) of the first
# journal entry of this boot matching PATTERN (empty: none).
journal_mono()
{
	local pat=${*: -1}
	journalctl -b -o short-monotonic --no-pager "${@:1:$#-1}" --grep "$pat" 2>/dev/null |
		sed -n 's/^\[ *\([0-9]*\)\.\([0-9]*\)\].*/\1\2/p' | head -n 1
}

tunnel_up() { child_installed gwa net && child_installed gwb net; }

# boot_facts: when this boot reached multi-user.target, started charon and
# had its tunnel up; whether the tunnel came up by itself.
boot_facts()
{
	local state
	state=$(systemctl is-system-running)
	check "systemd is PID 1 and finished booting ($state)" \
		test "$(cat /proc/1/comm)" = systemd -a "$state" = running
	[ "$state" = running ] || info "failed units: $(systemctl --failed --plain --no-legend | tr '\n' ' ')"
	info "$(systemd-analyze 2>/dev/null | head -n 1)"
	fact kernel "$(uname -r)"
	# As on a stock Debian gateway: the lab's peer charon
	# (/usr/lib/ipsec/charon) runs under its enforced profile.
	check "AppArmor enforces charon's profile" \
		grep -qx '/usr/lib/ipsec/charon (enforce)' /sys/kernel/security/apparmor/profiles
	fact multi_user "$(mono multi-user.target ActiveEnterTimestampMonotonic)"
	fact strongswan_start "$(mono strongswan.service ExecMainStartTimestampMonotonic)"
	fact strongswan_active "$(mono strongswan.service ActiveEnterTimestampMonotonic)"
	if busywait 60000 tunnel_up; then
		ok "strongswan.service brought the tunnel up at boot (start_action=start)"
	else
		notok "strongswan.service brought the tunnel up at boot (start_action=start)"
		journalctl -b -u strongswan.service -u vpnflow-lab-gwb.service --no-pager | tail -n 30 | sed 's/^/# /'
	fi
	# charon-systemd logs a CHILD_SA's establishment once its SAs and
	# policies are installed.
	fact tunnel_up "$(journal_mono -u strongswan.service 'CHILD_SA net\{[0-9]+\} established')"
}

# options_before_tunnel: the module was loaded and /etc/vpnsysopt.conf
# applied before charon started, so before the tunnel came up; the module
# saw the tunnel's SAs and policies arrive. Fails when vpnsysopt.service
# did not run, failed, or finished after charon started or the tunnel
# came up.
options_before_tunnel()
{
	local loaded applied result start up sa pol
	loaded=$(journal_mono -k 'vpnflow_preserve: loaded')
	applied=$(mono vpnsysopt.service ExecMainExitTimestampMonotonic)
	result=$(systemctl show -P Result vpnsysopt.service)
	start=$(mono strongswan.service ExecMainStartTimestampMonotonic)
	up=$(journal_mono -u strongswan.service 'CHILD_SA net\{[0-9]+\} established')
	fact module_loaded "${loaded:-}"
	fact options_applied "$applied"
	info "module loaded at ${loaded:-never} us, options applied at $applied us ($result), charon started at $start us, tunnel up at ${up:-never} us"
	check "vpnsysopt.service ran and succeeded" \
		test "$result" = success -a "$(systemctl is-active vpnsysopt.service)" = active -a "${applied:-0}" -gt 0
	# The kernel log's stamps come from local_clock(), systemd's from
	# CLOCK_MONOTONIC: under TCG the two drift apart by milliseconds (a
	# CI run saw the module's log 1.7 ms "after" the unit's exit), so the
	# log is compared with charon's start, seconds later. vpnsysopt cannot
	# apply options before the module's init has finished.
	check "the module was loaded (its log) before strongSwan started" \
		test -n "$loaded" -a "${loaded:-0}" -lt "${start:-0}"
	check "the options were applied before strongSwan started and before the tunnel came up" \
		test "${applied:-0}" -gt 0 -a -n "$up" -a "${applied:-0}" -lt "$start" -a "$start" -lt "${up:-0}"
	sa=$("$VPNSYSOPT" show counters | awk '$1 == "sa-events" { print $2 }')
	pol=$("$VPNSYSOPT" show counters | awk '$1 == "policy-events" { print $2 }')
	check "the module saw the tunnel's SAs ($sa events) and policies ($pol) installed" \
		test "${sa:-0}" -ge 2 -a "${pol:-0}" -ge 2
	check "show running-config is /etc/vpnsysopt.conf" \
		test "$("$VPNSYSOPT" show running-config)" = "$(cat /etc/vpnsysopt.conf)"
}

# vpnflow_gone: nothing of the packages left: DKMS, sources, modules, what
# the install added to /etc (the unit's enablement, /etc/vpnsysopt.conf
# with the operator's edits).
vpnflow_gone()
{
	local left
	check "dkms status knows no vpnflow_preserve" sh -c '! dkms status | grep -q vpnflow'
	check "no vpnflow sources in /usr/src" sh -c '! ls -d /usr/src/vpnflow* 2>/dev/null'
	left=$(find /lib/modules/*/updates -name 'vpnflow*' 2>/dev/null)
	check "no vpnflow module under /lib/modules/*/updates${left:+ ($left)}" test -z "$left"
	check "no DKMS state in /var/lib/dkms" sh -c '! ls -d /var/lib/dkms/vpnflow* 2>/dev/null'
	left=
	while IFS= read -r f; do
		[ ! -e "$f" ] && [ ! -L "$f" ] || left+=" $f"
	done <"$state/etc-added"
	check "what the install added to /etc is gone${left:+ (left:$left)}" test -z "$left"
	left=$(dpkg-query -W -f='${Package} ${Status}\n' vpnflow-dkms vpnsysopt 2>/dev/null | grep -v not-installed)
	check "dpkg keeps nothing of the packages (not even their configuration)${left:+ ($left)}" test -z "$left"
}

case $boot in
1)
	boot_facts
	check "no vpnflow on a fresh gateway" sh -c '! test -d /sys/module/vpnflow_preserve && ! test -e /lib/systemd/system/vpnsysopt.service'
	find /etc | sort >"$state/etc-before"
	mkdir -p /root/debs
	cp "$ctl"/debs/*.deb /root/debs/
	t0=$(date +%s)
	if (cd /root/debs && apt-get install -y ./vpnflow-dkms_*.deb ./vpnsysopt_*.deb) >"$ctl/apt-install.log" 2>&1; then
		ok "apt install ./vpnflow-dkms_*.deb ./vpnsysopt_*.deb, offline ($(( $(date +%s) - t0 )) s)"
	else
		notok "apt install ./vpnflow-dkms_*.deb ./vpnsysopt_*.deb, offline"
		tail -n 20 "$ctl/apt-install.log" | sed 's/^/# /'
	fi
	check "DKMS built and installed the module for $(uname -r)" \
		sh -c "dkms status 2>/dev/null | grep 'vpnflow_preserve/.*, $(uname -r), .*: installed' >/dev/null"
	check "vpnsysopt.service is enabled" systemctl -q is-enabled vpnsysopt.service
	check "/etc/vpnsysopt.conf is vpnsysopt's conffile" \
		sh -c "dpkg-query -W -f='\${Conffiles}\n' vpnsysopt | grep -q '^ /etc/vpnsysopt.conf '"
	# dh_installsystemd started the unit; the shipped file sets nothing.
	check "the install changed nothing: vpnsysopt.service ran ($(systemctl is-active vpnsysopt.service)), no module loaded" \
		sh -c "systemctl -q is-active vpnsysopt.service && ! test -d /sys/module/vpnflow_preserve"
	# What the install added to /etc (the unit's enablement), for the purge.
	find /etc | sort | comm -13 "$state/etc-before" - >"$state/etc-added"
	info "the install added to /etc: $(echo $(cat "$state/etc-added"))"
	echo "$conf_text" >/etc/vpnsysopt.conf
	if [ "${VPNFLOW_GW_LATE:-0}" = 1 ]; then
		systemctl -q disable vpnsysopt.service
	fi
	sync
	info "rebooting"
	systemctl reboot
	;;
2)
	boot_facts
	if [ "${VPNFLOW_GW_LATE:-0}" = 1 ]; then
		# The check's verdicts, each kept apart; the one on the order
		# must be a failure both times.
		order='the options were applied before strongSwan started and before the tunnel came up'
		out0=$out
		out=$state/late-never
		: >"$out"
		options_before_tunnel >/dev/null
		out=$out0
		check "negative control, options never applied: the check fails" grep -qx "not ok - boot 2: $order" "$state/late-never"
		systemctl start vpnsysopt.service
		out=$state/late-after
		: >"$out"
		options_before_tunnel >/dev/null
		out=$out0
		check "negative control, options applied after the tunnel came up: the check fails" \
			grep -qx "not ok - boot 2: $order" "$state/late-after"
		sed 's/^/# late: /' "$state/late-never" "$state/late-after" | tee -a "$out"
		info "powering off"
		systemctl poweroff
		exit 0
	fi
	options_before_tunnel
	check "the module is DKMS's" sh -c 'modinfo -n vpnflow_preserve | grep -q "/updates/dkms/"'
	info "powering off"
	systemctl poweroff
	;;
3)
	boot_facts
	options_before_tunnel
	"$VPNSYSOPT" -n "$gwb" connection preserve-vpn-flows
	expect=$(python3 "$XFER" expect "$XFER_BYTES")
	XFER_GO=$state/xfer.go
	rm -f "$XFER_GO"
	if xfer_server && flap_download "$state/flap.xfer"; then :; fi
	info "download: $(cat "$state/flap.xfer" 2>/dev/null || echo nothing) (bytes sha256 s), want $expect; SAs gone: ${FLAP_SA_GONE:-?}; leaks: ${FLAP_LEAKS:-?}"
	check "the outage cleared the tunnel (DPD) and it came back" \
		test "${FLAP_SA_GONE:-0}" = 1 -a "${FLAP_TUNNEL_BACK:-1}" = 0
	check "the download completes byte-exact across the flap" \
		test "$(cut -d' ' -f1,2 "$state/flap.xfer" 2>/dev/null)" = "$expect"
	check "no cleartext packet of the tunnel's flows on the WAN during the outage" \
		test "${FLAP_LEAKS:-x}" = 0
	info "powering off"
	systemctl poweroff
	;;
4)
	boot_facts
	t0=$(date +%s)
	if apt-get install -y --no-download linux-image-6.12-amd64 linux-headers-6.12-amd64 \
		>"$ctl/apt-upgrade.log" 2>&1; then
		ok "kernel upgrade to linux-image-6.12-amd64, offline ($(( $(date +%s) - t0 )) s)"
	else
		notok "kernel upgrade to linux-image-6.12-amd64, offline"
		tail -n 20 "$ctl/apt-upgrade.log" | sed 's/^/# /'
	fi
	new=$(cd /boot && ls vmlinuz-6.12.* 2>/dev/null | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
	check "DKMS built and installed the module for ${new:-the new kernel}" \
		sh -c "[ -n '$new' ] && dkms status 2>/dev/null | grep 'vpnflow_preserve/.*, $new, .*: installed' >/dev/null &&
			modinfo -k '$new' -n vpnflow_preserve | grep -q /updates/dkms/"
	if [ -n "$new" ]; then
		cp "/boot/vmlinuz-$new" "$ctl/vmlinuz-next"
		cp "/boot/initrd.img-$new" "$ctl/initrd.img-next"
		echo "$new" >"$ctl/kver-next"
	fi
	sync
	info "powering off (the host boots ${new:-nothing} next)"
	systemctl poweroff
	;;
5)
	boot_facts
	check "this is the upgraded kernel ($(uname -r))" test "$(uname -r)" = "$(cat "$ctl/kver-next")"
	options_before_tunnel
	check "the module is DKMS's build for $(uname -r)" \
		sh -c 'modinfo -n vpnflow_preserve | grep -q "^/lib/modules/$(uname -r)/updates/dkms/"'
	if apt-get purge -y vpnflow-dkms vpnsysopt >"$ctl/apt-purge.log" 2>&1; then
		ok "apt purge vpnflow-dkms vpnsysopt"
	else
		notok "apt purge vpnflow-dkms vpnsysopt"
		tail -n 20 "$ctl/apt-purge.log" | sed 's/^/# /'
	fi
	vpnflow_gone
	sync
	info "powering off"
	systemctl poweroff
	;;
*)
	notok "unexpected boot"
	systemctl poweroff
	;;
esac
exit 0
}
