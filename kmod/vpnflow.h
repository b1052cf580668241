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
struct vpnflow_if_opts;

/* Options of one network namespace (see spec/vpnflow.yaml). */
struct vpnflow_options {
	u8 preserve_vpn_flows;
	u8 reclassify_vpn;
	u8 tcpmss_auto;
	u8 tcpmss_tunneled_only;
	u32 tcpmss;
	u32 tcpmss_minimum;
	u32 preserve_timeout;
	u8 fast_resume;
	u8 df_bit;
	u32 tcp_state_bypass_mark;
	u32 tcp_state_bypass_mask;	/* 0: off */
	u8 fragmentation;
	u8 label_vpn_flows;
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
	atomic64_t icmp_hints;		/* fast-resume ICMP hints sent */
	atomic64_t esp_df_rewritten;	/* outer DF changed by df-bit */
	atomic64_t tcp_state_bypassed;	/* refused by conntrack, attached again */
	atomic64_t prefrag_packets;	/* fragmented before encryption */
	atomic64_t prefrag_fragments;	/* the fragments they became */
	atomic64_t prefrag_failures;	/* could not be: encrypted whole */
	atomic64_t flows_adopted;	/* labelled tunneled, taken as preserved */
};

/**
 * struct vpnflow_net - the module's state in one network namespace
 *
 * Locks, in the order they nest: @work_lock, then @opts_lock, then @nf_lock,
 * then @tlock (a spinlock taken with BHs off, also from the data path).
 * Tunnels are freed only by the reconcile (work.c), which runs under
 * @work_lock like the flow GC: a tunnel pointer taken under @tlock stays
 * valid across a drop of @tlock for as long as @work_lock is held, and
 * under RCU in the data path.
 *
 * @net: the namespace (not refcounted: this lives inside it).
 * @opts_lock: serialises option changes (netlink options-set).
 * @opts: the options; written under @opts_lock with WRITE_ONCE(), read
 *	anywhere with READ_ONCE(), one field at a time.
 * @if_opts: per-interface df-bit and fragmentation (ifopts.h), NULL when
 *	none; replaced under @opts_lock, read under RCU.
 * @labels_held: the namespace's conntrack labels are taken
 *	(nf_connlabels_get(), labels.c); @opts_lock.
 * @cnt: counters; atomic, no lock.
 * @tlock: the tunnels, their flow lists and every flow's links and state.
 * @tunnels: struct vpnflow_tunnel by key; added under @tlock (reconcile
 *	or data path), removed under @tlock by the reconcile only.
 * @next_tunnel_id: the id of the next tunnel object; @tlock.
 * @flows: struct vpnflow_flow by conntrack entry; inserted and removed
 *	under @tlock, looked up and dumped under RCU.
 * @nflows: flows tracked (max_flows places taken); atomic.
 * @npreserved: flows in state PRESERVED; atomic, changed under @tlock.
 * @preserved: the PRESERVED flows, oldest first (max_flows eviction);
 *	@tlock.
 * @walk_next: the flow a tunnel-down pass or a GC pass goes on from
 *	after dropping @tlock; @tlock, and only under @work_lock.
 * @work_lock: makes @event_work and @gc_work of one namespace mutually
 *	exclusive (the workqueue is unbound).
 * @event_work: the reconcile, queued by xfrm events and option changes.
 * @gc_work: the flow GC, every VPNFLOW_GC_INTERVAL, also brought forward.
 * @dead: set at namespace exit, before the works are cancelled: queue
 *	nothing more; READ_ONCE().
 * @revisit: VPNFLOW_REVISIT_* bits; atomic bitops.
 * @reconcile_gen: the reconcile pass, for tunnels' @visited; @work_lock.
 * @synced: the first reconcile has run (tunnels found then were up
 *	before the module came); @work_lock.
 * @nf_lock: the netfilter hook registrations below.
 * @nf_ops: the data-path hooks, registered with the first tunnel; set by
 *	the reconcile under @work_lock and @nf_lock, cleared only once the
 *	works are stopped: either lock reads it.
 * @nf_hold_ops: the hold hooks, registered while flows are preserved;
 *	@nf_lock.
 * @nf_hold_on: @nf_hold_ops are registered; @nf_lock.
 * @nf_bypass_ops: the tcp-state-bypass hooks, registered while the option
 *	is on (bypass.c); @nf_lock.
 * @nf_bypass_on: @nf_bypass_ops are registered; @nf_lock.
 * @log_rs: rate limit of the teardown and reclassify messages.
 * @fib_nb: route notifier, registered with the first route-based tunnel.
 * @fib_registered: @fib_nb is registered; @work_lock (or namespace exit,
 *	once the works are cancelled).
 * @fib_ready: the registration's replay of every route is over;
 *	READ_ONCE() in the notifier.
 * @routes_pass: jiffies of the last route-triggered reclassify pass;
 *	@work_lock.
 * @routes_changed: jiffies of the last relevant route change; written by
 *	the notifier, READ_ONCE() by the reconcile.
 * @armed: reclassify-vpn's armed tunnels (reclassify.c); changed under
 *	@work_lock, read under RCU by the data path.
 * @narmed: entries on @armed; written under @work_lock, READ_ONCE() in
 *	the data path.
 * @hint_lock: fast-resume's budget of ICMP hints (hint.c); a spinlock
 *	taken with BHs off, from the data path only.
 * @hint_window: jiffies when the budget's current second began; @hint_lock.
 * @hint_left: hints left in that second; @hint_lock.
 */
