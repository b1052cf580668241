// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	spec/vpnflow.yaml */
/* YNL-GEN by scripts/ynl-gen.py */

#include "netlink-gen.h"

static struct netlink_range_validation vpnflow_a_options_tcpmss_range = {
	.max = VPNFLOW_TCPMSS_MAX,
};

static struct netlink_range_validation vpnflow_a_options_tcpmss_minimum_range = {
	.max = VPNFLOW_TCPMSS_MAX,
};

static struct netlink_range_validation vpnflow_a_options_preserve_timeout_range = {
	.min = 1,
	.max = VPNFLOW_PRESERVE_TIMEOUT_MAX,
};

/* Common nested types */
const struct nla_policy vpnflow_if_option_nl_policy[VPNFLOW_A_IF_OPTION_MAX + 1] = {
	[VPNFLOW_A_IF_OPTION_NAME] = { .type = NLA_NUL_STRING, .len = 15, },
	[VPNFLOW_A_IF_OPTION_DF_BIT] = NLA_POLICY_MAX(NLA_U8, 2),
	[VPNFLOW_A_IF_OPTION_FRAGMENTATION] = NLA_POLICY_MAX(NLA_U8, 1),
};

const struct nla_policy vpnflow_if_options_nl_policy[VPNFLOW_A_IF_OPTIONS_MAX + 1] = {
	[VPNFLOW_A_IF_OPTIONS_ENTRY] = NLA_POLICY_NESTED(vpnflow_if_option_nl_policy),
};

const struct nla_policy vpnflow_options_nl_policy[VPNFLOW_A_OPTIONS_MAX + 1] = {
	[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS] = NLA_POLICY_MAX(NLA_U8, 1),
	[VPNFLOW_A_OPTIONS_RECLASSIFY_VPN] = NLA_POLICY_MAX(NLA_U8, 1),
	[VPNFLOW_A_OPTIONS_TCPMSS] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &vpnflow_a_options_tcpmss_range),
	[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &vpnflow_a_options_tcpmss_minimum_range),
	[VPNFLOW_A_OPTIONS_TCPMSS_AUTO] = NLA_POLICY_MAX(NLA_U8, 1),
	[VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &vpnflow_a_options_preserve_timeout_range),
	[VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY] = NLA_POLICY_MAX(NLA_U8, 1),
	[VPNFLOW_A_OPTIONS_FAST_RESUME] = NLA_POLICY_MAX(NLA_U8, 1),
	[VPNFLOW_A_OPTIONS_DF_BIT] = NLA_POLICY_MAX(NLA_U8, 2),
	[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK] = { .type = NLA_U32, },
	[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK] = { .type = NLA_U32, },
	[VPNFLOW_A_OPTIONS_FRAGMENTATION] = NLA_POLICY_MAX(NLA_U8, 1),
	[VPNFLOW_A_OPTIONS_IF_OPTIONS] = NLA_POLICY_NESTED(vpnflow_if_options_nl_policy),
	[VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS] = NLA_POLICY_MAX(NLA_U8, 1),
};

/* VPNFLOW_CMD_OPTIONS_SET - do */
static const struct nla_policy vpnflow_options_set_nl_policy[VPNFLOW_A_OPTIONS + 1] = {
	[VPNFLOW_A_OPTIONS] = NLA_POLICY_NESTED(vpnflow_options_nl_policy),
};

/* VPNFLOW_CMD_FLOW_GET - dump */
static const struct nla_policy vpnflow_flow_get_nl_policy[VPNFLOW_A_FILTER_FLOW_STATE + 1] = {
	[VPNFLOW_A_FILTER_TUNNEL_ID] = { .type = NLA_U32, },
	[VPNFLOW_A_FILTER_FLOW_STATE] = NLA_POLICY_MAX(NLA_U8, 1),
};

/* Ops table for vpnflow */
const struct genl_ops vpnflow_nl_ops[6] = {
	{
		.cmd		= VPNFLOW_CMD_OPTIONS_GET,
		.doit		= vpnflow_nl_options_get_doit,
		.flags		= 0,
	},
	{
		.cmd		= VPNFLOW_CMD_OPTIONS_SET,
		.doit		= vpnflow_nl_options_set_doit,
		.policy		= vpnflow_options_set_nl_policy,
		.maxattr	= VPNFLOW_A_OPTIONS,
		.flags		= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd		= VPNFLOW_CMD_COUNTERS_GET,
		.doit		= vpnflow_nl_counters_get_doit,
		.flags		= 0,
	},
	{
		.cmd		= VPNFLOW_CMD_TUNNEL_GET,
		.dumpit		= vpnflow_nl_tunnel_get_dumpit,
		.flags		= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd		= VPNFLOW_CMD_FLOW_GET,
		.start		= vpnflow_nl_flow_get_start,
		.dumpit		= vpnflow_nl_flow_get_dumpit,
		.done		= vpnflow_nl_flow_get_done,
		.policy		= vpnflow_flow_get_nl_policy,
		.maxattr	= VPNFLOW_A_FILTER_FLOW_STATE,
		.flags		= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd		= VPNFLOW_CMD_COUNTERS_CLEAR,
		.doit		= vpnflow_nl_counters_clear_doit,
		.flags		= GENL_UNS_ADMIN_PERM,
	},
};

const struct genl_multicast_group vpnflow_nl_mcgrps[] = {
	[VPNFLOW_NLGRP_EVENTS] = { .name = "events", .flags = GENL_MCAST_CAP_NET_ADMIN, },
};
