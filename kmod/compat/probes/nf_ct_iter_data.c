// SPDX-License-Identifier: GPL-2.0
/* Probe: conntrack iteration takes a struct nf_ct_iter_data (5.19). */
#include <net/netfilter/nf_conntrack.h>

#ifndef VPNFLOW_PROBE_WITHOUT
void vpnflow_probe(struct nf_ct_iter_data *d);
void vpnflow_probe(struct nf_ct_iter_data *d)
{
	nf_ct_iterate_cleanup_net(NULL, d);
}
#else
void vpnflow_probe(struct net *net, int (*iter)(struct nf_conn *ct, void *data));
void vpnflow_probe(struct net *net, int (*iter)(struct nf_conn *ct, void *data))
{
	nf_ct_iterate_cleanup_net(net, iter, NULL, 0, 0);
}
#endif
