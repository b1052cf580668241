# SPDX-License-Identifier: GPL-2.0
#
# vpnflow: build, install, package and test.
#
#   make                      module + vpnsysopt for KVER (default: running kernel)
#   make KVER=6.1.0-56-amd64  against /lib/modules/$KVER/build (or KDIR=...)
#   make install / uninstall  module to /lib/modules/$KVER/updates, vpnsysopt, man pages
#   make dkms-install / dkms-remove
#   make dkms-src DKMS_DIR=...  the DKMS source tree (dkms-install makes it in /usr/src)
#   make deb                  Debian packages vpnflow-dkms and vpnsysopt in build/deb
#   make check                everything: host checks + the VM selftests (installs deps),
#                             the whole suite on Debian 12's kernel, the core on the others
#   make check-host           the host checks of make check only (no VM)
#   make check-kernels        the whole suite on every other kernel (hours)
#   make check-gateway        the packages on a booted Debian gateway image (install, reboot,
#                             kernel upgrade, purge)
#   make check-setups         the IKE and firewall set-ups' flaps with preserve off too
#   make check-resume         fast-resume across 30, 90 and 300 s outages, IPv4 and IPv6
#   make check-debug          the VM selftests on a KASAN/lockdep/kmemleak/UBSAN kernel
#   make style / sparse       checkpatch and sparse on the module

KVER    ?= $(shell uname -r)
KDIR    ?= /lib/modules/$(KVER)/build
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell cat $(CURDIR)/VERSION)
MODDIR  := $(DESTDIR)/lib/modules/$(KVER)/updates

.PHONY: all module tools install uninstall dkms-src dkms-install dkms-remove clean regen \
	check check-long check-failover check-kernels check-gateway check-setups check-resume check-debug check-host check-spec style sparse deps demo bench bench-doc \
	deb

all: module tools

# kbuild does it all, the feature probes included (kmod/Kbuild).
module:
	@test -d $(KDIR) || { echo "No kernel build tree at $(KDIR): install linux-headers-$(KVER) or set KDIR/KVER." >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

tools:
	$(MAKE) -C tools

install: module tools
	install -D -m 0644 kmod/vpnflow_preserve.ko $(MODDIR)/vpnflow_preserve.ko
	install -D -m 0644 kmod/vpnflow_preserve.4 $(DESTDIR)$(PREFIX)/share/man/man4/vpnflow_preserve.4
	$(MAKE) -C tools install
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER)

uninstall:
	rm -f $(MODDIR)/vpnflow_preserve.ko $(DESTDIR)$(PREFIX)/share/man/man4/vpnflow_preserve.4
	$(MAKE) -C tools uninstall
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER)

# DKMS builds from a copy of the module's sources under /usr/src, made by
# dkms-src (in DKMS_DIR, by default that place): its dkms.conf is
# dkms.conf.in with the version of VERSION written in, so that the two
# cannot differ. dkms reads dkms.conf as shell; a literal reads the same
# in every dkms version.
DKMS_SRC := /usr/src/vpnflow_preserve-$(VERSION)
DKMS_DIR ?= $(DKMS_SRC)
dkms-src:
	@echo '$(VERSION)' | grep -Eqx '[0-9A-Za-z.+~-]+' || \
		{ echo "VERSION '$(VERSION)' is not a DKMS version" >&2; exit 1; }
	rm -rf $(DKMS_DIR) && mkdir -p $(DKMS_DIR)
	cp -r Makefile Kbuild VERSION kmod include $(DKMS_DIR)/
	sed 's/@VERSION@/$(VERSION)/g' dkms.conf.in >$(DKMS_DIR)/dkms.conf
	$(MAKE) -C $(DKMS_DIR) clean

dkms-install:
	-dkms remove -m vpnflow_preserve -v $(VERSION) --all >/dev/null 2>&1
	$(MAKE) dkms-src DKMS_DIR=$(DKMS_SRC)
	dkms add -m vpnflow_preserve -v $(VERSION)
	dkms build -m vpnflow_preserve -v $(VERSION) -k $(KVER)
	dkms install -m vpnflow_preserve -v $(VERSION) -k $(KVER)

dkms-remove:
	-dkms remove -m vpnflow_preserve -v $(VERSION) --all
	rm -rf $(DKMS_SRC)

