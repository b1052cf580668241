// SPDX-License-Identifier: GPL-2.0
/* Probe: GENL_REQ_ATTR_CHECK() reports a missing attribute (6.1). */
#include <net/genetlink.h>

bool vpnflow_probe(struct genl_info *info);
bool vpnflow_probe(struct genl_info *info)
{
#ifndef VPNFLOW_PROBE_WITHOUT
	return GENL_REQ_ATTR_CHECK(info, 1);
#else
	NL_SET_ERR_MSG(info->extack, "probe");
	return !info->attrs[1];
#endif
}
