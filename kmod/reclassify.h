/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: reclassify-vpn.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_RECLASSIFY_H
#define _VPNFLOW_RECLASSIFY_H

#include <linux/types.h>

struct nf_conn;
struct vpnflow_net;
struct vpnflow_tunnel;

/*
 * One reclassify-vpn pass for tunnel @t (process context, vn->work_lock):
 * remove the conntrack entries of traffic that should enter it but never
 * did. @why is what brought the pass: VPNFLOW_RECLASSIFY_UP (the tunnel
 * came up), _ROUTES (routes into a route-based tunnel changed) or
 * _POLICIES (outbound policies added to a tunnel that is up; policies
 * re-installed as they were, a rekey, cost no walk). A pass for UP is
 * always logged and announced, the others only when they cleared
 * something. Returns false when no outbound policy points at the tunnel
 * yet (try again on the next policy event), else true (done, or given up
 * for want of memory).
 */
bool vpnflow_reclassify(struct vpnflow_net *vn, struct vpnflow_tunnel *t, u8 why);

/* Track hook: a new entry outside any tunnel (under RCU, any context). */
void vpnflow_reclassify_note(struct vpnflow_net *vn, const struct nf_conn *ct);

/* Netns exit, once the hooks are gone: forget the armed tunnels. */
void vpnflow_reclassify_free(struct vpnflow_net *vn);

#endif /* _VPNFLOW_RECLASSIFY_H */