# The Debian packages (debian/), built by dpkg-buildpackage from a clean
# copy of the tree in build/deb, where the .debs, .changes and .buildinfo
# land; lintian build/deb/*.changes checks them.
deb:
	scripts/deb.sh $(CURDIR)/build/deb

# Kernel-independent clean (DKMS uses it too).
clean:
	find kmod \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.order' -o -name '*.symvers' -o -name '.*.d' \) -delete
	rm -rf kmod/compat/generated Module.symvers modules.order .tmp_versions
	[ ! -f tools/Makefile ] || $(MAKE) -C tools clean

# The netlink API is declared once, in spec/vpnflow.yaml; check-spec
# fails when these files are not what it generates.
regen:
	scripts/ynl-gen.py spec/vpnflow.yaml --uapi include/uapi/linux/vpnflow.h \
		--kernel-h kmod/netlink-gen.h --kernel-c kmod/netlink-gen.c

check-spec:
	scripts/check-spec.sh

style:
	scripts/style.sh

sparse:
	scripts/sparse.sh $(KDIR)

deps:
	scripts/deps.sh

# The whole suite: host checks, then the selftests in a VM (Debian's
# linux-image-amd64 under qemu). Prints "N passed, N failed".
check: deps
	selftests/vm/check.sh

# The host checks of `make check` only (no VM, no DKMS): the module and
# vpnsysopt built, check-spec, style, sparse, the kbuild, DKMS tree and
# documentation checks, the Debian packages (selftests/host/deb.sh),
# vpnsysopt's host, output and fuzz tests.
check-host: deps
	selftests/vm/check.sh -H

# The long selftests `make check` leaves out (stress.sh, preserve_events.sh,
# failover.sh: about 15 minutes under TCG), on Debian 12's kernel.
check-long: deps
	selftests/vm/check.sh -L

# The gateway failover alone (selftests/failover.sh, also in check-long):
# keepalived and conntrackd, vpnflow against stock Linux.
check-failover: deps
	selftests/vm/check.sh selftests/failover.sh

# The whole suite on every kernel of selftests/vm/kernels.sh but Debian
# 12's (Debian 11, 12 with 6.12, 13, 13's backports, unstable), or on
# KERNELS="trixie sid"; KERNELS_MODE=core|short for less.
check-kernels: deps
	selftests/vm/check-kernels.sh -m $(or $(KERNELS_MODE),full) $(KERNELS)

# The Debian packages on a gateway image booted with systemd, strongSwan
# and nftables (selftests/vm/check-gateway.sh): install, reboot, options
# applied before the tunnel, a flap, a kernel upgrade, purge. `make
# check` runs its first part (install, reboot) only.
check-gateway: deps
	selftests/vm/check-gateway.sh

# selftests/ike_setups.sh with preserve-vpn-flows off as well as on, for
# what each set-up does without it (make check runs it with on only).
# About 45 min: each off run waits out its client's 120 s.
check-setups: deps
	VPNFLOW_SETUPS=all VPNFLOW_SETUPS_OFF=1 VPNFLOW_TEST_TIMEOUT=4000 \
		selftests/vm/check.sh selftests/ike_setups.sh

# selftests/fast_resume.sh across 30, 90 and 300 s WAN outages (make check:
# one of 30 s, off for IPv4 only), fast-resume off and on, IPv4 and IPv6:
# about 45 minutes.
check-resume: deps
	VPNFLOW_RESUME_OUTAGES="30 90 300" VPNFLOW_RESUME_OFF_FAMILIES="4 6" VPNFLOW_TEST_TIMEOUT=4000 \
		selftests/vm/check.sh selftests/fast_resume.sh

# The selftests on a debug kernel built from Debian's linux-source-6.1
# (cached); see docs/testing.md. Hours, not part of `make check`.
check-debug:
	scripts/deps.sh debug
	selftests/vm/check-debug.sh

demo: deps
	selftests/vm/demo.sh

# Benchmarks in the VM: prints a table of ratios; results in
# build/bench. BENCH_SCALE=quick for a short run; see docs/benchmarks.md.
bench: deps
	bench/run.sh

# Put the last run's table (build/bench/table.md) into docs/benchmarks.md.
bench-doc:
	bench/doc.sh build/bench/table.md docs/benchmarks.md
