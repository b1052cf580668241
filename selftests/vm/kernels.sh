#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian kernels the test VM boots, each with the userland of the suite
# it comes from, as a gateway running it has. Versions are never pinned:
# each target's kernel is the one its suite's linux-image-amd64 (or
# linux-image-6.12-amd64) depends on today.
#
#   target            kernel from                       built with  VM root
#   bullseye          bullseye, bullseye-security       gcc-10      host
#   bookworm          bookworm, bookworm-security       gcc-12      host
#   bookworm-6.12     bookworm-security (linux-6.12)    gcc-12      host
#   trixie            trixie, trixie-security           gcc-14      trixie
#   trixie-backports  trixie-backports                  gcc-14      trixie
#   sid               sid                               gcc-16      host
#
# The host's own suite (bookworm) comes from the host's apt (scripts/deps.sh
# installs those kernels and headers). Every other suite gets a debootstrap
# root under the cache, from the archive the host's apt sources name, with
# the suite's compiler and headers installed by that root's apt: modules
# for its kernels are built, and DKMS runs, inside it. The trixie root is
# also a Debian 13 gateway (strongSwan 6, its iproute2, nftables,
# conntrack), the VM's root for the trixie kernels; bullseye's and sid's
# kernels boot under the host's userland, their modules taken from their
# root.
#
#   kernels.sh list                   the targets, one a line
#   kernels.sh prepare TARGET         download what TARGET needs; print its release
#   kernels.sh info TARGET            print KVER=, ROOT= (build root), VMROOT=, CC=, CI=
#   kernels.sh locate KVER            print the root whose /usr/lib/modules has KVER
#   kernels.sh table                  the README's "Supported kernels" rows, as
#                                     the prepared targets are today
#   kernels.sh run TARGET CMD...      run CMD in TARGET's build root (cwd kept
#                                     when it is under the source tree)
#   kernels.sh archive                print the archive and security archive
#                                     URIs of the host's apt sources
#
# Cache: ${VPNFLOW_VM_CACHE:-~/.cache/vpnflow-vm}/roots. A kernel that
# cannot be downloaded is an error (exit 1), never a skip.
set -eu -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${VPNFLOW_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-vm}
roots=$cache/roots

die() { echo "kernels: $*" >&2; exit 1; }

targets="bullseye bookworm bookworm-6.12 trixie trixie-backports sid"

# target_def TARGET: sets suite (of the build root; "host" for the host),
# ksuites (where its kernel's metapackage is looked up), meta (that
# metapackage), gcc, vmroot, label (for the README) and ci: what `make
# check` runs on it (all: the whole suite; core; short: build, DKMS,
# load/unload and the CLI, for a kernel whose series, or a newer one of
# its major version, gets the core elsewhere).
target_def()
{
	meta=linux-image-amd64
	vmroot=host
	ci=core
	case $1 in
	bullseye) suite=bullseye; ksuites="bullseye bullseye-security"; gcc=gcc-10
		label="Debian 11 bullseye" ;;
	bookworm) suite=host; ksuites=; gcc=gcc-12; ci=all
		label="Debian 12 bookworm" ;;
	bookworm-6.12) suite=host; ksuites=; gcc=gcc-12; meta=linux-image-6.12-amd64; ci=short
		label="Debian 12 bookworm, linux-image-6.12-amd64" ;;
	trixie) suite=trixie; ksuites="trixie trixie-security"; gcc=gcc-14; vmroot=trixie
		label="Debian 13 trixie" ;;
	trixie-backports) suite=trixie; ksuites="trixie-backports"; gcc=gcc-14; vmroot=trixie
		label="Debian 13 trixie, trixie-backports" ;;
	sid) suite=sid; ksuites="sid"; gcc=gcc-16; ci=short
		label="Debian unstable (sid)" ;;
	*) die "unknown target '$1' (kernels.sh list)" ;;
	esac
}

# The archive and security archive the host's apt uses (one-line and
# deb822 sources): the first URI serving the host's suite, and the first
# serving its -security suite.
archive_uris()
{
	local codename
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	{ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
		sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]\+\)[[:space:]]\+\([^[:space:]]\+\).*/\2 \3/p'
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'function flush() { if (uris != "" && en != "no" && types ~ /(^| )deb( |$)/) {
				n = split(uris, u, " "); m = split(suites, s, " ")
				for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j] }
				uris = suites = types = en = "" }
			/^[[:space:]]*$/ { flush(); next }
			tolower($1) == "uris:" { $1 = ""; uris = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "types:" { $1 = ""; types = $0 " " }
			tolower($1) == "enabled:" { en = tolower($2) }
			END { flush() }' "$f"
	done | awk -v c="$codename" '
		$2 == c && !m { m = $1 }
		$2 == c "-security" && !s { s = $1 }
		END { if (m == "" || s == "") exit 1; print m, s }'
}

