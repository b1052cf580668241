/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: shared declarations.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_H
#define _VPNFLOW_H

#include <linux/atomic.h>
#include <linux/hashtable.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/ratelimit.h>
#include <linux/rhashtable-types.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

struct vpnflow_flow;

/* Options of one network namespace (see spec/vpnflow.yaml). */
struct vpnflow_options {
	u8 preserve_vpn_flows;
	u8 reclassify_vpn;
	u8 tcpmss_auto;
	u8 tcpmss_tunneled_only;
	u32 tcpmss;
	u32 tcpmss_minimum;
	u32 preserve_timeout;
};

struct vpnflow_counters {
	atomic64_t sa_events;
	atomic64_t policy_events;
	atomic64_t tunnels_up;		/* transitions to up */
	atomic64_t tunnels_down;	/* transitions to down */
	atomic64_t flows_preserved;	/* TCP flows kept at a tunnel down */
	atomic64_t flows_resumed;	/* preserved flows back in a tunnel */
	atomic64_t flows_expired;	/* preserved flows that ended while preserved */
	atomic64_t flows_torn_down;	/* flows removed at a tunnel down */
	atomic64_t pkts_dropped;	/* packets of preserved flows dropped */
	atomic64_t flows_untracked;	/* not tracked: max_flows reached / no memory */
	atomic64_t flows_reclassified;	/* entries cleared by reclassify-vpn */
	atomic64_t syns_lowered;	/* MSS options lowered by tcpmss */
	atomic64_t syns_raised;		/* MSS options raised by tcpmss minimum */
	atomic64_t flows_evicted;	/* preserved flows dropped for max_flows */
	atomic64_t reclassify_walks;	/* reclassify-vpn passes over the whole table */
	atomic64_t reclassify_examined;	/* entries those and the other passes looked at */
	atomic64_t reclassify_passes;	/* reclassify-vpn passes, walks or not */
};

struct vpnflow_net {
	struct net *net;
	/* Serialises option changes; readers use READ_ONCE() on each field. */
	struct mutex lock;
	struct vpnflow_options opts;
	struct vpnflow_counters cnt;

	/* Tunnels, their flow lists and flow state changes. */
	spinlock_t tlock;
	DECLARE_HASHTABLE(tunnels, 6);
	u32 next_tunnel_id;
	struct rhashtable flows;	/* struct vpnflow_flow, keyed by ct */
	atomic_t nflows;
	atomic_t npreserved;
	/* preserved flows, oldest first (max_flows eviction); tlock */
	struct list_head preserved;
	/* where the flow GC or a tunnel-down pass goes on; tlock, work_lock */
	struct vpnflow_flow *walk_next;

	/*
	 * Process-context work: reconcile tunnels with xfrm state, flow GC.
	 * The workqueue is unbound: work_lock makes event_work and gc_work
	 * of one namespace mutually exclusive ("only the reconcile frees
	 * tunnels" relies on it).
	 */
	struct mutex work_lock;
	struct work_struct event_work;
	struct delayed_work gc_work;
	bool dead;			/* set at netns exit: queue nothing */
	unsigned long revisit;		/* VPNFLOW_REVISIT_* bits */
	unsigned int reconcile_gen;
	bool synced;			/* the first reconcile has run */

	struct mutex nf_lock;		/* hooks (registered on first tunnel) */
	struct nf_hook_ops *nf_ops;
	struct nf_hook_ops *nf_hold_ops;	/* registered while flows are preserved */
	bool nf_hold_on;
	struct ratelimit_state log_rs;

	/* Route changes, watched once a route-based tunnel exists (route.c). */
	struct notifier_block fib_nb;
	bool fib_registered;		/* event work / netns exit only */
	bool fib_ready;			/* registration's replay is over */
	unsigned long routes_pass;	/* jiffies of the last route-triggered pass */
	unsigned long routes_changed;	/* jiffies of the last relevant change */

	/* reclassify-vpn's armed tunnels (reclassify.c): RCU, reconcile work. */
	struct list_head armed;
	unsigned int narmed;
};

/* vn->revisit bits */
#define VPNFLOW_REVISIT_OPTIONS	0	/* options changed: revisit preserved flows */
#define VPNFLOW_REVISIT_ROUTES	1	/* routes changed: reclassify route-based tunnels */

extern unsigned int vpnflow_net_id;

static inline struct vpnflow_net *vpnflow_pernet(const struct net *net)
{
	return net_generic(net, vpnflow_net_id);
}

extern struct workqueue_struct *vpnflow_wq;
extern unsigned int vpnflow_max_flows;

/* netns.c */
int vpnflow_netns_init(void);
void vpnflow_netns_exit(void);
void vpnflow_netns_kick(struct vpnflow_net *vn);

/* xfrm.c */
int vpnflow_xfrm_init(void);
void vpnflow_xfrm_exit(void);

/* netlink.c */
int vpnflow_nl_init(void);
void vpnflow_nl_exit(void);

#endif /* _VPNFLOW_H */
