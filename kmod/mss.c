// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: tcpmss clamping of forwarded SYNs (sysopt connection
 * tcpmss, tcpmss minimum, tcpmss auto).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <net/tcp.h>
#include <net/xfrm.h>

#include "compat/unaligned.h"
#include "mss.h"
#include "nfhooks.h"
#include "route.h"
#include "vpnflow.h"

/*
 * Forwarded SYN and SYN-ACK packets, IPv4 and IPv6, in the FORWARD hook:
 *  - tcpmss N lowers an MSS option above N to N (0: off);
 *  - tcpmss minimum N raises an MSS option below N to N (0: off; the
 *    minimum wins where the two conflict, as a floor should);
 *  - tcpmss auto: for a SYN going into a tunnel-mode SA, or coming out of
 *    one, the limit is the largest MSS that fits that SA's path instead
 *    of N:
 *
 *      inner MTU = xfrm_state_mtu(SA, path MTU)
 *                = ((path MTU - header_len - ICV) & ~(block - 1)) - 2
 *      MSS       = inner MTU - inner IP header (20 / 40) - TCP header (20)
 *
 *    where header_len is the outer IP header (20 / 40), the UDP header
 *    with NAT-T (8), the ESP header (8) and the IV, ICV the SA's
 *    authentication tag and block the cipher's block size aligned to 4
 *    (the kernel's esp4/esp6_get_mtu). The path MTU is the bundle's (which
 *    includes the route towards the peer and learnt PMTU) for a SYN going
 *    into the tunnel, and the route MTU towards the peer for one coming
 *    out of it (the reply will go back through the sibling SA, which has
 *    the same algorithms).
 * Scope: every forwarded SYN of a namespace with IPsec tunnels (the ASA
 * clamps all TCP through it), or with tcpmss tunneled-only only those that
 * go into or come out of a tunnel (an SA, or an xfrm interface / VTI);
 * namespaces without tunnels are left alone.
 * A SYN without an MSS option is left as it is (as on the ASA); malformed
 * or truncated options leave the packet untouched. The checksum is
 * updated incrementally (works with GSO/GRO and CHECKSUM_PARTIAL).
 */

/* Route MTU from us towards the peer of inbound SA @x. */
static u32 vpnflow_peer_mtu(struct net *net, const struct xfrm_state *x)
{
	struct dst_entry *dst;
	u32 mtu = 0;

	if (x->props.family == AF_INET) {
		struct flowi4 fl4 = {
			.daddr = x->props.saddr.a4,
			.saddr = x->id.daddr.a4,
		};
		struct rtable *rt = ip_route_output_key(net, &fl4);

		if (IS_ERR(rt))
			return 0;
		mtu = dst_mtu(&rt->dst);
		ip_rt_put(rt);
	} else if (IS_ENABLED(CONFIG_IPV6)) {
		struct flowi6 fl6 = {
			.daddr = x->props.saddr.in6,
			.saddr = x->id.daddr.in6,
		};

		dst = ip6_route_output(net, NULL, &fl6);
		if (!dst->error)
			mtu = dst_mtu(dst);
		dst_release(dst);
	}
	return mtu;
}

/* The MSS that fits the tunnel this SYN goes into or comes out of; 0: unknown. */
static u32 vpnflow_mss_auto(struct net *net, const struct sk_buff *skb, bool inner6,
			    const struct xfrm_state *x_out, const struct xfrm_state *x_in)
{
	u32 hdrs = (inner6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) +
		   sizeof(struct tcphdr);
	u32 mtu;

	if (x_out) {
		mtu = dst_mtu(skb_dst(skb));	/* the bundle: already the inner MTU */
	} else {
		mtu = vpnflow_peer_mtu(net, x_in);
		if (!mtu)
			return 0;
		mtu = xfrm_state_mtu((struct xfrm_state *)x_in, mtu);
	}
	return mtu > hdrs ? mtu - hdrs : 0;
}

/*
 * Offset of a well-formed MSS option (kind 2, length 4) within @opt, or
 * -1: absent, or the options are malformed (then we do not touch them).
 */
static int vpnflow_find_mss(const u8 *opt, unsigned int len)
{
	unsigned int i = 0;

	while (i < len) {
		if (opt[i] == TCPOPT_EOL)
			return -1;
		if (opt[i] == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len)
			return -1;
		if (opt[i] == TCPOPT_MSS)
			return opt[i + 1] == TCPOLEN_MSS ? i : -1;
		i += opt[i + 1];
	}
	return -1;
}

/* An MSS option is kind, length, then the value: the value's offset in it. */
#define VPNFLOW_MSS_VALUE_OFF	2

/*
 * The offset of @skb's TCP header, for TCP that is not a fragment (IPv6:
 * not a later fragment) behind the IP header and any IPv6 extension
 * headers; -1 for anything else. *@inner6: IPv6.
 */
static int vpnflow_mss_thoff(struct sk_buff *skb, u8 pf, bool *inner6)
{
	const struct iphdr *iph;
	__be16 frag_off;
	u8 nexthdr;
	int o;

	*inner6 = pf != NFPROTO_IPV4;
	if (!*inner6) {
		iph = ip_hdr(skb);
		if (iph->protocol != IPPROTO_TCP || ip_is_fragment(iph))
			return -1;
		return ip_hdrlen(skb);
	}
	nexthdr = ipv6_hdr(skb)->nexthdr;
	o = ipv6_skip_exthdr(skb, sizeof(struct ipv6hdr), &nexthdr, &frag_off);
	if (o < 0 || nexthdr != IPPROTO_TCP || (frag_off & htons(IP6_OFFSET)))
		return -1;
	return o;
}

