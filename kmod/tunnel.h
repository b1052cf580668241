/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: tunnels, as seen from xfrm state.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_TUNNEL_H
#define _VPNFLOW_TUNNEL_H

#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#include <net/xfrm.h>

struct vpnflow_net;

/* Why a tunnel's reclassify-vpn pass is pending. */
#define VPNFLOW_RECLASSIFY_NONE		0
#define VPNFLOW_RECLASSIFY_UP		1	/* the tunnel came up */
#define VPNFLOW_RECLASSIFY_ROUTES	2	/* routes changed (route-based tunnel) */
#define VPNFLOW_RECLASSIFY_POLICIES	3	/* outbound policies added to an up tunnel */

/*
 * A tunnel's identity: the outer address pair (unordered, so that the
 * inbound and the outbound SA of a CHILD_SA share it), the outer family,
 * the xfrm interface id and the SA mark, in one network namespace.
 * reqid is deliberately not part of it: strongSwan allocates a fresh reqid
 * when a CHILD_SA is re-established after it was torn down (unless one is
 * configured), and the re-established tunnel must be recognised.
 */
struct vpnflow_tunnel_key {
	xfrm_address_t lo;
	xfrm_address_t hi;
	u32 if_id;
	u32 mark;
	u16 family;
	u16 pad;
};

/*
 * A tunnel entered through a device (xfrm interface: if_id; VTI: the SA
 * mark) rather than by policy: routes, not selectors, decide its traffic.
 */
static inline bool vpnflow_tunnel_key_routed(const struct vpnflow_tunnel_key *k)
{
	return k->if_id || k->mark;
}

/**
 * struct vpnflow_tunnel - one tunnel of a namespace, as xfrm state shows it
 *
 * Created under vn->tlock (by the reconcile from an SA, or by the data
 * path from the SA a packet used); freed with kfree_rcu() only by the
 * reconcile, under vn->work_lock, once it is down and has no flows.
 *
 * @node: in vn->tunnels; vn->tlock.
 * @key: its identity; set at creation, never changed.
 * @flows: its flows (struct vpnflow_flow.tnode), oldest first; vn->tlock.
 * @rcu: for kfree_rcu().
 * @id: stable while the object lives; set at creation.
 * @nflows: flows on @flows; vn->tlock.
 * @npreserved: PRESERVED flows on @flows; vn->tlock.
 * @nsa: valid SAs at the last reconcile; vn->tlock.
 * @reqid: of an SA seen at the last reconcile; vn->tlock.
 * @proto: IPPROTO_ESP or IPPROTO_AH, of that SA; vn->tlock.
 * @up: it has valid SAs; written by the reconcile under vn->tlock with
 *	WRITE_ONCE(), READ_ONCE() in the data path.
 * @reclassify: VPNFLOW_RECLASSIFY_*: a reclassify-vpn pass is pending;
 *	vn->work_lock.
 * @passed: a reclassify-vpn pass ran since it came up; vn->work_lock.
 * @no_policy: that pass found no policy: skipped until @policy_news;
 *	vn->work_lock.
 * @sel_hash: of the selectors its last pass saw; vn->work_lock.
 * @policy_news: an outbound policy for it was added or updated; set by
 *	the xfrm notifier, consumed by the reconcile; vn->tlock.
 * @seen: reconcile scratch: an SA of it exists; vn->work_lock.
 * @visited: the reconcile pass that handled its flows; vn->work_lock.
 * @changed: jiffies of the last up/down; vn->tlock.
 * @back_at: jiffies when its newest SA was added while it was down: its
 *	return, from which a resumed flow's delay is counted (0: none yet);
 *	set by the xfrm notifier, read at resume; vn->tlock.
 */
struct vpnflow_tunnel {
	struct hlist_node node;
	struct vpnflow_tunnel_key key;
	struct list_head flows;
	struct rcu_head rcu;
	u32 id;
	u32 nflows;
	u32 npreserved;
	u32 nsa;
	u32 reqid;
	u8 proto;
	bool up;
	u8 reclassify;
	bool passed;
	bool no_policy;
	u32 sel_hash;
	bool policy_news;
	bool seen;
	unsigned int visited;
	unsigned long changed;
	unsigned long back_at;
};

void vpnflow_tunnel_key_from_state(struct vpnflow_tunnel_key *k,
				   const struct xfrm_state *x);
/* The identity of the tunnel @xp's first tunnel-mode template points at. */
bool vpnflow_tunnel_key_from_policy(const struct xfrm_policy *xp,
				    struct vpnflow_tunnel_key *k);
bool vpnflow_tunnel_key_eq(const struct vpnflow_tunnel_key *a,
			   const struct vpnflow_tunnel_key *b);
struct vpnflow_tunnel *vpnflow_tunnel_get_or_create(struct vpnflow_net *vn,
						    const struct vpnflow_tunnel_key *k,
						    gfp_t gfp);
/*
 * Reconcile, step one: walk the SA table, create the tunnels of its
 * tunnel-mode SAs and mark them seen. *@routed: one is route-based.
 * Returns false (and changes nothing) without memory.
 */
bool vpnflow_tunnel_sync_sas(struct vpnflow_net *vn, bool *routed);
/*
 * Reconcile, step two: the up/down transitions the SA walk showed; down
 * tunnels without flows are freed. Down tunnels with flows to handle
 * (@revisit: their preserved flows too), not yet visited in pass @gen,
 * are marked visited and returned in @down, at most @max: the caller
 * handles their flows outside vn->tlock and calls again while it gets
 * @max.
 */
unsigned int vpnflow_tunnel_update(struct vpnflow_net *vn, unsigned int gen, bool revisit,
				   struct vpnflow_tunnel **down, unsigned int max);
/* xfrm notifier: a tunnel-mode SA was added or updated (its return?). */
void vpnflow_tunnel_sa_news(struct vpnflow_net *vn, const struct xfrm_state *x);
void vpnflow_tunnel_policy_news(struct vpnflow_net *vn, const struct xfrm_policy *xp);
/* Whether the namespace has a tunnel at all; takes vn->tlock. */
bool vpnflow_tunnels_exist(struct vpnflow_net *vn);
void vpnflow_tunnel_free_all(struct vpnflow_net *vn);

#endif /* _VPNFLOW_TUNNEL_H */
