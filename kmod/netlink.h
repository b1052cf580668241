/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: generic netlink family (handlers in netlink.c, policies
 * and op table generated into netlink-gen.c from spec/vpnflow.yaml).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_NETLINK_H
#define _VPNFLOW_NETLINK_H

#include <net/genetlink.h>

struct vpnflow_net;
struct vpnflow_flow;

extern struct genl_family vpnflow_nl_family;

struct vpnflow_tunnel;

bool vpnflow_nl_listening(struct vpnflow_net *vn);
void vpnflow_nl_flow_event(struct vpnflow_net *vn, const struct vpnflow_flow *f,
			   u8 event, gfp_t gfp);
void vpnflow_nl_tunnel_event(struct vpnflow_net *vn, struct vpnflow_tunnel *t,
			     u8 event, u32 count);

#endif /* _VPNFLOW_NETLINK_H */
