/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: generic netlink API differences (see compat.h), for
 * the files that include <net/genetlink.h>.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_COMPAT_GENETLINK_H
#define _VPNFLOW_COMPAT_GENETLINK_H

#include <net/genetlink.h>

/*
 * GENL_REQ_ATTR_CHECK() (6.1) also puts the missing attribute's type into
 * the extack; before it, the caller's message has to say which one.
 */
#ifndef VPNFLOW_HAVE_GENL_REQ_ATTR_CHECK
#define GENL_REQ_ATTR_CHECK(info, attr)	(!(info)->attrs[(attr)])
#endif

/*
 * A dump's parsed request attributes: struct genl_dumpit_info embeds a
 * struct genl_info since 6.6.
 */
#ifdef VPNFLOW_HAVE_GENL_DUMPIT_INFO_INFO
#define compat_genl_dumpit_attrs(cb)	(genl_dumpit_info(cb)->info.attrs)
#else
#define compat_genl_dumpit_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#endif

/*
 * An operation without a policy takes no attributes. Since 6.1
 * (genl_family.resv_start_op) the core rejects attributes sent to it;
 * before, the core ignores them, so the operation refuses them itself.
 */
static inline int compat_genl_no_attrs(const struct nlmsghdr *nlh,
				       struct netlink_ext_ack *extack)
{
#ifndef VPNFLOW_HAVE_GENL_RESV_START_OP
	if (nlmsg_attrlen(nlh, GENL_HDRLEN)) {
		NL_SET_ERR_MSG(extack, "vpnflow_preserve: this command takes no attributes");
		return -EINVAL;
	}
#endif
	return 0;
}

#endif /* _VPNFLOW_COMPAT_GENETLINK_H */
