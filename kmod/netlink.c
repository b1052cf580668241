// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: the generic netlink family "vpnflow": its handlers.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/module.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <net/netlink.h>

#include <uapi/linux/vpnflow.h>

#include "compat/genetlink.h"
#include "flow.h"
#include "ifopts.h"
#include "labels.h"
#include "netlink.h"
#include "netlink-gen.h"
#include "nfhooks.h"
#include "tunnel.h"
#include "vpnflow.h"
#include "work.h"

/*
 * Requests act on the network namespace of the requesting socket.
 * Changes, tunnels, flows and the events group need CAP_NET_ADMIN in that
 * namespace's user namespace (from the spec, which says why); options and
 * counters are open. Every rejected request carries an extack message.
 */

static int vpnflow_nl_put_options(struct sk_buff *skb, const struct vpnflow_net *vn,
				  const struct vpnflow_options *o)
{
	struct nlattr *nest;

	nest = nla_nest_start(skb, VPNFLOW_A_OPTIONS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u8(skb, VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS, o->preserve_vpn_flows) ||
	    nla_put_u8(skb, VPNFLOW_A_OPTIONS_RECLASSIFY_VPN, o->reclassify_vpn) ||
	    nla_put_u32(skb, VPNFLOW_A_OPTIONS_TCPMSS, o->tcpmss) ||
	    nla_put_u32(skb, VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM, o->tcpmss_minimum) ||
	    nla_put_u8(skb, VPNFLOW_A_OPTIONS_TCPMSS_AUTO, o->tcpmss_auto) ||
	    nla_put_u32(skb, VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT, o->preserve_timeout) ||
	    nla_put_u8(skb, VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY, o->tcpmss_tunneled_only) ||
	    nla_put_u8(skb, VPNFLOW_A_OPTIONS_FAST_RESUME, o->fast_resume) ||
	    nla_put_u8(skb, VPNFLOW_A_OPTIONS_DF_BIT, o->df_bit) ||
	    nla_put_u32(skb, VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK, o->tcp_state_bypass_mark) ||
	    nla_put_u32(skb, VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK, o->tcp_state_bypass_mask) ||
	    nla_put_u8(skb, VPNFLOW_A_OPTIONS_FRAGMENTATION, o->fragmentation) ||
	    nla_put_u8(skb, VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS, o->label_vpn_flows) ||
	    vpnflow_if_opts_put(skb, vn)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* Start a reply to @info; on success *hdrp is the reply's genl header. */
static struct sk_buff *vpnflow_nl_reply_new(struct genl_info *info, void **hdrp)
{
	struct sk_buff *msg;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	*hdrp = genlmsg_put_reply(msg, info, &vpnflow_nl_family, 0,
				  info->genlhdr->cmd);
	if (!*hdrp) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int vpnflow_nl_options_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vpnflow_net *vn = vpnflow_pernet(genl_info_net(info));
	struct vpnflow_options opts;
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = compat_genl_no_attrs(info->nlhdr, info->extack);
	if (err)
		return err;
	mutex_lock(&vn->opts_lock);
	opts = vn->opts;
	mutex_unlock(&vn->opts_lock);

	msg = vpnflow_nl_reply_new(info, &hdr);
	if (!msg)
		return -ENOMEM;
	if (vpnflow_nl_put_options(msg, vn, &opts)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* The values the policy cannot check; a rejected request changes nothing. */
static int vpnflow_nl_options_check(struct nlattr **tb, struct netlink_ext_ack *extack)
{
	struct nlattr *a;

	a = tb[VPNFLOW_A_OPTIONS_TCPMSS];
	if (a && nla_get_u32(a) && nla_get_u32(a) < VPNFLOW_TCPMSS_MIN) {
		NL_SET_ERR_MSG_ATTR(extack, a, "tcpmss must be 0 (off) or 48-65535");
		return -ERANGE;
	}
	a = tb[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM];
	if (a && nla_get_u32(a) && nla_get_u32(a) < VPNFLOW_TCPMSS_MIN) {
		NL_SET_ERR_MSG_ATTR(extack, a, "tcpmss minimum must be 0 (off) or 48-65535");
		return -ERANGE;
	}
	return 0;
}

/* The options given in @tb, over @o. */
static void vpnflow_nl_options_merge(struct vpnflow_options *o, struct nlattr **tb)
{
	if (tb[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS])
		o->preserve_vpn_flows = nla_get_u8(tb[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS]);
	if (tb[VPNFLOW_A_OPTIONS_RECLASSIFY_VPN])
		o->reclassify_vpn = nla_get_u8(tb[VPNFLOW_A_OPTIONS_RECLASSIFY_VPN]);
	if (tb[VPNFLOW_A_OPTIONS_TCPMSS])
		o->tcpmss = nla_get_u32(tb[VPNFLOW_A_OPTIONS_TCPMSS]);
	if (tb[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM])
		o->tcpmss_minimum = nla_get_u32(tb[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM]);
	if (tb[VPNFLOW_A_OPTIONS_TCPMSS_AUTO])
		o->tcpmss_auto = nla_get_u8(tb[VPNFLOW_A_OPTIONS_TCPMSS_AUTO]);
	if (tb[VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT])
		o->preserve_timeout = nla_get_u32(tb[VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT]);
	if (tb[VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY])
		o->tcpmss_tunneled_only = nla_get_u8(tb[VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY]);
	if (tb[VPNFLOW_A_OPTIONS_FAST_RESUME])
		o->fast_resume = nla_get_u8(tb[VPNFLOW_A_OPTIONS_FAST_RESUME]);
	if (tb[VPNFLOW_A_OPTIONS_DF_BIT])
		o->df_bit = nla_get_u8(tb[VPNFLOW_A_OPTIONS_DF_BIT]);
	if (tb[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK])
		o->tcp_state_bypass_mark = nla_get_u32(tb[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK]);
	if (tb[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK])
		o->tcp_state_bypass_mask = nla_get_u32(tb[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK]);
	if (tb[VPNFLOW_A_OPTIONS_FRAGMENTATION])
		o->fragmentation = nla_get_u8(tb[VPNFLOW_A_OPTIONS_FRAGMENTATION]);
	if (tb[VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS])
		o->label_vpn_flows = nla_get_u8(tb[VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS]);
}

/* Publish @o, a field at a time: the data path reads them one by one. */
static void vpnflow_nl_options_publish(struct vpnflow_net *vn, const struct vpnflow_options *o)
{
	lockdep_assert_held(&vn->opts_lock);
	WRITE_ONCE(vn->opts.preserve_vpn_flows, o->preserve_vpn_flows);
	WRITE_ONCE(vn->opts.reclassify_vpn, o->reclassify_vpn);
	WRITE_ONCE(vn->opts.tcpmss, o->tcpmss);
	WRITE_ONCE(vn->opts.tcpmss_minimum, o->tcpmss_minimum);
	WRITE_ONCE(vn->opts.tcpmss_auto, o->tcpmss_auto);
	WRITE_ONCE(vn->opts.preserve_timeout, o->preserve_timeout);
	WRITE_ONCE(vn->opts.tcpmss_tunneled_only, o->tcpmss_tunneled_only);
	WRITE_ONCE(vn->opts.fast_resume, o->fast_resume);
	WRITE_ONCE(vn->opts.df_bit, o->df_bit);
	WRITE_ONCE(vn->opts.fragmentation, o->fragmentation);
	WRITE_ONCE(vn->opts.label_vpn_flows, o->label_vpn_flows);
	/*
	 * Mask to 0 first: a packet between these writes mostly sees the
	 * option off. The pair is not read atomically, so a packet racing
	 * a change may still be judged by one old and one new half.
	 */
	WRITE_ONCE(vn->opts.tcp_state_bypass_mask, 0);
	WRITE_ONCE(vn->opts.tcp_state_bypass_mark, o->tcp_state_bypass_mark);
	WRITE_ONCE(vn->opts.tcp_state_bypass_mask, o->tcp_state_bypass_mask);
}

int vpnflow_nl_options_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vpnflow_net *vn = vpnflow_pernet(genl_info_net(info));
	struct nlattr *tb[VPNFLOW_A_OPTIONS_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	struct vpnflow_if_opts *ifo = NULL;
	struct vpnflow_options o;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, VPNFLOW_A_OPTIONS)) {
		/* Where the kernel has it, a missing-attribute TLV names it too. */
		NL_SET_ERR_MSG_MOD(info->extack, "no options given");
		return -EINVAL;
	}

	err = nla_parse_nested(tb, VPNFLOW_A_OPTIONS_MAX, info->attrs[VPNFLOW_A_OPTIONS],
			       vpnflow_options_nl_policy, extack);
	if (err)
		return err;
	err = vpnflow_nl_options_check(tb, extack);
	if (err)
		return err;
	if (tb[VPNFLOW_A_OPTIONS_IF_OPTIONS]) {
		ifo = vpnflow_if_opts_parse(tb[VPNFLOW_A_OPTIONS_IF_OPTIONS], extack);
		if (IS_ERR(ifo))
			return PTR_ERR(ifo);
	}

	mutex_lock(&vn->opts_lock);
	o = vn->opts;
	vpnflow_nl_options_merge(&o, tb);
	if (o.tcpmss && o.tcpmss_minimum > o.tcpmss) {
		NL_SET_ERR_MSG_MOD(extack, "tcpmss minimum cannot exceed tcpmss");
		NL_SET_BAD_ATTR(extack, tb[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM] ?:
					tb[VPNFLOW_A_OPTIONS_TCPMSS]);
		err = -ERANGE;
		goto out;
	}
	if ((o.tcp_state_bypass_mark & ~o.tcp_state_bypass_mask) ||
	    (o.tcp_state_bypass_mask && !o.tcp_state_bypass_mark)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "tcp-state-bypass mark must be non-zero and inside its mask");
		NL_SET_BAD_ATTR(extack, tb[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK] ?:
					tb[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK]);
		err = -EINVAL;
		goto out;
	}
	err = vpnflow_labels_sync(vn, o.label_vpn_flows);
	if (err) {
		NL_SET_ERR_MSG_ATTR(extack, tb[VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS],
				    "conntrack labels are not available in this kernel");
		goto out;
	}
	err = vpnflow_nf_bypass_prepare(vn, &o);
	if (err) {
		NL_SET_ERR_MSG_MOD(extack, "cannot register the tcp-state-bypass hooks");
		vpnflow_labels_sync(vn, vn->opts.label_vpn_flows);
		goto out;
	}
	vpnflow_nl_options_publish(vn, &o);
	if (tb[VPNFLOW_A_OPTIONS_IF_OPTIONS]) {
		vpnflow_if_opts_replace(vn, ifo);
		ifo = NULL;
	}
	vpnflow_nf_bypass_sync(vn);
out:
	mutex_unlock(&vn->opts_lock);
	kfree(ifo);
	if (err)
		return err;

	/* Changes apply at once to live tunnels and flows. */
	set_bit(VPNFLOW_REVISIT_OPTIONS, &vn->revisit);
	vpnflow_work_kick(vn);
	return 0;
}

static atomic64_t *vpnflow_counter(struct vpnflow_net *vn, int attr)
{
	struct vpnflow_counters *c = &vn->cnt;

	switch (attr) {
	case VPNFLOW_A_COUNTERS_SA_EVENTS: return &c->sa_events;
	case VPNFLOW_A_COUNTERS_POLICY_EVENTS: return &c->policy_events;
	case VPNFLOW_A_COUNTERS_TUNNELS_UP: return &c->tunnels_up;
	case VPNFLOW_A_COUNTERS_TUNNELS_DOWN: return &c->tunnels_down;
	case VPNFLOW_A_COUNTERS_FLOWS_PRESERVED: return &c->flows_preserved;
	case VPNFLOW_A_COUNTERS_FLOWS_RESUMED: return &c->flows_resumed;
	case VPNFLOW_A_COUNTERS_FLOWS_EXPIRED: return &c->flows_expired;
	case VPNFLOW_A_COUNTERS_FLOWS_TORN_DOWN: return &c->flows_torn_down;
	case VPNFLOW_A_COUNTERS_PKTS_DROPPED: return &c->pkts_dropped;
	case VPNFLOW_A_COUNTERS_FLOWS_UNTRACKED: return &c->flows_untracked;
	case VPNFLOW_A_COUNTERS_FLOWS_RECLASSIFIED: return &c->flows_reclassified;
	case VPNFLOW_A_COUNTERS_SYNS_LOWERED: return &c->syns_lowered;
	case VPNFLOW_A_COUNTERS_SYNS_RAISED: return &c->syns_raised;
	case VPNFLOW_A_COUNTERS_FLOWS_EVICTED: return &c->flows_evicted;
	case VPNFLOW_A_COUNTERS_RECLASSIFY_WALKS: return &c->reclassify_walks;
	case VPNFLOW_A_COUNTERS_RECLASSIFY_EXAMINED: return &c->reclassify_examined;
	case VPNFLOW_A_COUNTERS_RECLASSIFY_PASSES: return &c->reclassify_passes;
	case VPNFLOW_A_COUNTERS_ICMP_HINTS: return &c->icmp_hints;
	case VPNFLOW_A_COUNTERS_ESP_DF_REWRITTEN: return &c->esp_df_rewritten;
	case VPNFLOW_A_COUNTERS_TCP_STATE_BYPASSED: return &c->tcp_state_bypassed;
	case VPNFLOW_A_COUNTERS_PREFRAG_PACKETS: return &c->prefrag_packets;
	case VPNFLOW_A_COUNTERS_PREFRAG_FRAGMENTS: return &c->prefrag_fragments;
	case VPNFLOW_A_COUNTERS_PREFRAG_FAILURES: return &c->prefrag_failures;
	case VPNFLOW_A_COUNTERS_FLOWS_ADOPTED: return &c->flows_adopted;
	}
	return NULL;
}

int vpnflow_nl_counters_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vpnflow_net *vn = vpnflow_pernet(genl_info_net(info));
	struct sk_buff *msg;
	struct nlattr *nest;
	atomic64_t *c;
	int attr, err;
	void *hdr;

	err = compat_genl_no_attrs(info->nlhdr, info->extack);
	if (err)
		return err;
	msg = vpnflow_nl_reply_new(info, &hdr);
	if (!msg)
		return -ENOMEM;
	nest = nla_nest_start(msg, VPNFLOW_A_COUNTERS);
	if (!nest)
		goto nospace;
	for (attr = 1; attr <= VPNFLOW_A_COUNTERS_MAX; attr++) {
		c = vpnflow_counter(vn, attr);
		if (c && nla_put_u64_64bit(msg, attr, atomic64_read(c), VPNFLOW_A_COUNTERS_PAD))
			goto nospace;
	}
	if (nla_put_u32(msg, VPNFLOW_A_COUNTERS_FLOWS, atomic_read(&vn->nflows)) ||
	    nla_put_u32(msg, VPNFLOW_A_COUNTERS_FLOWS_HELD, atomic_read(&vn->npreserved)))
		goto nospace;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int vpnflow_nl_counters_clear_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vpnflow_net *vn = vpnflow_pernet(genl_info_net(info));
	atomic64_t *c;
	int attr, err;

	err = compat_genl_no_attrs(info->nlhdr, info->extack);
	if (err)
		return err;
	for (attr = 1; attr <= VPNFLOW_A_COUNTERS_MAX; attr++) {
		c = vpnflow_counter(vn, attr);
		if (c)
			atomic64_set(c, 0);
	}
	return 0;
}

