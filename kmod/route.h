/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: route-based tunnels (xfrm interfaces, VTI).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_ROUTE_H
#define _VPNFLOW_ROUTE_H

#include <linux/jiffies.h>
#include <linux/types.h>

struct net;
struct nf_conntrack_tuple;
struct vpnflow_net;
struct vpnflow_tunnel_key;

/* ifindexes (at most @max) of the devices that lead into the tunnel. */
unsigned int vpnflow_route_devices(struct net *net, const struct vpnflow_tunnel_key *k,
				   int *ifindex, unsigned int max);
/* The route towards either end of @t leads into one of @ifindex. */
bool vpnflow_route_into(struct net *net, const struct vpnflow_tunnel_key *k,
			const struct nf_conntrack_tuple *t, const int *ifindex, unsigned int n);
/* A route change's pass waits until routes have been still this long. */
#define VPNFLOW_ROUTES_SETTLE	(HZ / 50 ?: 1)
void vpnflow_route_watch(struct vpnflow_net *vn);
void vpnflow_route_unwatch(struct vpnflow_net *vn);

#endif /* _VPNFLOW_ROUTE_H */
