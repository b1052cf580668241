// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: generic netlink family "vpnflow".
 *
 * Requests act on the network namespace of the requesting socket. Changes
 * need CAP_NET_ADMIN in that namespace's user namespace
 * (GENL_UNS_ADMIN_PERM, from the spec); reads are open, as for most
 * networking state. Every rejected request carries an extack message.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/module.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include <uapi/linux/vpnflow.h>

#include "netlink.h"
#include "netlink-gen.h"
#include "vpnflow.h"

static int vpnflow_nl_put_options(struct sk_buff *skb,
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
	    nla_put_u32(skb, VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT, o->preserve_timeout)) {
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

	mutex_lock(&vn->lock);
	opts = vn->opts;
	mutex_unlock(&vn->lock);

	msg = vpnflow_nl_reply_new(info, &hdr);
	if (!msg)
		return -ENOMEM;
	if (vpnflow_nl_put_options(msg, &opts)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

int vpnflow_nl_options_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vpnflow_net *vn = vpnflow_pernet(genl_info_net(info));
	struct nlattr *tb[VPNFLOW_A_OPTIONS_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	struct vpnflow_options o;
	struct nlattr *a;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, VPNFLOW_A_OPTIONS))
		return -EINVAL;

	err = nla_parse_nested(tb, VPNFLOW_A_OPTIONS_MAX, info->attrs[VPNFLOW_A_OPTIONS],
			       vpnflow_options_nl_policy, extack);
	if (err)
		return err;

	/* Validate everything first: a rejected request changes nothing. */
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

	mutex_lock(&vn->lock);
	o = vn->opts;
	if (tb[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS])
		o.preserve_vpn_flows = nla_get_u8(tb[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS]);
	if (tb[VPNFLOW_A_OPTIONS_RECLASSIFY_VPN])
		o.reclassify_vpn = nla_get_u8(tb[VPNFLOW_A_OPTIONS_RECLASSIFY_VPN]);
	if (tb[VPNFLOW_A_OPTIONS_TCPMSS])
		o.tcpmss = nla_get_u32(tb[VPNFLOW_A_OPTIONS_TCPMSS]);
	if (tb[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM])
		o.tcpmss_minimum = nla_get_u32(tb[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM]);
	if (tb[VPNFLOW_A_OPTIONS_TCPMSS_AUTO])
		o.tcpmss_auto = nla_get_u8(tb[VPNFLOW_A_OPTIONS_TCPMSS_AUTO]);
	if (tb[VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT])
		o.preserve_timeout = nla_get_u32(tb[VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT]);

	if (o.tcpmss && o.tcpmss_minimum > o.tcpmss) {
		mutex_unlock(&vn->lock);
		NL_SET_ERR_MSG_MOD(extack, "tcpmss minimum cannot exceed tcpmss");
		NL_SET_BAD_ATTR(extack, tb[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM] ?:
					tb[VPNFLOW_A_OPTIONS_TCPMSS]);
		return -ERANGE;
	}

	WRITE_ONCE(vn->opts.preserve_vpn_flows, o.preserve_vpn_flows);
	WRITE_ONCE(vn->opts.reclassify_vpn, o.reclassify_vpn);
	WRITE_ONCE(vn->opts.tcpmss, o.tcpmss);
	WRITE_ONCE(vn->opts.tcpmss_minimum, o.tcpmss_minimum);
	WRITE_ONCE(vn->opts.tcpmss_auto, o.tcpmss_auto);
	WRITE_ONCE(vn->opts.preserve_timeout, o.preserve_timeout);
	mutex_unlock(&vn->lock);
	return 0;
}

int vpnflow_nl_counters_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vpnflow_net *vn = vpnflow_pernet(genl_info_net(info));
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	msg = vpnflow_nl_reply_new(info, &hdr);
	if (!msg)
		return -ENOMEM;
	nest = nla_nest_start(msg, VPNFLOW_A_COUNTERS);
	if (!nest ||
	    nla_put_u64_64bit(msg, VPNFLOW_A_COUNTERS_SA_EVENTS,
			      atomic64_read(&vn->cnt.sa_events),
			      VPNFLOW_A_COUNTERS_PAD) ||
	    nla_put_u64_64bit(msg, VPNFLOW_A_COUNTERS_POLICY_EVENTS,
			      atomic64_read(&vn->cnt.policy_events),
			      VPNFLOW_A_COUNTERS_PAD)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

struct genl_family vpnflow_nl_family __ro_after_init = {
	.name		= VPNFLOW_FAMILY_NAME,
	.version	= VPNFLOW_FAMILY_VERSION,
	.maxattr	= VPNFLOW_A_MAX,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.ops		= vpnflow_nl_ops,
	.n_ops		= ARRAY_SIZE(vpnflow_nl_ops),
};

int vpnflow_nl_init(void)
{
	return genl_register_family(&vpnflow_nl_family);
}

void vpnflow_nl_exit(void)
{
	genl_unregister_family(&vpnflow_nl_family);
}
