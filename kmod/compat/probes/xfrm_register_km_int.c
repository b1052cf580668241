// SPDX-License-Identifier: GPL-2.0
/* Probe: xfrm_register_km() returns int (it returns void since 6.0). */
#include <net/xfrm.h>

#ifndef VPNFLOW_PROBE_WITHOUT
int vpnflow_probe(struct xfrm_mgr *km);
int vpnflow_probe(struct xfrm_mgr *km)
{
	return xfrm_register_km(km);
}
#else
void vpnflow_probe(struct xfrm_mgr *km);
void vpnflow_probe(struct xfrm_mgr *km)
{
	xfrm_register_km(km);
}
#endif
