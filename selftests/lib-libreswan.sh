#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# libreswan (pluto) on lib-ipsec.sh's gateways, beside or instead of
# strongSwan's charon. Sourced after lib.sh and lib-ipsec.sh.
#
# Debian's libreswan conflicts with strongSwan, so it is not installed:
# selftests/vm/libreswan.sh (run by scripts/deps.sh) extracts bookworm's
# package into a root under the VM cache, which the guest sees at the
# same path (the host's file system over 9p). pluto, whack and addconn run
# from there; their shared libraries are installed packages.
#
# One pluto per gateway namespace, everything of it in $IPSEC_DIR/NAME
# (ipsec_init): ipsec.conf, ipsec.secrets, the NSS database nss/, run/
# (pluto.ctl, pluto.pid), pluto.log. At start pluto runs
# /usr/libexec/ipsec/addconn --autoall (a path compiled in): in pluto's
# own mount namespace (ip netns exec makes one) a folder with an addconn
# that reads NAME's ipsec.conf is mounted over /usr/libexec, so pluto
# loads, routes (auto=ondemand) and initiates (auto=start) its
# connections by itself, as libreswan's ipsec.service does.

LSW_ROOT=${VPNFLOW_LIBRESWAN_ROOT:-${VPNFLOW_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-vm}/libreswan/root}
LSW_BIN=$LSW_ROOT/usr/libexec/ipsec

# lsw_missing: why libreswan cannot run here (nothing: it can).
lsw_missing()
{
	[ -x "$LSW_BIN/pluto" ] || { echo "libreswan not extracted at $LSW_ROOT (selftests/vm/libreswan.sh)"; return; }
	command -v certutil >/dev/null || { echo "certutil (libnss3-tools) not installed"; return; }
	"$LSW_BIN/pluto" --version >/dev/null 2>&1 || echo "pluto does not run (its libraries: scripts/deps.sh)"
}

# lsw_conf NAME LOCAL REMOTE LOCAL_TS REMOTE_TS [KEY=VALUE...]: write
# NAME's ipsec.conf (connection "site", IKEv2, PSK, the proposals of
# ipsec_conf's defaults) and ipsec.secrets. Settings: auto=start|ondemand|add
# dpd=restart|hold|clear if=N (route-based: ipsec-interface=N).
# DPD as charon's in ipsec_conf: a liveness probe every 2 s, given up
# after 5 s of retransmissions (IKEv2 ignores dpdtimeout).
lsw_conf()
{
	local name=$1 l=$2 r=$3 lts=$4 rts=$5
	shift 5
	local auto=start dpd=restart ifn= kv me=$name peer d=$IPSEC_DIR/$name extra=
	for kv in "$@"; do
		case $kv in
		auto=*) auto=${kv#auto=} ;;
		dpd=*) dpd=${kv#dpd=} ;;
		if=*) ifn=${kv#if=} ;;
		esac
	done
	[ "$name" = gwa ] && peer=gwb || peer=gwa
	[ -z "$ifn" ] || extra="ipsec-interface=$ifn"
	mkdir -p "$d/run" "$d/nss" "$d/ipsec.d" "$d/libexec/ipsec"
	# <<- strips tabs only: the settings are indented with spaces.
	cat >"$d/ipsec.conf" <<-EOF
	config setup
	    logfile=$d/pluto.log
	    logtime=yes
	    dumpdir=$d/run
	    uniqueids=yes

	conn site
	    ikev2=insist
	    authby=secret
	    left=$l
	    leftid=@$me
	    leftsubnet=$lts
	    leftupdown=%disabled
	    right=$r
	    rightid=@$peer
	    rightsubnet=$rts
	    ike=aes128-sha2_256;dh19
	    esp=aes_gcm128
	    dpddelay=2
	    dpdtimeout=10
	    dpdaction=$dpd
	    retransmit-interval=500
	    retransmit-timeout=5
	    keyingtries=%forever
	    auto=$auto
	    $extra
	EOF
	cat >"$d/ipsec.secrets" <<-EOF
	@gwa @gwb : PSK "vpnflow-selftest-psk-not-secret"
	EOF
	chmod 600 "$d/ipsec.secrets"
	printf '#!/bin/sh\nexec %s --config %s "$@"\n' "$LSW_BIN/addconn" "$d/ipsec.conf" \
		>"$d/libexec/ipsec/addconn"
	chmod +x "$d/libexec/ipsec/addconn"
}

# lsw_pluto NETNS NAME: start pluto in NETNS with NAME's configuration
# (lsw_conf first); it loads the connection itself.
lsw_pluto()
{
	local ns=$1 d=$IPSEC_DIR/$2
	[ -d "$d/nss" ] || return 1
	[ -f "$d/nss/cert9.db" ] || certutil -N -d "sql:$d/nss" --empty-password || return 1
	ip netns exec "$ns" sh -c 'mount --bind "$1/libexec" /usr/libexec && shift && exec "$@"' sh "$d" \
		"$LSW_BIN/pluto" --nofork --config "$d/ipsec.conf" --rundir "$d/run" \
		--nssdir "$d/nss" --ipsecdir "$d/ipsec.d" --secretsfile "$d/ipsec.secrets" \
		>"$d/stdout" 2>&1 &
	echo $! >"$d/pid"
	# LSW_LOGS=DIR: pluto's log is kept there as NAME-pluto.log (after
	# pluto has stopped).
	[ -z "${LSW_LOGS:-}" ] || defer "cp $d/pluto.log $LSW_LOGS/$2-pluto.log"
	defer "kill \$(cat $d/pid) 2>/dev/null; sleep 0.2; kill -9 \$(cat $d/pid) 2>/dev/null"
	busywait 20000 test -S "$d/run/pluto.ctl"
}

# lsw_whack NAME ARGS...: whack against NAME's pluto.
lsw_whack()
{
	local name=$1
	shift
	"$LSW_BIN/whack" --ctlsocket "$IPSEC_DIR/$name/run/pluto.ctl" "$@"
}

# lsw_installed NAME: NAME's pluto has an IPsec SA of "site" (installed:
# pluto lists it only then).
lsw_installed()
{
	lsw_whack "$1" --trafficstatus 2>/dev/null | grep -q '"site".*type=ESP'
}

# gw_installed NAME: the tunnel is installed on gateway NAME, whichever
# daemon runs there (pluto: lsw_conf wrote its ipsec.conf).
gw_installed()
{
	if [ -f "$IPSEC_DIR/$1/ipsec.conf" ]; then lsw_installed "$1"; else child_installed "$1" net; fi
}
gws_installed() { gw_installed gwa && gw_installed gwb; }

# lsw_site_to_site [KEY=VALUE...]: pluto on both gateways, IPv4 site A <->
# site B (lsw_conf's settings).
lsw_site_to_site()
{
	ipsec_init
	lsw_conf gwa "$IPSEC_GWA_WAN" "$IPSEC_GWB_WAN" "$IPSEC_A_LAN" "$IPSEC_B_LAN" "$@" &&
		lsw_conf gwb "$IPSEC_GWB_WAN" "$IPSEC_GWA_WAN" "$IPSEC_B_LAN" "$IPSEC_A_LAN" "$@" &&
		lsw_pluto "$gwb" gwb && lsw_pluto "$gwa" gwa
}

# lsw_up [NAME]: initiate "site" from NAME's pluto (default gwa); wait
# until the tunnel is installed on both gateways.
lsw_up()
{
	local try
	for try in 1 2 3; do
		lsw_whack "${1:-gwa}" --name site --initiate --asynchronous >/dev/null 2>&1
		busywait 20000 gws_installed && return 0
	done
	return 1
}
