/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: conntrack API differences (see compat.h), for the files
 * that include <net/netfilter/nf_conntrack.h>.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_COMPAT_NF_CONNTRACK_H
#define _VPNFLOW_COMPAT_NF_CONNTRACK_H

#include <net/netfilter/nf_conntrack.h>

/*
 * Delete the entries of @net for which @iter returns non-zero. Process
 * context; conntrack reschedules between buckets.
 */
static inline void compat_nf_ct_iterate_net(struct net *net,
					    int (*iter)(struct nf_conn *ct, void *data),
					    void *data)
{
#ifdef VPNFLOW_HAVE_NF_CT_ITER_DATA
	struct nf_ct_iter_data d = {
		.net	= net,
		.data	= data,
	};

	nf_ct_iterate_cleanup_net(iter, &d);
#else
	nf_ct_iterate_cleanup_net(net, iter, data, 0, 0);
#endif
}

#endif /* _VPNFLOW_COMPAT_NF_CONNTRACK_H */
