// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: route-based tunnels (xfrm interfaces, VTI): their
 * devices, routes into them, and the FIB watch.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <net/fib_notifier.h>
#include <net/ip6_fib.h>
#include <net/ip6_route.h>
#include <net/ip6_tunnel.h>
#include <net/ip_fib.h>
#include <net/ip_tunnels.h>
#include <net/netfilter/nf_conntrack_tuple.h>
#include <net/nexthop.h>
#include <net/route.h>
#include <net/xfrm.h>

#include "route.h"
#include "tunnel.h"
#include "vpnflow.h"
#include "work.h"

/*
 * A route-based tunnel's policies are wildcard: what enters it is decided
 * by routing, into the tunnel's device. The devices of a tunnel are the
 * xfrm interfaces whose if_id is the tunnel's, and the vti/vti6 devices
 * whose output key is the tunnel's SA mark (and whose endpoints, when set,
 * are the tunnel's outer addresses). reclassify-vpn treats a conntrack
 * entry as the tunnel's traffic when the route towards either end of its
 * original tuple leads into one of those devices; the lookup uses the
 * tuple's addresses (no mark, no input interface).
 *
 * Routes into a tunnel often appear after the tunnel is up (an updown
 * script, a routing daemon learning the far side over the tunnel), and
 * disappear with it. A FIB notifier, registered once the namespace has a
 * route-based tunnel, flags route changes; the reconcile work then runs
 * reclassify-vpn again for the namespace's route-based tunnels that are
 * up, once routes have been still for 20 ms and at most four times a
 * second (a burst of changes is one pass). fib6 calls its notifiers
 * before it links the route (fib6_add_rt2node()): a pass that ran at
 * once could look the route up before it is there, and miss the flows it
 * should move. The notifier runs in atomic context and only notes the
 * time, sets a bit and queues the work.
 */

/* An endpoint pair, when configured, must be the tunnel's outer pair. */
static bool vpnflow_ends_match(const struct vpnflow_tunnel_key *k, u16 family,
			       const void *a, const void *b, size_t len)
{
	bool any_a = !memchr_inv(a, 0, len), any_b = !memchr_inv(b, 0, len);

	if (any_a && any_b)
		return true;
	if (family != k->family)
		return false;
	return ((any_a || !memcmp(a, &k->lo, len)) && (any_b || !memcmp(b, &k->hi, len))) ||
	       ((any_a || !memcmp(a, &k->hi, len)) && (any_b || !memcmp(b, &k->lo, len)));
}

static bool vpnflow_dev_leads_to(const struct net_device *dev,
				 const struct vpnflow_tunnel_key *k)
{
	enum vpnflow_dev_kind kind = vpnflow_dev_kind(dev);

	if (k->if_id && kind == VPNFLOW_DEV_XFRM) {
		const struct xfrm_if *xi = netdev_priv(dev);

		return xi->p.if_id == k->if_id;
	}
	if (k->mark && kind == VPNFLOW_DEV_VTI) {
		const struct ip_tunnel *tn = netdev_priv(dev);

		return be32_to_cpu(tn->parms.o_key) == k->mark &&
		       vpnflow_ends_match(k, AF_INET, &tn->parms.iph.saddr,
					  &tn->parms.iph.daddr, sizeof(__be32));
	}
	if (k->mark && kind == VPNFLOW_DEV_VTI6) {
		const struct ip6_tnl *tn = netdev_priv(dev);

		return be32_to_cpu(tn->parms.o_key) == k->mark &&
		       vpnflow_ends_match(k, AF_INET6, &tn->parms.laddr,
					  &tn->parms.raddr, sizeof(struct in6_addr));
	}
	return false;
}

unsigned int vpnflow_route_devices(struct net *net, const struct vpnflow_tunnel_key *k,
				   int *ifindex, unsigned int max)
{
	struct net_device *dev;
	unsigned int n = 0;

	if (!vpnflow_tunnel_key_routed(k))
		return 0;
	rcu_read_lock();
	for_each_netdev_rcu(net, dev) {
		if (n < max && vpnflow_dev_leads_to(dev, k))
			ifindex[n++] = dev->ifindex;
	}
	rcu_read_unlock();
	return n;
}

/* The output device of the route from @src to @dst, 0 if none. */
static int vpnflow_route_oif(struct net *net, u16 l3num, const union nf_inet_addr *src,
			     const union nf_inet_addr *dst)
{
	int ifindex = 0;

	if (l3num == NFPROTO_IPV4) {
		struct flowi4 fl4 = {
			.daddr = dst->ip,
			.saddr = src->ip,
			.flowi4_flags = FLOWI_FLAG_ANYSRC,
		};
		struct rtable *rt = __ip_route_output_key(net, &fl4);

		if (IS_ERR(rt))
			return 0;
		ifindex = rt->dst.dev->ifindex;
		ip_rt_put(rt);
	} else if (IS_ENABLED(CONFIG_IPV6) && l3num == NFPROTO_IPV6) {
		struct flowi6 fl6 = {
			.daddr = dst->in6,
			.saddr = src->in6,
		};
		struct dst_entry *d = ip6_route_output(net, NULL, &fl6);

		if (!d->error)
			ifindex = d->dev->ifindex;
		dst_release(d);
	}
	return ifindex;
}

