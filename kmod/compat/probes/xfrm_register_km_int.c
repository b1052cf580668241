// SPDX-License-Identifier: GPL-2.0
/* Probe: xfrm_register_km() returns int. */
#include <net/xfrm.h>

int vpnflow_probe(struct xfrm_mgr *km);
int vpnflow_probe(struct xfrm_mgr *km)
{
	return xfrm_register_km(km);
}