# in_root ROOT CMD...: CMD in the chroot ROOT, with /dev, /proc and the
# source tree (at its own path) bound in a private mount namespace.
in_root()
{
	local root=$1
	shift
	mkdir -p "$root$top"
	unshare -m --propagation private -- /bin/sh -c '
		root=$1 top=$2; shift 2
		mount --rbind /dev "$root/dev" && mount -t proc proc "$root/proc" &&
		mount --bind "$top" "$root$top" && exec chroot "$root" "$@"' \
		sh "$root" "$top" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

# What every root has: the compiler and tools to build the module and
# vpnsysopt, and DKMS. The trixie root is also the VM's gateway userland.
build_pkgs="make libc6-dev dwarves kmod dkms pkg-config libmnl-dev xz-utils"
gateway_pkgs="strongswan-charon strongswan-swanctl strongswan-libcharon
	libstrongswan-standard-plugins libstrongswan-extra-plugins
	iproute2 iptables nftables conntrack tcpdump socat iperf3 netcat-openbsd
	procps psmisc util-linux iputils-ping python3 gawk diffutils hostname"

# make_root SUITE: debootstrap it (once), and keep its package set current.
make_root()
{
	local s=$1 root=$roots/$1 uris mirror sec pkgs stamp
	read -r mirror sec < <(archive_uris) ||
		die "cannot find the Debian archive in the host's apt sources"
	pkgs="$build_pkgs"
	case $s in
	bullseye) pkgs="$pkgs gcc-10" ;;
	trixie) pkgs="$pkgs gcc-14 gcc $gateway_pkgs" ;;
	sid) pkgs="$pkgs gcc-16" ;;
	esac
	pkgs=$(echo $pkgs)
	if [ ! -f "$root/.vpnflow-root" ]; then
		command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/deps.sh)"
		rm -rf "$root.new"
		mkdir -p "$roots"
		echo "kernels: debootstrap $s into $root" >&2
		debootstrap --variant=minbase --include=ca-certificates "$s" "$root.new" "$mirror" >&2 ||
			die "debootstrap of $s from $mirror failed"
		{
			echo "deb $mirror $s main"
			[ "$s" = sid ] || echo "deb $sec $s-security main"
			[ "$s" != trixie ] || echo "deb $mirror $s-backports main"
		} >"$root.new/etc/apt/sources.list"
		mv "$root.new" "$root"
		: >"$root/.vpnflow-root"
	fi
	# The roots use the host's archive: they follow the host's apt where
	# it judges that archive's Release files (a snapshot's may be past
	# their Valid-Until).
	eval "$(apt-config shell vu Acquire::Check-Valid-Until cd Acquire::Check-Date)"
	{
		[ -z "${vu:-}" ] || echo "Acquire::Check-Valid-Until \"$vu\";"
		[ -z "${cd:-}" ] || echo "Acquire::Check-Date \"$cd\";"
	} >"$root/etc/apt/apt.conf.d/50vpnflow-host"
	stamp=$(cat "$root/.vpnflow-root")
	in_root "$root" apt-get update -qq >&2 || die "apt-get update in the $s root failed"
	if [ "$stamp" != "$pkgs" ]; then
		in_root "$root" apt-get install -y -qq --no-install-recommends $pkgs >&2 ||
			die "cannot install the build tools in the $s root"
		echo "$pkgs" >"$root/.vpnflow-root"
	fi
}

