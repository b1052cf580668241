#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug kernel of `make check-debug`: Debian's linux-source-6.1 built
# with x86_64_defconfig + kvm_guest.config + selftests/vm/debug.config
# (KASAN, kmemleak, lockdep, UBSAN, ...), everything the tests need built in.
#
#   debug-kernel.sh        build it unless cached; print the tree's path
#   debug-kernel.sh -q     print the tree's path if it is built, else fail
#
# The tree is kept (the module is built against it: make module KDIR=TREE)
# under ${VPNFLOW_VM_CACHE:-~/.cache/vpnflow-vm}/debug-kernel/KEY, KEY a
# hash of the linux-source package version, the fragment and the build
# recipe (build_tree below); it is rebuilt only when one of them changes.
# Next to the tree:
#   modroot/lib/modules/RELEASE   modules_install output (modules.builtin
#                                 and depmod files, so that modprobe of a
#                                 built-in module succeeds in the guest)
#   build.log                     the build's output
#   done                          written last: the build is complete
# Older keys are removed after a successful build.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
frag=$here/debug.config
tarball=/usr/src/linux-source-6.1.tar.xz
pkg=linux-source-6.1
query=0
[ "${1:-}" = -q ] && query=1

# build_tree DIR: extract, configure, check the configuration, build and
# install modules.builtin into DIR/modroot. Part of the cache key.
build_tree()
{
	local dir=$1 tree=$1/linux-source-6.1 line opt want got bad=0 rel

	tar -xJf "$tarball" -C "$dir"
	cd "$tree"
	make -s x86_64_defconfig
	make -s kvm_guest.config
	scripts/kconfig/merge_config.sh -m .config "$frag"
	make -s olddefconfig

	# Every option of the fragment must have the value asked for:
	# Kconfig silently drops what has unmet dependencies.
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			opt=${line%%=*}
			want=$line
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			want=
			;;
		*) continue ;;
		esac
		got=$(grep -E "^$opt=" .config || true)
		if [ "$got" != "$want" ]; then
			echo "debug-kernel: $opt: asked for '${want:-n}', Kconfig gave '${got:-n}'"
			bad=1
		fi
	done <"$frag"
	if [ "$bad" = 1 ]; then
		echo "debug-kernel: Kconfig did not take the fragment as written; fix $frag"
		return 1
	fi

	nice -n 10 make -j"$(nproc)" all
	rel=$(make -s kernelrelease)
	make -s modules_install INSTALL_MOD_PATH="$dir/modroot"
	ln -sfn "$tree" "$dir/modroot/lib/modules/$rel/build"
}

ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || ver=
if [ -z "$ver" ] || [ ! -f "$tarball" ]; then
	echo "debug-kernel: $pkg is not installed (apt-get install $pkg)" >&2
	exit 1
fi
key=$( { echo "$pkg $ver"; cat "$frag"; declare -f build_tree; } | sha256sum | cut -c1-16)
cache=${VPNFLOW_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-vm}
base=$cache/debug-kernel
dir=$base/$key
tree=$dir/linux-source-6.1

if [ -f "$dir/done" ]; then
	echo "$tree"
	exit 0
fi
if [ "$query" = 1 ]; then
	echo "debug-kernel: not built yet ($dir)" >&2
	exit 1
fi

mkdir -p "$base"
exec 9>"$base/$key.lock"
if ! flock -n 9; then
	echo "debug-kernel: another build of $key is running, waiting for it" >&2
	flock 9
fi
if [ -f "$dir/done" ]; then
	echo "$tree"
	exit 0
fi

log=$dir/build.log
rm -rf "$dir"
mkdir -p "$dir"
start=$(date +%s)
echo "debug-kernel: building $pkg $ver with $(basename "$frag") in $dir" >&2
echo "debug-kernel: log in $log (one to two hours on 2 busy cores)" >&2
# Not `if ! build_tree`: that would turn off set -e inside it.
set +e
(set -e; build_tree "$dir") >"$log" 2>&1
rc=$?
set -e
if [ "$rc" != 0 ]; then
	grep -E '^debug-kernel:|error|Error' "$log" | tail -n 30 >&2
	echo "debug-kernel: build failed (log: $log)" >&2
	exit 1
fi
echo "debug-kernel: built $(cat "$tree/include/config/kernel.release") in $(($(date +%s) - start)) s" |
	tee -a "$log" >&2
touch "$dir/done"

# Keep only this key's tree: each is several GB. One that another run
# holds the lock of (building it) is left alone.
for old in "$base"/*/; do
	old=${old%/}
	[ "$old" = "$dir" ] && continue
	if (flock -n 8 || exit 1; rm -rf "$old") 8>"$old.lock"; then
		echo "debug-kernel: removed the stale tree $old" >&2
		rm -f "$old.lock"
	fi
done
echo "$tree"
