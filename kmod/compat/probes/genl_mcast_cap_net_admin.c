// SPDX-License-Identifier: GPL-2.0
/*
 * Probe: GENL_MCAST_CAP_NET_ADMIN, a multicast group's permission flag
 * (6.7, and 6.1.y). Before it, genl_bind() tested GENL_UNS_ADMIN_PERM in
 * the group's flags (5.10.y).
 */
#include <net/genetlink.h>

const struct genl_multicast_group vpnflow_probe_grp = {
	.name	= "probe",
#ifndef VPNFLOW_PROBE_WITHOUT
	.flags	= GENL_MCAST_CAP_NET_ADMIN,
#else
	.flags	= GENL_UNS_ADMIN_PERM,
#endif
};
