/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	spec/vpnflow.yaml */
/* YNL-GEN by scripts/ynl-gen.py */

#ifndef _LINUX_VPNFLOW_GEN_H
#define _LINUX_VPNFLOW_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/vpnflow.h>

extern const struct nla_policy vpnflow_if_option_nl_policy[VPNFLOW_A_IF_OPTION_MAX + 1];
extern const struct nla_policy vpnflow_if_options_nl_policy[VPNFLOW_A_IF_OPTIONS_MAX + 1];
extern const struct nla_policy vpnflow_options_nl_policy[VPNFLOW_A_OPTIONS_MAX + 1];

int vpnflow_nl_options_get_doit(struct sk_buff *skb, struct genl_info *info);
int vpnflow_nl_options_set_doit(struct sk_buff *skb, struct genl_info *info);
int vpnflow_nl_counters_get_doit(struct sk_buff *skb, struct genl_info *info);
int vpnflow_nl_tunnel_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int vpnflow_nl_flow_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int vpnflow_nl_flow_get_start(struct netlink_callback *cb);
int vpnflow_nl_flow_get_done(struct netlink_callback *cb);
int vpnflow_nl_counters_clear_doit(struct sk_buff *skb, struct genl_info *info);

extern const struct genl_ops vpnflow_nl_ops[6];

enum {
	VPNFLOW_NLGRP_EVENTS,
};

extern const struct genl_multicast_group vpnflow_nl_mcgrps[1];

#endif /* _LINUX_VPNFLOW_GEN_H */
