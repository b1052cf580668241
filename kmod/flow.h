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

/**
 * struct vpnflow_flow - a conntrack entry whose packets went through a
 * tunnel-mode SA here
 *
 * Linked and unlinked under vn->tlock; looked up (data path) and dumped
 * (netlink) under RCU. Freed after a grace period, which is also when the
 * reference on @ct is dropped (vpnflow_flow_release()).
 *
 * @rnode: in vn->flows, keyed by @ct; vn->tlock.
 * @ct: the conntrack entry, held (a reference) while the flow lives;
 *	set at creation, never changed.
 * @tnode: in @tun's flows; vn->tlock.
 * @pnode: in vn->preserved while PRESERVED; vn->tlock.
 * @tun: its tunnel; vn->tlock. NULL once unlinked (the data path, having
 *	found the flow under RCU, checks it under vn->tlock).
 * @rcu: for the release after a grace period.
 * @tunnel_id: @tun's id, or the last one's; WRITE_ONCE() under vn->tlock,
 *	READ_ONCE() in dumps.
 * @state: VPNFLOW_FLOW_STATE_*; WRITE_ONCE() under vn->tlock, READ_ONCE()
 *	anywhere.
 * @proto: the L4 protocol; set at creation.
 * @sealed: BIT(dir): that direction left encrypted; WRITE_ONCE() in the
 *	data path (under vn->tlock once the flow is linked).
 * @ifindex_in: where each direction came in; WRITE_ONCE() as @sealed.
 * @ifindex_out: where each direction went out; WRITE_ONCE() as @sealed.
 * @start: jiffies at creation.
 * @preserved_at: jiffies when it was preserved; vn->tlock.
 * @deadline: the ct->timeout held while preserved; WRITE_ONCE() under
 *	vn->tlock, READ_ONCE() by the hold hook.
 * @ct_timeout: conntrack's own timeout, saved by the hold hook while
 *	preserved (WRITE_ONCE()); READ_ONCE() at resume.
 * @bytes: bytes seen in both directions; atomic.
 * @hint_burst: BIT(dir): fast-resume sent that direction's burst of
 *	hints since the flow last went through a tunnel in it (hint.c);
 *	atomic bitops, cleared with WRITE_ONCE() under vn->tlock.
 * @hint_last: jiffies of that direction's last hints; cmpxchg() in the
 *	data path.
 * @resumes: times it was resumed; WRITE_ONCE() under vn->tlock,
 *	READ_ONCE() in dumps.
 * @resume_delay: ms from its tunnel's return (struct vpnflow_tunnel
 *	back_at) to its last resume, VPNFLOW_RESUME_DELAY_NONE if that
 *	tunnel had not come back since the flow was preserved; as @resumes.
 */
struct vpnflow_flow {
	struct rhash_head rnode;
	struct nf_conn *ct;
	struct list_head tnode;
	struct list_head pnode;
	struct vpnflow_tunnel *tun;
	struct rcu_head rcu;
	u32 tunnel_id;
	u8 state;
	u8 proto;
	u8 sealed;
	int ifindex_in[IP_CT_DIR_MAX];
	int ifindex_out[IP_CT_DIR_MAX];
	unsigned long start;
	unsigned long preserved_at;
	u32 deadline;
	u32 ct_timeout;
	atomic64_t bytes;
	unsigned long hint_burst;
	unsigned long hint_last[IP_CT_DIR_MAX];
	u32 resumes;
	u32 resume_delay;
};

#define VPNFLOW_RESUME_DELAY_NONE	U32_MAX

int vpnflow_flows_init(struct vpnflow_net *vn);
void vpnflow_flows_destroy(struct vpnflow_net *vn);
struct vpnflow_flow *vpnflow_flow_lookup(struct vpnflow_net *vn,
					 const struct nf_conn *ct);
void vpnflow_flow_track(struct vpnflow_net *vn, struct nf_conn *ct,
			enum ip_conntrack_dir dir, const struct xfrm_state *x,
			bool sealed, const struct sk_buff *skb,
			const struct net_device *out);
struct vpnflow_flow *vpnflow_flow_adopt(struct vpnflow_net *vn, struct nf_conn *ct,
					enum ip_conntrack_dir dir,
					const struct sk_buff *skb);
void vpnflow_flows_tunnel_down(struct vpnflow_net *vn, struct vpnflow_tunnel *t);
void vpnflow_flows_gc(struct vpnflow_net *vn);

#endif /* _VPNFLOW_FLOW_H */
