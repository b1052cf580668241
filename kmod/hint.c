// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: fast-resume. A held flow's TCP segment that the track
 * hook drops (its tunnel is down) is answered with an ICMP destination
 * unreachable, host unreachable (ICMPv6: no route to destination), sent
 * to its sender and quoting it: RFC 6069 (TCP-LD). Linux's tcp_v4_err()
 * and tcp_v6_err() (since 5.8) then call tcp_ld_RTO_revert(), which undoes
 * one doubling of the retransmission timeout when the quoted sequence
 * number is snd_una and the socket is retransmitting: the sender keeps
 * retransmitting about once per base RTO instead of backing off, and the
 * first retransmission after the tunnel is back gets through. These
 * codes are soft errors for an established connection: it is never
 * aborted for them (docs/design.md has the kernel's rules).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/spinlock.h>
#include <linux/tcp.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/ip6_checksum.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/route.h>

#include "flow.h"
#include "hint.h"
#include "vpnflow.h"

/*
 * Each hint reverts at most one backoff step (icsk_backoff--). Before the
 * tunnel is seen down (DPD takes 8-10 s of WAN outage to clear it) the
 * sender's backoff has grown unhindered, to 5 or 6 with a 200 ms base
 * RTO; a hint per dropped retransmission would only cancel the step that
 * retransmission added. So a direction's first drop since it last went
 * through a tunnel gets a burst of VPNFLOW_HINT_BURST hints, enough for
 * any backoff (tcp_retries2 is 15 by default; hints beyond the backoff
 * count are ignored by the stack), and every later drop gets
 * VPNFLOW_HINT_EACH, so that one lost hint (or one that found the socket
 * owned by its user, which ignores it) is made up by the next drop.
 * Later drops of a direction get hints at most every VPNFLOW_HINT_GAP,
 * and a namespace sends at most VPNFLOW_HINT_BUDGET hints a second.
 */
#define VPNFLOW_HINT_BURST	15
#define VPNFLOW_HINT_EACH	2
#define VPNFLOW_HINT_GAP	(HZ / 5)
#define VPNFLOW_HINT_BUDGET	1000

/* Quoted: the IP header, extension headers and the TCP header. */
#define VPNFLOW_HINT_QUOTE_MAX	512

/* Take up to @n hints from the namespace's budget; returns how many. */
static unsigned int vpnflow_hint_take(struct vpnflow_net *vn, unsigned int n)
{
	unsigned long now = jiffies;

	spin_lock_bh(&vn->hint_lock);
	if (time_after_eq(now, vn->hint_window + HZ)) {
		vn->hint_window = now;
		vn->hint_left = VPNFLOW_HINT_BUDGET;
	}
	n = min(n, vn->hint_left);
	vn->hint_left -= n;
	spin_unlock_bh(&vn->hint_lock);
	return n;
}

/*
 * The hint is routed like a packet this host sends to the sender (an
 * xfrm policy applies if one matches), and is untracked: conntrack would
 * otherwise see an error about a flow it holds and the firewall judge it.
 */
static void vpnflow_hint_send4(struct net *net, struct sk_buff *oskb,
			       unsigned int qlen)
{
	const struct iphdr *oiph = ip_hdr(oskb);
	struct flowi4 fl4 = {
		.daddr		= oiph->saddr,
		.flowi4_proto	= IPPROTO_ICMP,
	};
	struct icmphdr *icmph;
	struct sk_buff *nskb;
	struct iphdr *iph;
	struct rtable *rt;
	unsigned int len = sizeof(*icmph) + qlen;

	rt = ip_route_output_flow(net, &fl4, NULL);
	if (IS_ERR(rt))
		return;
	nskb = alloc_skb(LL_MAX_HEADER + sizeof(*iph) + len, GFP_ATOMIC);
	if (!nskb) {
		ip_rt_put(rt);
		return;
	}
	skb_reserve(nskb, LL_MAX_HEADER);
	skb_reset_network_header(nskb);
	iph = skb_put(nskb, sizeof(*iph));
	iph->version	= 4;
	iph->ihl	= sizeof(*iph) / 4;
	iph->tos	= 0;
	iph->tot_len	= htons(sizeof(*iph) + len);
	iph->id		= 0;
	iph->frag_off	= 0;
	iph->ttl	= ip4_dst_hoplimit(&rt->dst);
	iph->protocol	= IPPROTO_ICMP;
	iph->saddr	= fl4.saddr;
	iph->daddr	= fl4.daddr;
	skb_set_transport_header(nskb, sizeof(*iph));
	icmph = skb_put_zero(nskb, sizeof(*icmph));
	icmph->type	= ICMP_DEST_UNREACH;
	icmph->code	= ICMP_HOST_UNREACH;
	if (skb_copy_bits(oskb, skb_network_offset(oskb), skb_put(nskb, qlen), qlen)) {
		kfree_skb(nskb);
		ip_rt_put(rt);
		return;
	}
	icmph->checksum = ip_compute_csum(icmph, len);
	ip_send_check(iph);
	nskb->protocol = htons(ETH_P_IP);
	skb_dst_set(nskb, &rt->dst);
	nf_ct_set(nskb, NULL, IP_CT_UNTRACKED);
	ip_local_out(net, NULL, nskb);
}

static void vpnflow_hint_send6(struct net *net, struct sk_buff *oskb,
			       unsigned int qlen)
{
	const struct ipv6hdr *oip6h = ipv6_hdr(oskb);
	struct flowi6 fl6 = {
		.daddr		= oip6h->saddr,
		.flowi6_proto	= IPPROTO_ICMPV6,
		.fl6_icmp_type	= ICMPV6_DEST_UNREACH,
		.fl6_icmp_code	= ICMPV6_NOROUTE,
	};
	struct icmp6hdr *icmp6h;
	struct dst_entry *dst;
	struct ipv6hdr *ip6h;
	struct sk_buff *nskb;
	unsigned int len = sizeof(*icmp6h) + qlen;

	dst = ip6_dst_lookup_flow(net, NULL, &fl6, NULL);
	if (IS_ERR(dst))
		return;
	nskb = alloc_skb(LL_MAX_HEADER + sizeof(*ip6h) + len, GFP_ATOMIC);
	if (!nskb) {
		dst_release(dst);
		return;
	}
	skb_reserve(nskb, LL_MAX_HEADER);
	skb_reset_network_header(nskb);
	ip6h = skb_put(nskb, sizeof(*ip6h));
	ip6_flow_hdr(ip6h, 0, 0);
	ip6h->payload_len = htons(len);
	ip6h->nexthdr	= IPPROTO_ICMPV6;
	ip6h->hop_limit	= ip6_dst_hoplimit(dst);
	ip6h->saddr	= fl6.saddr;
	ip6h->daddr	= fl6.daddr;
	skb_set_transport_header(nskb, sizeof(*ip6h));
	icmp6h = skb_put_zero(nskb, sizeof(*icmp6h));
	icmp6h->icmp6_type = ICMPV6_DEST_UNREACH;
	icmp6h->icmp6_code = ICMPV6_NOROUTE;
	if (skb_copy_bits(oskb, skb_network_offset(oskb), skb_put(nskb, qlen), qlen)) {
		kfree_skb(nskb);
		dst_release(dst);
		return;
	}
	icmp6h->icmp6_cksum = csum_ipv6_magic(&ip6h->saddr, &ip6h->daddr, len,
					      IPPROTO_ICMPV6,
					      csum_partial(icmp6h, len, 0));
	nskb->protocol = htons(ETH_P_IPV6);
	skb_dst_set(nskb, dst);
	nf_ct_set(nskb, NULL, IP_CT_UNTRACKED);
	ip6_local_out(net, NULL, nskb);
}

/*
 * Where the TCP header of @skb starts, from its network header; 0 if it
 * has none we can use (not TCP, a fragment, truncated).
 */
static unsigned int vpnflow_hint_tcpoff(struct sk_buff *skb, u8 family)
{
	__be16 frag_off;
	u8 nexthdr;
	int off;

	if (family == NFPROTO_IPV4) {
		if (ip_hdr(skb)->protocol != IPPROTO_TCP || ip_is_fragment(ip_hdr(skb)))
			return 0;
		return ip_hdrlen(skb);
	}
	nexthdr = ipv6_hdr(skb)->nexthdr;
	off = ipv6_skip_exthdr(skb, skb_network_offset(skb) + sizeof(struct ipv6hdr),
			       &nexthdr, &frag_off);
	if (off < 0 || nexthdr != IPPROTO_TCP || frag_off)
		return 0;
	return off - skb_network_offset(skb);
}

/*
 * A hook is about to drop @skb, a packet of held flow @f that would
 * leave unprotected. In FORWARD or POST_ROUTING only: that is a packet
 * this gateway forwards or sends towards the tunnel, whose source is the
 * flow's inside endpoint (a packet dropped in LOCAL_IN came from outside
 * in cleartext: no answer goes back that way). Data or FIN segments only:
 * never SYN or RST, never another protocol, and not for a NATed flow
 * (its source here is not its sender's).
 */
void vpnflow_hint_dropped(struct vpnflow_net *vn, struct vpnflow_flow *f,
			  const struct nf_conn *ct, enum ip_conntrack_info ctinfo,
			  struct sk_buff *skb, const struct nf_hook_state *state)
{
	enum ip_conntrack_dir dir = CTINFO2DIR(ctinfo);
	unsigned int thoff, thlen, qlen, n;
	unsigned long now, last;
	struct tcphdr _th;
	const struct tcphdr *th;

	if (!READ_ONCE(vn->opts.fast_resume) ||
	    (state->hook != NF_INET_POST_ROUTING && state->hook != NF_INET_FORWARD) ||
	    nf_ct_protonum(ct) != IPPROTO_TCP || (ct->status & IPS_NAT_MASK))
		return;
	thoff = vpnflow_hint_tcpoff(skb, state->pf);
	if (!thoff)
		return;
	th = skb_header_pointer(skb, skb_network_offset(skb) + thoff, sizeof(_th), &_th);
	if (!th || th->syn || th->rst || th->doff < sizeof(_th) / 4)
		return;
	thlen = th->doff * 4;
	if (skb->len < skb_network_offset(skb) + thoff + thlen)
		return;
	if (skb->len == skb_network_offset(skb) + thoff + thlen && !th->fin)
		return;	/* a pure ACK */
	qlen = min_t(unsigned int, thoff + thlen, VPNFLOW_HINT_QUOTE_MAX);

	now = jiffies;
	if (!test_and_set_bit(dir, &f->hint_burst)) {
		WRITE_ONCE(f->hint_last[dir], now);
		n = VPNFLOW_HINT_BURST;
	} else {
		last = READ_ONCE(f->hint_last[dir]);
		if (time_before(now, last + VPNFLOW_HINT_GAP) ||
		    cmpxchg(&f->hint_last[dir], last, now) != last)
			return;
		n = VPNFLOW_HINT_EACH;
	}
	n = vpnflow_hint_take(vn, n);
	atomic64_add(n, &vn->cnt.icmp_hints);
	while (n--) {
		if (state->pf == NFPROTO_IPV4)
			vpnflow_hint_send4(state->net, skb, qlen);
		else
			vpnflow_hint_send6(state->net, skb, qlen);
	}
}