struct vpnflow_net {
	struct net *net;
	struct mutex opts_lock;	/* option changes */
	struct vpnflow_options opts;
	struct vpnflow_if_opts __rcu *if_opts;
	bool labels_held;
	struct vpnflow_counters cnt;

	spinlock_t tlock;		/* tunnels, flows: see above */
	DECLARE_HASHTABLE(tunnels, 6);
	u32 next_tunnel_id;
	struct rhashtable flows;
	atomic_t nflows;
	atomic_t npreserved;
	struct list_head preserved;
	struct vpnflow_flow *walk_next;

	struct mutex work_lock;	/* event_work vs gc_work */
	struct work_struct event_work;
	struct delayed_work gc_work;
	bool dead;
	unsigned long revisit;
	unsigned int reconcile_gen;
	bool synced;

	struct mutex nf_lock;		/* hook registrations */
	struct nf_hook_ops *nf_ops;
	struct nf_hook_ops *nf_hold_ops;
	bool nf_hold_on;
	struct nf_hook_ops *nf_bypass_ops;
	bool nf_bypass_on;
	struct ratelimit_state log_rs;

	struct notifier_block fib_nb;
	bool fib_registered;
	bool fib_ready;
	unsigned long routes_pass;
	unsigned long routes_changed;

	struct list_head armed;
	unsigned int narmed;

	spinlock_t hint_lock;		/* fast-resume's hint budget */
	unsigned long hint_window;
	unsigned int hint_left;
};

/* vn->revisit bits */
#define VPNFLOW_REVISIT_OPTIONS	0	/* options changed: revisit preserved flows */
#define VPNFLOW_REVISIT_ROUTES	1	/* routes changed: reclassify route-based tunnels */

extern unsigned int vpnflow_net_id;

static inline struct vpnflow_net *vpnflow_pernet(const struct net *net)
{
	return net_generic(net, vpnflow_net_id);
}

/* netns.c */
int vpnflow_netns_init(void);
void vpnflow_netns_exit(void);

/* xfrm.c */
int vpnflow_xfrm_init(void);
void vpnflow_xfrm_exit(void);

/* netlink.c */
int vpnflow_nl_init(void);
void vpnflow_nl_exit(void);

#endif /* _VPNFLOW_H */
