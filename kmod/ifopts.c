// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: per-interface crypto ipsec df-bit and fragmentation.
 *
 * The ASA sets both per outside interface; here the namespace's setting
 * applies unless the interface the ESP packet leaves through has its own.
 * Interfaces are named, as nft's oifname names them: a setting survives
 * the interface being deleted and created again, and follows a rename of
 * the name, not of the device. The table is small (VPNFLOW_IF_OPTS_MAX)
 * and read on every ESP packet only while it is not empty.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/slab.h>
#include <linux/string.h>

#include <uapi/linux/vpnflow.h>

#include "ifopts.h"
#include "netlink-gen.h"

static const struct vpnflow_if_opt *vpnflow_if_opt(const struct vpnflow_net *vn,
						   const struct net_device *dev)
{
	const struct vpnflow_if_opts *t = rcu_dereference(vn->if_opts);
	unsigned int i;

	if (!t || !dev)
		return NULL;
	for (i = 0; i < t->n; i++)
		if (!strncmp(t->e[i].name, dev->name, IFNAMSIZ))
			return &t->e[i];
	return NULL;
}

u8 vpnflow_df_bit_for(const struct vpnflow_net *vn, const struct net_device *dev)
{
	const struct vpnflow_if_opt *e = vpnflow_if_opt(vn, dev);

	return e && e->df_bit >= 0 ? e->df_bit : READ_ONCE(vn->opts.df_bit);
}

u8 vpnflow_fragmentation_for(const struct vpnflow_net *vn, const struct net_device *dev)
{
	const struct vpnflow_if_opt *e = vpnflow_if_opt(vn, dev);

	return e && e->fragmentation >= 0 ? e->fragmentation :
					    READ_ONCE(vn->opts.fragmentation);
}

bool vpnflow_df_bit_any(const struct vpnflow_net *vn)
{
	return READ_ONCE(vn->opts.df_bit) != VPNFLOW_DF_BIT_COPY_DF ||
	       rcu_access_pointer(vn->if_opts);
}

bool vpnflow_fragmentation_any(const struct vpnflow_net *vn)
{
	return READ_ONCE(vn->opts.fragmentation) != VPNFLOW_FRAGMENTATION_AFTER_ENCRYPTION ||
	       rcu_access_pointer(vn->if_opts);
}

struct vpnflow_if_opts *vpnflow_if_opts_parse(const struct nlattr *nest,
					      struct netlink_ext_ack *extack)
{
	struct nlattr *tb[VPNFLOW_A_IF_OPTION_MAX + 1];
	struct vpnflow_if_opts *t;
	struct vpnflow_if_opt *e;
	const struct nlattr *a;
	unsigned int i;
	int rem, err;

	t = kzalloc(struct_size(t, e, VPNFLOW_IF_OPTS_MAX), GFP_KERNEL);
	if (!t)
		return ERR_PTR(-ENOMEM);
	/* The policy has checked each entry's attributes already. */
	nla_for_each_nested(a, nest, rem) {
		if (nla_type(a) != VPNFLOW_A_IF_OPTIONS_ENTRY)
			continue;
		if (t->n == VPNFLOW_IF_OPTS_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, a, "more than 32 interfaces");
			err = -E2BIG;
			goto err;
		}
		err = nla_parse_nested(tb, VPNFLOW_A_IF_OPTION_MAX, a,
				       vpnflow_if_option_nl_policy, extack);
		if (err)
			goto err;
		if (!tb[VPNFLOW_A_IF_OPTION_NAME] ||
		    !nla_len(tb[VPNFLOW_A_IF_OPTION_NAME]) ||
		    !*(char *)nla_data(tb[VPNFLOW_A_IF_OPTION_NAME])) {
			NL_SET_ERR_MSG_ATTR(extack, a, "an interface setting without a name");
			err = -EINVAL;
			goto err;
		}
		e = &t->e[t->n];
		/* NUL-terminated within 16 bytes: the policy's NLA_NUL_STRING. */
		strscpy(e->name, nla_data(tb[VPNFLOW_A_IF_OPTION_NAME]), IFNAMSIZ);
		for (i = 0; i < t->n; i++) {
			if (!strcmp(t->e[i].name, e->name)) {
				NL_SET_ERR_MSG_ATTR(extack, tb[VPNFLOW_A_IF_OPTION_NAME],
						    "an interface named twice");
				err = -EINVAL;
				goto err;
			}
		}
		e->df_bit = tb[VPNFLOW_A_IF_OPTION_DF_BIT] ?
			    nla_get_u8(tb[VPNFLOW_A_IF_OPTION_DF_BIT]) : -1;
		e->fragmentation = tb[VPNFLOW_A_IF_OPTION_FRAGMENTATION] ?
				   nla_get_u8(tb[VPNFLOW_A_IF_OPTION_FRAGMENTATION]) : -1;
		t->n++;
	}
	return t;
err:
	kfree(t);
	return ERR_PTR(err);
}

void vpnflow_if_opts_replace(struct vpnflow_net *vn, struct vpnflow_if_opts *t)
{
	struct vpnflow_if_opts *old;

	lockdep_assert_held(&vn->opts_lock);
	if (t && !t->n) {
		kfree(t);
		t = NULL;
	}
	old = rcu_replace_pointer(vn->if_opts, t, lockdep_is_held(&vn->opts_lock));
	if (old)
		kfree_rcu(old, rcu);
}

int vpnflow_if_opts_put(struct sk_buff *skb, const struct vpnflow_net *vn)
{
	const struct vpnflow_if_opts *t;
	struct nlattr *nest, *entry;
	unsigned int i;
	int err = -EMSGSIZE;

	nest = nla_nest_start(skb, VPNFLOW_A_OPTIONS_IF_OPTIONS);
	if (!nest)
		return -EMSGSIZE;
	rcu_read_lock();
	t = rcu_dereference(vn->if_opts);
	for (i = 0; t && i < t->n; i++) {
		const struct vpnflow_if_opt *e = &t->e[i];

		entry = nla_nest_start(skb, VPNFLOW_A_IF_OPTIONS_ENTRY);
		if (!entry ||
		    nla_put_string(skb, VPNFLOW_A_IF_OPTION_NAME, e->name) ||
		    (e->df_bit >= 0 &&
		     nla_put_u8(skb, VPNFLOW_A_IF_OPTION_DF_BIT, e->df_bit)) ||
		    (e->fragmentation >= 0 &&
		     nla_put_u8(skb, VPNFLOW_A_IF_OPTION_FRAGMENTATION, e->fragmentation)))
			goto out;
		nla_nest_end(skb, entry);
	}
	err = 0;
out:
	rcu_read_unlock();
	if (err)
		nla_nest_cancel(skb, nest);
	else
		nla_nest_end(skb, nest);
	return err;
}

void vpnflow_if_opts_free(struct vpnflow_net *vn)
{
	struct vpnflow_if_opts *t = rcu_replace_pointer(vn->if_opts, NULL, true);

	/* An options-get may still hold it under RCU. */
	if (t)
		kfree_rcu(t, rcu);
}
