/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: kernel-version differences, in one place.
 *
 * Force-included into every object (-include, see kmod/Kbuild). Which
 * branch applies is decided by feature probes, never by version numbers:
 * kmod/compat/probes/<feature>.c is compiled against the target kernel
 * by kmod/compat/probe.sh, and each one that compiles defines
 * VPNFLOW_HAVE_<FEATURE> in generated/probes.h.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_COMPAT_H
#define _VPNFLOW_COMPAT_H

#include "generated/probes.h"

/*
 * xfrm_register_km() returned int (always 0) until the return value was
 * dropped; callers here always get an int.
 */
#ifdef VPNFLOW_HAVE_XFRM_REGISTER_KM_INT
#define compat_xfrm_register_km(km)	xfrm_register_km(km)
#else
#define compat_xfrm_register_km(km)	({ xfrm_register_km(km); 0; })
#endif

/*
 * The events group needs CAP_NET_ADMIN: GENL_MCAST_CAP_NET_ADMIN says so
 * since 6.7 (and 6.1.y); before, genl_bind() tested GENL_UNS_ADMIN_PERM
 * in a group's flags for the same check (5.10.y). Defined here, not in
 * genetlink.h: the generated netlink-gen.c uses it.
 */
#ifndef VPNFLOW_HAVE_GENL_MCAST_CAP_NET_ADMIN
#define GENL_MCAST_CAP_NET_ADMIN	GENL_UNS_ADMIN_PERM
#endif

#endif /* _VPNFLOW_COMPAT_H */
