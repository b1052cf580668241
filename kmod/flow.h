/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: flows carried by tunnels.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_FLOW_H
#define _VPNFLOW_FLOW_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/rhashtable-types.h>
#include <net/netfilter/nf_conntrack.h>

#include <uapi/linux/vpnflow.h>

struct vpnflow_net;
struct vpnflow_tunnel;

/*
 * One conntrack entry whose packets went through a tunnel-mode SA here.
 * We hold a reference on the entry for as long as the flow is tracked.
 */
struct vpnflow_flow {
	struct rhash_head rnode;	/* vn->flows, keyed by ct */
	struct nf_conn *ct;
	struct list_head tnode;		/* tun->flows; vn->tlock */
	struct list_head pnode;		/* vn->preserved while PRESERVED; vn->tlock */
	struct vpnflow_tunnel *tun;	/* vn->tlock; RCU in the data path */
	struct rcu_head rcu;
	u32 tunnel_id;			/* of the tunnel it was last linked to */
	u8 state;			/* VPNFLOW_FLOW_STATE_*; READ_ONCE */
	u8 proto;
	u8 sealed;			/* BIT(dir): that direction left encrypted */
	int ifindex_in[IP_CT_DIR_MAX];	/* where each direction came in */
	int ifindex_out[IP_CT_DIR_MAX];	/* and went out */
	unsigned long start;		/* jiffies */
	unsigned long preserved_at;	/* jiffies */
	u32 deadline;			/* ct->timeout held while preserved */
	u32 ct_timeout;			/* conntrack's own, saved while preserved */
	atomic64_t bytes;
};

int vpnflow_flows_init(struct vpnflow_net *vn);
void vpnflow_flows_destroy(struct vpnflow_net *vn);
struct vpnflow_flow *vpnflow_flow_lookup(struct vpnflow_net *vn,
					 const struct nf_conn *ct);
void vpnflow_flow_track(struct vpnflow_net *vn, struct nf_conn *ct,
			enum ip_conntrack_dir dir, const struct xfrm_state *x,
			bool sealed, const struct sk_buff *skb,
			const struct net_device *out);
void vpnflow_flows_tunnel_down(struct vpnflow_net *vn, struct vpnflow_tunnel *t);
void vpnflow_flows_gc(struct vpnflow_net *vn);

#endif /* _VPNFLOW_FLOW_H */
