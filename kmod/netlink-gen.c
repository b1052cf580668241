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
};

/* VPNFLOW_CMD_OPTIONS_SET - do */
static const struct nla_policy vpnflow_options_set_nl_policy[VPNFLOW_A_OPTIONS + 1] = {
	[VPNFLOW_A_OPTIONS] = NLA_POLICY_NESTED(vpnflow_options_nl_policy),
};

/* Ops table for vpnflow */
const struct genl_ops vpnflow_nl_ops[3] = {
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
};
