// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: the module parameters, the defaults of a new network
 * namespace's options and the flow limit.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/bits.h>
#include <linux/moduleparam.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include <uapi/linux/vpnflow.h>

#include "params.h"
#include "vpnflow.h"

/* Bounds the memory a namespace's flows (and a flood of new ones) can take. */
#define VPNFLOW_MAX_FLOWS_DEFAULT	BIT(20)

unsigned int vpnflow_max_flows __read_mostly = VPNFLOW_MAX_FLOWS_DEFAULT;
module_param_named(max_flows, vpnflow_max_flows, uint, 0644);
MODULE_PARM_DESC(max_flows, "Most tunneled flows tracked per network namespace (default 1048576)");

/*
 * Options of a new namespace: the ASA's defaults ("show run all sysopt" on
 * a fresh ASA) unless module parameters say otherwise. Changing a
 * parameter later affects namespaces created afterwards.
 */
static struct vpnflow_options vpnflow_defaults = {
	.preserve_vpn_flows	= 0,
	.reclassify_vpn		= 1,
	.tcpmss_auto		= 0,
	.tcpmss			= 1380,
	.tcpmss_minimum		= 0,
	.preserve_timeout	= 3600,
	.fast_resume		= 0,
	.df_bit			= VPNFLOW_DF_BIT_COPY_DF,
	.fragmentation		= VPNFLOW_FRAGMENTATION_AFTER_ENCRYPTION,
	.label_vpn_flows	= 0,
};

static int vpnflow_param_set_flag(const char *val, const struct kernel_param *kp)
{
	bool v;
	int err = kstrtobool(val, &v);

	if (err) {
		pr_err("%s: expected 0 or 1, got '%s'\n", kp->name, val);
		return err;
	}
	*(u8 *)kp->arg = v;
	return 0;
}

static int vpnflow_param_get_u8(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n", *(u8 *)kp->arg);
}

static const struct kernel_param_ops vpnflow_param_flag_ops = {
	.set = vpnflow_param_set_flag,
	.get = vpnflow_param_get_u8,
};

/* tcpmss, tcpmss_minimum: 0 (off) or VPNFLOW_TCPMSS_MIN..VPNFLOW_TCPMSS_MAX. */
static int vpnflow_param_set_mss(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int err = kstrtouint(val, 0, &v);

	if (err || (v && (v < VPNFLOW_TCPMSS_MIN || v > VPNFLOW_TCPMSS_MAX))) {
		pr_err("%s: must be 0 (off) or %u-%u, got '%s'\n",
		       kp->name, VPNFLOW_TCPMSS_MIN, VPNFLOW_TCPMSS_MAX, val);
		return -EINVAL;
	}
	*(u32 *)kp->arg = v;
	return 0;
}

static int vpnflow_param_set_timeout(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int err = kstrtouint(val, 0, &v);

	if (err || v < 1 || v > VPNFLOW_PRESERVE_TIMEOUT_MAX) {
		pr_err("%s: must be 1-%u seconds, got '%s'\n",
		       kp->name, VPNFLOW_PRESERVE_TIMEOUT_MAX, val);
		return -EINVAL;
	}
	*(u32 *)kp->arg = v;
	return 0;
}

/*
 * df_bit and fragmentation: the ASA's words, or their numbers in the
 * netlink enum.
 */
static const char * const vpnflow_df_bit_names[] = {
	[VPNFLOW_DF_BIT_COPY_DF]	= "copy-df",
	[VPNFLOW_DF_BIT_CLEAR_DF]	= "clear-df",
	[VPNFLOW_DF_BIT_SET_DF]		= "set-df",
};

static const char * const vpnflow_fragmentation_names[] = {
	[VPNFLOW_FRAGMENTATION_AFTER_ENCRYPTION]	= "after-encryption",
	[VPNFLOW_FRAGMENTATION_BEFORE_ENCRYPTION]	= "before-encryption",
};

static int vpnflow_param_set_word(const char *val, const struct kernel_param *kp,
				  const char * const *names, size_t n, const char *expected)
{
	int i = __sysfs_match_string(names, n, val);
	unsigned int v;

	if (i < 0 && !kstrtouint(val, 0, &v) && v < n)
		i = v;
	if (i < 0) {
		pr_err("%s: must be %s, got '%s'\n", kp->name, expected, val);
		return -EINVAL;
	}
	*(u8 *)kp->arg = i;
	return 0;
}

static int vpnflow_param_set_df_bit(const char *val, const struct kernel_param *kp)
{
	return vpnflow_param_set_word(val, kp, vpnflow_df_bit_names,
				      ARRAY_SIZE(vpnflow_df_bit_names),
				      "copy-df, clear-df or set-df");
}

static int vpnflow_param_get_df_bit(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", vpnflow_df_bit_names[*(u8 *)kp->arg]);
}

static const struct kernel_param_ops vpnflow_param_df_bit_ops = {
	.set = vpnflow_param_set_df_bit,
	.get = vpnflow_param_get_df_bit,
};

static int vpnflow_param_set_fragmentation(const char *val, const struct kernel_param *kp)
{
	return vpnflow_param_set_word(val, kp, vpnflow_fragmentation_names,
				      ARRAY_SIZE(vpnflow_fragmentation_names),
				      "after-encryption or before-encryption");
}

static int vpnflow_param_get_fragmentation(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", vpnflow_fragmentation_names[*(u8 *)kp->arg]);
}

static const struct kernel_param_ops vpnflow_param_fragmentation_ops = {
	.set = vpnflow_param_set_fragmentation,
	.get = vpnflow_param_get_fragmentation,
};

/*
 * tcp_state_bypass: "MARK/MASK", "MARK" (mask 0xffffffff) or "off", as
 * sysopt connection tcp-state-bypass mark takes them.
 */