/*
 * The MSS option of a SYN (or SYN-ACK) whose TCP header is at @thoff: its
 * offset within the options, or -1 (not a SYN, no option, or malformed or
 * truncated headers). *@mss: its value; *@thlen: the TCP header's length.
 */
static int vpnflow_mss_option(const struct sk_buff *skb, unsigned int thoff,
			      unsigned int *thlen, u16 *mss)
{
	u8 optbuf[MAX_TCP_OPTION_SPACE];
	struct tcphdr _th, *th;
	unsigned int optlen;
	const u8 *opt;
	int off;

	th = skb_header_pointer(skb, thoff, sizeof(_th), &_th);
	if (!th || !th->syn || th->doff * 4 < sizeof(*th))
		return -1;
	optlen = th->doff * 4 - sizeof(*th);
	if (!optlen || skb->len < thoff + th->doff * 4)
		return -1;
	opt = skb_header_pointer(skb, thoff + sizeof(*th), optlen, optbuf);
	if (!opt)
		return -1;
	off = vpnflow_find_mss(opt, optlen);
	if (off < 0)
		return -1;
	*thlen = th->doff * 4;
	*mss = get_unaligned_be16(opt + off + VPNFLOW_MSS_VALUE_OFF);
	return off;
}

/*
 * Write @newmss over @mss in the option at @off of the TCP header at
 * @thoff (@thlen long), checksum updated; false if @skb cannot be written.
 */
static bool vpnflow_mss_rewrite(struct sk_buff *skb, unsigned int thoff, unsigned int thlen,
				int off, u16 mss, u16 newmss)
{
	struct tcphdr *th;
	__be16 old, new;

	if (skb_ensure_writable(skb, thoff + thlen))
		return false;
	th = (struct tcphdr *)(skb_network_header(skb) + thoff);
	put_unaligned_be16(newmss, (u8 *)(th + 1) + off + VPNFLOW_MSS_VALUE_OFF);
	old = htons(mss);
	new = htons(newmss);
	/*
	 * At an odd offset (e.g. after a single NOP) the value straddles two
	 * 16-bit checksum words: its bytes count swapped in the sum.
	 */
	if (off & 1) {
		old = (__force __be16)swab16((__force u16)old);
		new = (__force __be16)swab16((__force u16)new);
	}
	inet_proto_csum_replace2(&th->check, skb, old, new, false);
	return true;
}

/* A TCP packet, or one behind IPv6 extension headers: is it a SYN to clamp? */
static noinline unsigned int vpnflow_mss_clamp_tcp(struct vpnflow_net *vn, struct sk_buff *skb,
						   const struct nf_hook_state *state)
{
	const struct xfrm_state *x_out, *x_in;
	u32 max = READ_ONCE(vn->opts.tcpmss), min = READ_ONCE(vn->opts.tcpmss_minimum);
	bool automss = READ_ONCE(vn->opts.tcpmss_auto);
	unsigned int thoff, thlen;
	u16 mss, newmss;
	bool inner6;
	int off;

	if (!max && !min && !automss)
		return NF_ACCEPT;

	off = vpnflow_mss_thoff(skb, state->pf, &inner6);
	if (off < 0)
		return NF_ACCEPT;
	thoff = off;
	off = vpnflow_mss_option(skb, thoff, &thlen, &mss);
	if (off < 0)
		return NF_ACCEPT;

	/* The dst is already the xfrm bundle on the way into a tunnel. */
	x_out = vpnflow_skb_out_state(skb);
	x_in = vpnflow_skb_in_state(skb);
	if (READ_ONCE(vn->opts.tcpmss_tunneled_only) && !x_out && !x_in &&
	    !vpnflow_dev_is_tunnel(state->out) && !vpnflow_dev_is_tunnel(state->in))
		return NF_ACCEPT;

	/*
	 * A SYN routed into an xfrm interface meets its SA only inside the
	 * interface: it keeps tcpmss N (the SYN-ACK coming out is exact).
	 */
	if (automss && (x_out || x_in)) {
		u32 a = vpnflow_mss_auto(state->net, skb, inner6, x_out, x_in);

		if (a)
			max = a;
	}
	newmss = mss;
	if (max && newmss > max)
		newmss = max;
	if (min && newmss < min)
		newmss = min;
	if (newmss == mss || !vpnflow_mss_rewrite(skb, thoff, thlen, off, mss, newmss))
		return NF_ACCEPT;
	atomic64_inc(newmss < mss ? &vn->cnt.syns_lowered : &vn->cnt.syns_raised);
	return NF_ACCEPT;
}

/*
 * FORWARD: every forwarded packet comes here. It leaves at once while
 * tcpmss, tcpmss minimum and tcpmss auto are all off, and when it is not
 * TCP (IPv6: unless an extension header comes first, which
 * vpnflow_mss_clamp_tcp() skips). Of TCP, only a SYN (or SYN-ACK) with an
 * MSS option is looked at further: the tunnel it goes into or comes out
 * of, and the MSS it gets.
 */
unsigned int vpnflow_mss_clamp(struct vpnflow_net *vn, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	u8 proto;

	if (!READ_ONCE(vn->opts.tcpmss) && !READ_ONCE(vn->opts.tcpmss_minimum) &&
	    !READ_ONCE(vn->opts.tcpmss_auto))
		return NF_ACCEPT;
	proto = state->pf == NFPROTO_IPV4 ? ip_hdr(skb)->protocol : ipv6_hdr(skb)->nexthdr;
	if (proto != IPPROTO_TCP && (state->pf == NFPROTO_IPV4 || !ipv6_ext_hdr(proto)))
		return NF_ACCEPT;
	return vpnflow_mss_clamp_tcp(vn, skb, state);
}
