/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: route-based tunnels (xfrm interfaces, VTI).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_ROUTE_H
#define _VPNFLOW_ROUTE_H

#include <linux/if_arp.h>
#include <linux/jiffies.h>
#include <linux/netdevice.h>
#include <linux/string.h>
#include <linux/types.h>

struct net;
struct nf_conntrack_tuple;
struct vpnflow_net;
struct vpnflow_tunnel_key;

/* The kinds of device a route-based tunnel is entered through. */
enum vpnflow_dev_kind {
	VPNFLOW_DEV_OTHER,
	VPNFLOW_DEV_XFRM,	/* xfrm interface */
	VPNFLOW_DEV_VTI,
	VPNFLOW_DEV_VTI6,
};

/*
 * Which of those @dev is. Called for every forwarded SYN and tunneled
 * packet: each kind's setup gives its devices one fixed dev->type
 * (ARPHRD_NONE, ARPHRD_TUNNEL, ARPHRD_TUNNEL6), so an integer compare
 * turns nearly every device away (Ethernet, bridges, VLANs, GRE, SIT)
 * before one string compare of the rtnl kind settles it (ipip shares
 * ARPHRD_TUNNEL with vti, ip6tnl ARPHRD_TUNNEL6 with vti6, tun and
 * WireGuard ARPHRD_NONE with xfrm). The kind string is the only stable
 * identity: caching the rtnl_link_ops pointers would go stale when the
 * modules that own them are unloaded.
 */
static inline enum vpnflow_dev_kind vpnflow_dev_kind(const struct net_device *dev)
{
	enum vpnflow_dev_kind k;
	const char *name;

	switch (dev->type) {
	case ARPHRD_NONE:
		k = VPNFLOW_DEV_XFRM;
		name = "xfrm";
		break;
	case ARPHRD_TUNNEL:
		k = VPNFLOW_DEV_VTI;
		name = "vti";
		break;
	case ARPHRD_TUNNEL6:
		k = VPNFLOW_DEV_VTI6;
		name = "vti6";
		break;
	default:
		return VPNFLOW_DEV_OTHER;
	}
	return dev->rtnl_link_ops && !strcmp(dev->rtnl_link_ops->kind, name) ?
	       k : VPNFLOW_DEV_OTHER;
}

/*
 * A packet routed into an xfrm interface (or VTI) reaches POST_ROUTING
 * once on that device, before the interface looks up its SA: it is on its
 * way into the tunnel, not out in cleartext. @dev may be NULL.
 */
static inline bool vpnflow_dev_is_tunnel(const struct net_device *dev)
{
	return dev && vpnflow_dev_kind(dev) != VPNFLOW_DEV_OTHER;
}

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