static int vpnflow_param_set_bypass(const char *val, const struct kernel_param *kp)
{
	struct vpnflow_options *o = kp->arg;
	u32 mark, mask = U32_MAX;
	char buf[24], *slash;

	if (sysfs_streq(val, "off")) {
		o->tcp_state_bypass_mask = 0;
		o->tcp_state_bypass_mark = 0;
		return 0;
	}
	if (strscpy(buf, val, sizeof(buf)) < 0)
		goto bad;
	strim(buf);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (kstrtou32(buf, 0, &mark) || (slash && kstrtou32(slash, 0, &mask)) ||
	    !mark || (mark & ~mask))
		goto bad;
	o->tcp_state_bypass_mark = mark;
	o->tcp_state_bypass_mask = mask;
	return 0;
bad:
	pr_err("%s: expected MARK[/MASK] (MARK not 0, inside MASK) or off, got '%s'\n",
	       kp->name, val);
	return -EINVAL;
}

static int vpnflow_param_get_bypass(char *buf, const struct kernel_param *kp)
{
	const struct vpnflow_options *o = kp->arg;

	if (!o->tcp_state_bypass_mask)
		return sysfs_emit(buf, "off\n");
	return sysfs_emit(buf, "0x%x/0x%x\n", o->tcp_state_bypass_mark, o->tcp_state_bypass_mask);
}

static const struct kernel_param_ops vpnflow_param_bypass_ops = {
	.set = vpnflow_param_set_bypass,
	.get = vpnflow_param_get_bypass,
};

static const struct kernel_param_ops vpnflow_param_mss_ops = {
	.set = vpnflow_param_set_mss,
	.get = param_get_uint,
};

static const struct kernel_param_ops vpnflow_param_timeout_ops = {
	.set = vpnflow_param_set_timeout,
	.get = param_get_uint,
};

module_param_cb(preserve_vpn_flows, &vpnflow_param_flag_ops,
		&vpnflow_defaults.preserve_vpn_flows, 0644);
MODULE_PARM_DESC(preserve_vpn_flows, "Default of sysopt connection preserve-vpn-flows for new namespaces (0)");
module_param_cb(reclassify_vpn, &vpnflow_param_flag_ops, &vpnflow_defaults.reclassify_vpn, 0644);
MODULE_PARM_DESC(reclassify_vpn, "Default of sysopt connection reclassify-vpn (1)");
module_param_cb(tcpmss, &vpnflow_param_mss_ops, &vpnflow_defaults.tcpmss, 0644);
MODULE_PARM_DESC(tcpmss, "Default of sysopt connection tcpmss: 0 or 48-65535 (1380)");
module_param_cb(tcpmss_minimum, &vpnflow_param_mss_ops, &vpnflow_defaults.tcpmss_minimum, 0644);
MODULE_PARM_DESC(tcpmss_minimum, "Default of sysopt connection tcpmss minimum: 0 or 48-65535 (0)");
module_param_cb(tcpmss_auto, &vpnflow_param_flag_ops, &vpnflow_defaults.tcpmss_auto, 0644);
MODULE_PARM_DESC(tcpmss_auto, "Default of sysopt connection tcpmss auto (0)");
module_param_cb(preserve_timeout, &vpnflow_param_timeout_ops,
		&vpnflow_defaults.preserve_timeout, 0644);
MODULE_PARM_DESC(preserve_timeout, "Default preserve timeout in seconds: 1-2147483 (3600)");
module_param_cb(tcpmss_tunneled_only, &vpnflow_param_flag_ops,
		&vpnflow_defaults.tcpmss_tunneled_only, 0644);
MODULE_PARM_DESC(tcpmss_tunneled_only, "Default of sysopt connection tcpmss tunneled-only (0)");
module_param_cb(fast_resume, &vpnflow_param_flag_ops, &vpnflow_defaults.fast_resume, 0644);
MODULE_PARM_DESC(fast_resume, "Default of sysopt connection preserve-vpn-flows fast-resume (0)");
module_param_cb(label_vpn_flows, &vpnflow_param_flag_ops, &vpnflow_defaults.label_vpn_flows, 0644);
MODULE_PARM_DESC(label_vpn_flows,
		 "Default of sysopt connection label-vpn-flows: conntrack labels on tunneled flows (0)");
module_param_cb(df_bit, &vpnflow_param_df_bit_ops, &vpnflow_defaults.df_bit, 0644);
MODULE_PARM_DESC(df_bit, "Default of crypto ipsec df-bit: copy-df, clear-df or set-df (copy-df)");
module_param_cb(fragmentation, &vpnflow_param_fragmentation_ops,
		&vpnflow_defaults.fragmentation, 0644);
MODULE_PARM_DESC(fragmentation,
		 "Default of crypto ipsec fragmentation: after-encryption or before-encryption (after-encryption)");
module_param_cb(tcp_state_bypass, &vpnflow_param_bypass_ops, &vpnflow_defaults, 0644);
MODULE_PARM_DESC(tcp_state_bypass,
		 "Default of sysopt connection tcp-state-bypass mark: MARK[/MASK] or off (off)");

/*
 * The options a new namespace starts with. The parameter lock makes the
 * copy consistent against a concurrent write to /sys/module; a tcpmss
 * minimum above tcpmss is lowered to it, as options-set would refuse it.
 */
void vpnflow_params_defaults(struct vpnflow_options *o)
{
	kernel_param_lock(THIS_MODULE);
	*o = vpnflow_defaults;
	kernel_param_unlock(THIS_MODULE);
	if (o->tcpmss && o->tcpmss_minimum > o->tcpmss)
		o->tcpmss_minimum = o->tcpmss;
}
