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

struct vpnflow_tunnel {
	struct hlist_node node;		/* vn->tunnels; vn->tlock */
	struct vpnflow_tunnel_key key;
	struct list_head flows;		/* vpnflow_flow.tnode; vn->tlock */
	struct rcu_head rcu;
	u32 id;				/* stable while the tunnel object lives */
	u32 nflows;			/* vn->tlock */
	u32 npreserved;			/* vn->tlock */
	u32 nsa;			/* valid SAs at the last reconcile */
	u32 reqid;			/* of an SA seen at the last reconcile */
	u8 proto;			/* IPPROTO_ESP/AH of that SA */
	bool up;			/* READ_ONCE in the data path */
	u8 reclassify;			/* VPNFLOW_RECLASSIFY_*: reclassify-vpn pending */
	bool passed;			/* a reclassify-vpn pass ran since it came up */
	bool no_policy;			/* that pass found no policy: wait for policy_news */
	u32 sel_hash;			/* of the selectors its last pass saw */
	bool policy_news;		/* vn->tlock: outbound policy added or updated */
	bool seen;			/* reconcile scratch */
	unsigned int visited;		/* reconcile pass that handled it */
	unsigned long changed;		/* jiffies of the last up/down */
};

void vpnflow_tunnel_key_from_state(struct vpnflow_tunnel_key *k,
				   const struct xfrm_state *x);
bool vpnflow_tunnel_key_eq(const struct vpnflow_tunnel_key *a,
			   const struct vpnflow_tunnel_key *b);
struct vpnflow_tunnel *vpnflow_tunnel_get_or_create(struct vpnflow_net *vn,
						    const struct vpnflow_tunnel_key *k,
						    gfp_t gfp);
void vpnflow_tunnel_reconcile(struct vpnflow_net *vn);
void vpnflow_tunnel_policy_news(struct vpnflow_net *vn, const struct xfrm_policy *xp);
void vpnflow_tunnel_free_all(struct vpnflow_net *vn);

#endif /* _VPNFLOW_TUNNEL_H */