# resolve_kver ROOT META SUITES: the release META depends on, at its
# newest version among SUITES, as ROOT's apt sees them, and that suite.
resolve_kver()
{
	local root=$1 meta=$2 suites=$3 best= from= v s dep
	while IFS='|' read -r _ v s; do
		v=$(echo $v)
		s=$(echo "$s" | awk '{print $2}')
		s=${s%%/*}
		case " $suites " in *" $s "*) ;; *) continue ;; esac
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
			from=$s
		fi
	done < <(in_root "$root" apt-cache madison "$meta")
	[ -n "$best" ] || die "$meta is not in $suites"
	dep=$(in_root "$root" apt-cache show "$meta=$best" | sed -n 's/^Depends: //p' | head -n 1 |
		tr ',' '\n' | sed -n 's/^ *linux-image-\([^ ]*\) .*/\1/p' | head -n 1)
	[ -n "$dep" ] || die "cannot tell which kernel $meta $best depends on"
	echo "$dep $from"
}

# host_kver META: the release of the host's installed META.
host_kver()
{
	dpkg-query -W -f='${Depends}\n' "$1" 2>/dev/null | tr ',' '\n' |
		sed -n 's/^ *linux-image-\([^ ]*\) .*/\1/p' | head -n 1
}

prepare()
{
	local t=$1 root kver
	target_def "$t"
	if [ "$suite" = host ]; then
		kver=$(host_kver "$meta")
		[ -n "$kver" ] && [ -f "/boot/vmlinuz-$kver" ] && [ -d "/lib/modules/$kver/build" ] ||
			die "$meta and its headers are not installed on the host (scripts/deps.sh)"
		echo "$kver"
		return
	fi
	root=$roots/$suite
	make_root "$suite"
	read -r kver from < <(resolve_kver "$root" "$meta" "$ksuites")
	if [ ! -f "$root/usr/lib/modules/$kver/modules.dep" ] || [ ! -d "$root/usr/lib/modules/$kver/build" ]; then
		echo "kernels: installing $kver from $from in the $suite root" >&2
		# A backports kernel takes its dependencies from there too
		# (apt's -t). The VM boots it with its own initramfs: none is
		# made here.
		in_root "$root" env INITRD=No apt-get install -y -qq --no-install-recommends \
			$(case $from in *-backports) echo "-t $from" ;; esac) \
			"linux-image-$kver" "linux-headers-$kver" >&2 ||
			die "cannot install linux-image-$kver and its headers in the $suite root"
		# The image's postinst runs depmod; an unpacked-only one did not.
		[ -f "$root/usr/lib/modules/$kver/modules.dep" ] || in_root "$root" depmod "$kver" >&2
	fi
	echo "$kver"
}

info()
{
	local t=$1 kver root
	target_def "$t"
	if [ "$suite" = host ]; then
		kver=$(host_kver "$meta")
		root=/
	else
		root=$roots/$suite
		read -r kver _ < <(resolve_kver "$root" "$meta" "$ksuites")
	fi
	echo "KVER=$kver"
	echo "ROOT=$root"
	[ "$vmroot" = host ] && echo "VMROOT=/" || echo "VMROOT=$roots/$vmroot"
	echo "CC=$gcc"
	echo "CI=$ci"
}

locate()
{
	local k=$1 r
	for r in / "$roots"/*/; do
		r=${r%/}
		if [ -d "$r/usr/lib/modules/$k/kernel" ]; then
			echo "${r:-/}"
			return 0
		fi
	done
	die "no root under / or $roots has kernel $k (kernels.sh prepare TARGET)"
}

# The rows of README's "Supported kernels" table: what `make check` tests.
table()
{
	local t KVER ROOT VMROOT CC CI tests userland
	for t in $targets; do
		eval "$(info "$t")"
		target_def "$t"
		case $CI in
		all) tests="all selftests" ;;
		core) tests="core selftests" ;;
		short) tests="load/unload, CLI" ;;
		esac
		if [ "$vmroot" = host ]; then userland="Debian 12"; else userland="Debian 13"; fi
		printf '  %-44s %-6s %-7s DKMS, %s on %s\n' "$label" \
			"$(echo "$KVER" | cut -d. -f1,2)" "$CC" "$tests" "$userland"
	done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
list) echo "$targets" | tr ' ' '\n' ;;
prepare) [ $# = 1 ] || die "usage: kernels.sh prepare TARGET"; prepare "$1" ;;
info) [ $# = 1 ] || die "usage: kernels.sh info TARGET"; info "$1" ;;
locate) [ $# = 1 ] || die "usage: kernels.sh locate KVER"; locate "$1" ;;
table) table ;;
archive) archive_uris ;;
run)
	[ $# -ge 2 ] || die "usage: kernels.sh run TARGET CMD..."
	target_def "$1"
	shift
	if [ "$suite" = host ]; then
		exec "$@"
	fi
	case $PWD/ in
	"$top"/*) in_root "$roots/$suite" sh -c 'cd "$1" && shift && exec "$@"' sh "$PWD" "$@" ;;
	*) in_root "$roots/$suite" "$@" ;;
	esac
	;;
*) die "usage: kernels.sh list | prepare TARGET | info TARGET | locate KVER | table | archive | run TARGET CMD..." ;;
esac