static int vpnflow_nl_put_addr(struct sk_buff *skb, int attr, u16 family,
			       const void *addr)
{
	return nla_put(skb, attr, family == AF_INET6 ? sizeof(struct in6_addr) : sizeof(__be32),
		       addr);
}

/* Caller holds vn->tlock. */
static int vpnflow_nl_put_tunnel(struct sk_buff *skb, const struct vpnflow_tunnel *t)
{
	struct nlattr *nest = nla_nest_start(skb, VPNFLOW_A_TUNNEL);

	if (!nest ||
	    nla_put_u32(skb, VPNFLOW_A_TUNNEL_ID, t->id) ||
	    nla_put_u16(skb, VPNFLOW_A_TUNNEL_FAMILY, t->key.family) ||
	    vpnflow_nl_put_addr(skb, VPNFLOW_A_TUNNEL_ADDR_LO, t->key.family, &t->key.lo) ||
	    vpnflow_nl_put_addr(skb, VPNFLOW_A_TUNNEL_ADDR_HI, t->key.family, &t->key.hi) ||
	    nla_put_u32(skb, VPNFLOW_A_TUNNEL_IF_ID, t->key.if_id) ||
	    nla_put_u32(skb, VPNFLOW_A_TUNNEL_MARK, t->key.mark) ||
	    nla_put_u8(skb, VPNFLOW_A_TUNNEL_STATE, t->up ? VPNFLOW_TUNNEL_STATE_UP :
							    VPNFLOW_TUNNEL_STATE_DOWN) ||
	    nla_put_u32(skb, VPNFLOW_A_TUNNEL_SA_COUNT, t->nsa) ||
	    nla_put_u32(skb, VPNFLOW_A_TUNNEL_REQID, t->reqid) ||
	    nla_put_u32(skb, VPNFLOW_A_TUNNEL_FLOWS, t->nflows) ||
	    nla_put_u32(skb, VPNFLOW_A_TUNNEL_FLOWS_HELD, t->npreserved) ||
	    nla_put_u32(skb, VPNFLOW_A_TUNNEL_SINCE, (jiffies - t->changed) / HZ) ||
	    nla_put_u8(skb, VPNFLOW_A_TUNNEL_PROTO, t->proto)) {
		if (nest)
			nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int vpnflow_nl_put_flow(struct sk_buff *skb, const struct vpnflow_flow *f)
{
	const struct nf_conntrack_tuple *tp = &f->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	u16 family = tp->src.l3num == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
	int in = f->ifindex_in[IP_CT_DIR_ORIGINAL] ?: f->ifindex_out[IP_CT_DIR_REPLY];
	int out = f->ifindex_out[IP_CT_DIR_ORIGINAL] ?: f->ifindex_in[IP_CT_DIR_REPLY];
	u8 state = READ_ONCE(f->state);
	u32 resumes = READ_ONCE(f->resumes);
	u32 delay = READ_ONCE(f->resume_delay);
	struct nlattr *nest;

	nest = nla_nest_start(skb, VPNFLOW_A_FLOW);
	if (!nest ||
	    nla_put_u32(skb, VPNFLOW_A_FLOW_ID, nf_ct_get_id(f->ct)) ||
	    nla_put_u32(skb, VPNFLOW_A_FLOW_TUNNEL_ID, f->tunnel_id) ||
	    nla_put_u8(skb, VPNFLOW_A_FLOW_STATE, state) ||
	    nla_put_u16(skb, VPNFLOW_A_FLOW_FAMILY, family) ||
	    nla_put_u8(skb, VPNFLOW_A_FLOW_PROTO, f->proto) ||
	    vpnflow_nl_put_addr(skb, VPNFLOW_A_FLOW_SRC, family, &tp->src.u3) ||
	    vpnflow_nl_put_addr(skb, VPNFLOW_A_FLOW_DST, family, &tp->dst.u3) ||
	    nla_put_u16(skb, VPNFLOW_A_FLOW_SPORT, ntohs(tp->src.u.all)) ||
	    nla_put_u16(skb, VPNFLOW_A_FLOW_DPORT, ntohs(tp->dst.u.all)) ||
	    nla_put_u32(skb, VPNFLOW_A_FLOW_IFINDEX_SRC, in) ||
	    nla_put_u32(skb, VPNFLOW_A_FLOW_IFINDEX_DST, out) ||
	    nla_put_u32(skb, VPNFLOW_A_FLOW_DURATION, (jiffies - f->start) / HZ) ||
	    nla_put_u64_64bit(skb, VPNFLOW_A_FLOW_BYTES, atomic64_read(&f->bytes),
			      VPNFLOW_A_FLOW_PAD) ||
	    nla_put_u32(skb, VPNFLOW_A_FLOW_EXPIRES, nf_ct_expires(f->ct) / HZ) ||
	    (state == VPNFLOW_FLOW_STATE_PRESERVED &&
	     nla_put_u32(skb, VPNFLOW_A_FLOW_HELD_FOR, (jiffies - f->preserved_at) / HZ)) ||
	    (resumes && nla_put_u32(skb, VPNFLOW_A_FLOW_RESUMES, resumes)) ||
	    (resumes && delay != VPNFLOW_RESUME_DELAY_NONE &&
	     nla_put_u32(skb, VPNFLOW_A_FLOW_RESUME_DELAY, delay))) {
		if (nest)
			nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* One message per tunnel; cb->args[0] counts the ones already sent. */
int vpnflow_nl_tunnel_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct vpnflow_net *vn = vpnflow_pernet(sock_net(skb->sk));
	struct vpnflow_tunnel *t;
	long idx = 0, skip = cb->args[0];
	int bkt, err = 0;
	void *hdr;

	if (!skip) {
		err = compat_genl_no_attrs(cb->nlh, cb->extack);
		if (err)
			return err;
	}
	spin_lock_bh(&vn->tlock);
	hash_for_each(vn->tunnels, bkt, t, node) {
		if (idx++ < skip)
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &vpnflow_nl_family, NLM_F_MULTI, VPNFLOW_CMD_TUNNEL_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		if (vpnflow_nl_put_tunnel(skb, t)) {
			genlmsg_cancel(skb, hdr);
			err = -EMSGSIZE;
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = idx;
	}
	spin_unlock_bh(&vn->tlock);
	if (err && cb->args[0] == skip)
		return err;	/* not even one fit */
	return skb->len;
}

/*
 * Flow dumps walk vn->flows (the rhashtable the data path looks flows up
 * in) under RCU, with an iterator kept across the dump's parts: no lock
 * is taken and BHs stay on, so a dump of a million flows stalls no
 * packet, and each part goes on where the last one stopped. A flow stays
 * readable for an RCU grace period after it is unlinked (its conntrack
 * reference is dropped only then, see vpnflow_flow_release()). If the
 * table is resized meanwhile the walk starts again from the top, as
 * other rhashtable dumps do: a flow may then be reported twice.
 */
int vpnflow_nl_flow_get_start(struct netlink_callback *cb)
{
	struct vpnflow_net *vn = vpnflow_pernet(sock_net(cb->skb->sk));
	struct rhashtable_iter *iter;

	iter = kmalloc(sizeof(*iter), GFP_KERNEL);
	if (!iter)
		return -ENOMEM;
	rhashtable_walk_enter(&vn->flows, iter);
	cb->args[0] = (long)iter;
	return 0;
}

int vpnflow_nl_flow_get_done(struct netlink_callback *cb)
{
	struct rhashtable_iter *iter = (struct rhashtable_iter *)cb->args[0];

	if (iter) {
		rhashtable_walk_exit(iter);
		kfree(iter);
	}
	return 0;
}

/* Flows looked at between two chances to reschedule (filtered dumps). */
#define VPNFLOW_DUMP_SCAN 1024

/* One message per flow, as many as fit; the iterator keeps the place. */
int vpnflow_nl_flow_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct rhashtable_iter *iter = (struct rhashtable_iter *)cb->args[0];
	struct nlattr **attrs = compat_genl_dumpit_attrs(cb);
	struct nlattr *a_tun = attrs[VPNFLOW_A_FILTER_TUNNEL_ID];
	struct nlattr *a_state = attrs[VPNFLOW_A_FILTER_FLOW_STATE];
	unsigned int scan = 0, sent = 0;
	struct vpnflow_flow *f;
	int err = 0;
	void *hdr;

	rhashtable_walk_start(iter);
	/* The flow that did not fit last time, or the first one. */
	f = rhashtable_walk_peek(iter);
	for (;;) {
		if (IS_ERR(f)) {
			if (PTR_ERR(f) != -EAGAIN) {
				err = PTR_ERR(f);
				break;
			}
			f = rhashtable_walk_next(iter);	/* resized: from the top */
			continue;
		}
		if (!f)
			break;
		if ((!a_tun || READ_ONCE(f->tunnel_id) == nla_get_u32(a_tun)) &&
		    (!a_state || READ_ONCE(f->state) == nla_get_u8(a_state))) {
			hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
					  &vpnflow_nl_family, NLM_F_MULTI, VPNFLOW_CMD_FLOW_GET);
			if (!hdr || vpnflow_nl_put_flow(skb, f)) {
				if (hdr)
					genlmsg_cancel(skb, hdr);
				err = -EMSGSIZE;
				break;
			}
			genlmsg_end(skb, hdr);
			sent++;
		}
		if (++scan % VPNFLOW_DUMP_SCAN == 0) {
			rhashtable_walk_stop(iter);
			cond_resched();
			rhashtable_walk_start(iter);
		}
		f = rhashtable_walk_next(iter);
	}
	rhashtable_walk_stop(iter);
	if (err == -EMSGSIZE && sent)
		return skb->len;	/* full: the next part goes on from f */
	return err ?: skb->len;
}

/* Whether anyone listens to the "events" group in this namespace. */
bool vpnflow_nl_listening(struct vpnflow_net *vn)
{
	return genl_has_listeners(&vpnflow_nl_family, vn->net, VPNFLOW_NLGRP_EVENTS);
}

/*
 * An event message for the "events" group, with its event attribute; NULL
 * when nobody listens (or no memory). Send it with vpnflow_nl_event_send().
 */
static struct sk_buff *vpnflow_nl_event_new(struct vpnflow_net *vn, u8 cmd, u8 event,
					    gfp_t gfp, void **hdrp)
{
	struct sk_buff *msg;

	if (!vpnflow_nl_listening(vn))
		return NULL;
	msg = genlmsg_new(NLMSG_GOODSIZE, gfp);
	if (!msg)
		return NULL;
	*hdrp = genlmsg_put(msg, 0, 0, &vpnflow_nl_family, 0, cmd);
	if (!*hdrp || nla_put_u8(msg, VPNFLOW_A_EVENT, event)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void vpnflow_nl_event_send(struct vpnflow_net *vn, struct sk_buff *msg, void *hdr,
				  gfp_t gfp)
{
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&vpnflow_nl_family, vn->net, msg, 0,
				VPNFLOW_NLGRP_EVENTS, gfp);
}

/* Tell listeners of the "events" group what happened to a flow. */
void vpnflow_nl_flow_event(struct vpnflow_net *vn, const struct vpnflow_flow *f,
			   u8 event, gfp_t gfp)
{
	struct sk_buff *msg;
	void *hdr;

	msg = vpnflow_nl_event_new(vn, VPNFLOW_CMD_FLOW_NTF, event, gfp, &hdr);
	if (!msg)
		return;
	if (vpnflow_nl_put_flow(msg, f)) {
		nlmsg_free(msg);
		return;
	}
	vpnflow_nl_event_send(vn, msg, hdr, gfp);
}

/* A tunnel event (reclassified) for listeners of the "events" group. */
void vpnflow_nl_tunnel_event(struct vpnflow_net *vn, struct vpnflow_tunnel *t,
			     u8 event, u32 count)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = vpnflow_nl_event_new(vn, VPNFLOW_CMD_TUNNEL_NTF, event, GFP_KERNEL, &hdr);
	if (!msg)
		return;
	spin_lock_bh(&vn->tlock);
	err = vpnflow_nl_put_tunnel(msg, t) || nla_put_u32(msg, VPNFLOW_A_COUNT, count);
	spin_unlock_bh(&vn->tlock);
	if (err) {
		nlmsg_free(msg);
		return;
	}
	vpnflow_nl_event_send(vn, msg, hdr, GFP_KERNEL);
}

struct genl_family vpnflow_nl_family __ro_after_init = {
	.name		= VPNFLOW_FAMILY_NAME,
	.version	= VPNFLOW_FAMILY_VERSION,
	/*
	 * No family-wide maxattr: each operation that takes attributes has
	 * its own policy. The core gives the others a reject-all policy
	 * sized for no attributes (one entry on 7.3), and a family maxattr
	 * would have it validate attribute types past that array's end.
	 */
	.netnsok	= true,
	.module		= THIS_MODULE,
	.ops		= vpnflow_nl_ops,
	.n_ops		= ARRAY_SIZE(vpnflow_nl_ops),
	.mcgrps		= vpnflow_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(vpnflow_nl_mcgrps),
};

int vpnflow_nl_init(void)
{
	return genl_register_family(&vpnflow_nl_family);
}

void vpnflow_nl_exit(void)
{
	genl_unregister_family(&vpnflow_nl_family);
}
