// SPDX-License-Identifier: GPL-2.0
/* Probe: struct genl_dumpit_info embeds a struct genl_info (6.6). */
#include <net/genetlink.h>

struct nlattr **vpnflow_probe(struct netlink_callback *cb);
struct nlattr **vpnflow_probe(struct netlink_callback *cb)
{
#ifndef VPNFLOW_PROBE_WITHOUT
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}