static bool vpnflow_ifindex_in(int ifindex, const int *set, unsigned int n)
{
	unsigned int i;

	for (i = 0; ifindex && i < n; i++)
		if (set[i] == ifindex)
			return true;
	return false;
}

bool vpnflow_route_into(struct net *net, const struct vpnflow_tunnel_key *k,
			const struct nf_conntrack_tuple *t, const int *ifindex, unsigned int n)
{
	u16 l3num = t->src.l3num;
	size_t len = l3num == NFPROTO_IPV6 ? sizeof(struct in6_addr) : sizeof(__be32);
	u16 family = l3num == NFPROTO_IPV6 ? AF_INET6 : AF_INET;

	/* The tunnel's own outer traffic (IKE, ESP, NAT-T) is never its payload. */
	if (family == k->family &&
	    ((!memcmp(&t->src.u3, &k->lo, len) && !memcmp(&t->dst.u3, &k->hi, len)) ||
	     (!memcmp(&t->src.u3, &k->hi, len) && !memcmp(&t->dst.u3, &k->lo, len))))
		return false;
	return vpnflow_ifindex_in(vpnflow_route_oif(net, l3num, &t->src.u3, &t->dst.u3),
				  ifindex, n) ||
	       vpnflow_ifindex_in(vpnflow_route_oif(net, l3num, &t->dst.u3, &t->src.u3),
				  ifindex, n);
}

/* Could this route change send traffic into (or out of) a tunnel device? */
static bool vpnflow_fib_event_relevant(unsigned long event, struct fib_notifier_info *info)
{
	struct net_device *dev = NULL;

	if (event == FIB_EVENT_ENTRY_DEL)
		return true;	/* a tunnel route may now be the best match */
	if (event != FIB_EVENT_ENTRY_REPLACE && event != FIB_EVENT_ENTRY_APPEND &&
	    event != FIB_EVENT_ENTRY_ADD)
		return false;
	if (info->family == AF_INET) {
		struct fib_entry_notifier_info *fen =
			container_of(info, struct fib_entry_notifier_info, info);
		struct fib_info *fi = fen->fi;
		unsigned int i;

		for (i = 0; i < fib_info_num_path(fi); i++) {
			dev = fib_info_nhc(fi, i)->nhc_dev;
			if (vpnflow_dev_is_tunnel(dev))
				return true;
		}
		return false;
	}
	if (IS_ENABLED(CONFIG_IPV6) && info->family == AF_INET6) {
		struct fib6_entry_notifier_info *fen6 =
			container_of(info, struct fib6_entry_notifier_info, info);
		struct fib6_info *rt = fen6->rt;

		/* Nexthop objects and multipath: do not look further. */
		if (rt->nh || fen6->nsiblings)
			return true;
		dev = rt->fib6_nh->fib_nh_dev;
		return vpnflow_dev_is_tunnel(dev);
	}
	return false;
}

static int vpnflow_fib_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct vpnflow_net *vn = container_of(nb, struct vpnflow_net, fib_nb);

	if (!READ_ONCE(vn->fib_ready) || !vpnflow_fib_event_relevant(event, ptr))
		return NOTIFY_DONE;
	WRITE_ONCE(vn->routes_changed, jiffies);
	smp_mb__before_atomic();	/* the time, then the bit: work.c */
	set_bit(VPNFLOW_REVISIT_ROUTES, &vn->revisit);
	vpnflow_work_kick(vn);
	return NOTIFY_DONE;
}

static void vpnflow_fib_dump_flush(struct notifier_block *nb)
{
}

/* From the reconcile work, once the namespace has a route-based tunnel. */
void vpnflow_route_watch(struct vpnflow_net *vn)
{
	int err;

	if (vn->fib_registered)
		return;
	vn->fib_nb.notifier_call = vpnflow_fib_event;
	/* Registration replays every route: not changes, ignored (!fib_ready). */
	err = register_fib_notifier(vn->net, &vn->fib_nb, vpnflow_fib_dump_flush, NULL);
	if (err) {
		pr_warn_once("reclassify-vpn: cannot watch routes (%d): route changes will not trigger reclassification\n",
			     err);
		return;
	}
	vn->fib_registered = true;
	WRITE_ONCE(vn->fib_ready, true);
}

/* Netns exit: the work is cancelled, nothing registers any more. */
void vpnflow_route_unwatch(struct vpnflow_net *vn)
{
	if (!vn->fib_registered)
		return;
	WRITE_ONCE(vn->fib_ready, false);
	unregister_fib_notifier(vn->net, &vn->fib_nb);
	vn->fib_registered = false;
}
