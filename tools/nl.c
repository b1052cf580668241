// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: generic netlink over libmnl.
 *
 * One socket, one request at a time: nl_talk() sends a request with
 * NLM_F_ACK and runs callbacks until the kernel's ack, or a dump request
 * (NLM_F_DUMP, no ack: the kernel sends none for dumps) and runs them on
 * each part of the reply until NLMSG_DONE. Errors and extended acks are
 * recorded in nl->err rather than printed, so that the caller decides
 * about wording and exit codes; the parsing follows iproute2's
 * lib/mnl_utils.c and lib/libnetlink.c.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netlink.h>

#include "nl.h"

#define NL_TX_SIZE	8192
#define NL_RX_SIZE	32768	/* MNL_SOCKET_DUMP_SIZE of newer libmnl */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct nl_talk_ctx {
	struct nl *nl;
	mnl_cb_t cb;
	void *data;
};

static int nl_fail(struct nl *nl, int err, bool kernel)
{
	nl->err.err = err;
	nl->err.kernel = kernel;
	errno = err;
	return -err;
}

int nl_open(struct nl *nl)
{
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->tx = calloc(1, NL_TX_SIZE);
	nl->rx = calloc(1, NL_RX_SIZE);
	if (!nl->tx || !nl->rx)
		goto err;
	nl->sk = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sk)
		goto err;
	/* Best effort, as in iproute2: kernels before 4.12 lack them. */
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = time(NULL);
	return 0;
err:
	nl_fail(nl, errno ? errno : ENOMEM, false);
	nl_close(nl);
	return -nl->err.err;
}

void nl_close(struct nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	nl->sk = NULL;
	free(nl->tx);
	free(nl->rx);
	nl->tx = NULL;
	nl->rx = NULL;
}

/* Start a request with a genl header in nl->tx; dumps end with DONE. */
struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint8_t cmd,
			uint8_t version, uint16_t flags)
{
	struct genlmsghdr *genl;
	struct nlmsghdr *nlh;

	nlh = mnl_nlmsg_put_header(nl->tx);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	if ((flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;

	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

/* Start a request to the family resolved by nl_family_get(). */
struct nlmsghdr *nl_genl_msg(struct nl *nl, uint8_t cmd, uint8_t version,
			     uint16_t flags)
{
	return nl_msg(nl, nl->fam.id, cmd, version, flags);
}

/* Record the TLVs of an extended ack that start @hlen into @nlh's payload. */
static void nl_ext_ack(struct nl *nl, const struct nlmsghdr *nlh,
		       unsigned int hlen)
{
	const struct nlattr *attr;
	size_t len;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (hlen > mnl_nlmsg_get_payload_len(nlh))
		return;

	mnl_attr_for_each(attr, nlh, hlen) {
		switch (mnl_attr_get_type(attr)) {
		case NLMSGERR_ATTR_MSG:
			len = mnl_attr_get_payload_len(attr);
			if (len >= sizeof(nl->err.msg))
				len = sizeof(nl->err.msg) - 1;
			memcpy(nl->err.msg, mnl_attr_get_payload(attr), len);
			nl->err.msg[len] = '\0';
			len = strlen(nl->err.msg);
			while (len && nl->err.msg[len - 1] == '\n')
				nl->err.msg[--len] = '\0';
			break;
		case NLMSGERR_ATTR_OFFS:
			if (!mnl_attr_validate(attr, MNL_TYPE_U32))
				nl->err.offs = mnl_attr_get_u32(attr);
			break;
		}
	}
}

static int nl_cb_error(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct nl_talk_ctx *t = data;
	unsigned int hlen = sizeof(*e);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		nl_fail(t->nl, EBADMSG, false);
		return MNL_CB_ERROR;
	}
	/* Without NETLINK_CAP_ACK the request is echoed before the TLVs. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += mnl_nlmsg_get_payload_len(&e->msg);
	nl_ext_ack(t->nl, nlh, hlen);

	if (!e->error)
		return MNL_CB_STOP;
	/* Subsystems do not agree on the sign. */
	nl_fail(t->nl, e->error < 0 ? -e->error : e->error, true);
	return MNL_CB_ERROR;
}

static int nl_cb_done(const struct nlmsghdr *nlh, void *data)
{
	struct nl_talk_ctx *t = data;
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(err))
		return MNL_CB_STOP;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	nl_ext_ack(t->nl, nlh, sizeof(err));
	if (err >= 0)
		return MNL_CB_STOP;
	nl_fail(t->nl, -err, true);
	return MNL_CB_ERROR;
}

static int nl_cb_noop(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static mnl_cb_t nl_cb_ctl[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP]	= nl_cb_noop,
	[NLMSG_ERROR]	= nl_cb_error,
	[NLMSG_DONE]	= nl_cb_done,
	[NLMSG_OVERRUN]	= nl_cb_noop,
};

/* Data messages go to the caller's callback with the caller's data. */
static int nl_cb_data(const struct nlmsghdr *nlh, void *data)
{
	struct nl_talk_ctx *t = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		t->nl->err.intr = true;
	if (!t->cb)
		return MNL_CB_OK;
	return t->cb(nlh, t->data);
}

/*
 * Send @req and process replies until the ack (NLMSG_DONE for a dump,
 * however many datagrams its parts take). Returns 0 or a negative
 * errno; nl->err tells whether the kernel refused (with its extack) or a
 * syscall failed. On success nl->err.msg may hold a kernel warning.
 */
int nl_talk(struct nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	struct nl_talk_ctx t = { .nl = nl, .cb = cb, .data = data };
	int ret;

	memset(&nl->err, 0, sizeof(nl->err));
	if (mnl_socket_sendto(nl->sk, req, req->nlmsg_len) < 0)
		return nl_fail(nl, errno, false);

	do {
		ret = mnl_socket_recvfrom(nl->sk, nl->rx, NL_RX_SIZE);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return nl_fail(nl, errno, false);
		}
		errno = 0;
		ret = mnl_cb_run2(nl->rx, ret, req->nlmsg_seq, nl->portid,
				  nl_cb_data, &t, nl_cb_ctl,
				  ARRAY_SIZE(nl_cb_ctl));
	} while (ret > 0);

	if (ret < 0) {
		if (!nl->err.err)	/* libmnl or a data callback failed */
			nl_fail(nl, errno ? errno : EPROTO, false);
		return -nl->err.err;
	}
	return 0;
}

/* The attribute of @req that the kernel's extack points at, if any. */
const struct nlattr *nl_err_attr(const struct nl *nl,
				 const struct nlmsghdr *req)
{
	uint32_t offs = nl->err.offs;

	if (offs < NLMSG_HDRLEN + GENL_HDRLEN ||
	    offs > req->nlmsg_len - sizeof(struct nlattr))
		return NULL;
	return (const struct nlattr *)((const char *)req + offs);
}

/* CTRL_CMD_GETFAMILY reply parsing. */

static void nl_family_ops(struct nl_family *fam, const struct nlattr *nest)
{
	const struct nlattr *op, *a;
	uint32_t id;

	mnl_attr_for_each_nested(op, nest) {
		mnl_attr_for_each_nested(a, op) {
			if (mnl_attr_get_type(a) != CTRL_ATTR_OP_ID ||
			    mnl_attr_validate(a, MNL_TYPE_U32))
				continue;
			id = mnl_attr_get_u32(a);
			if (id < 256)
				fam->ops[id / 32] |= 1U << (id % 32);
			fam->n_ops++;
		}
	}
}

static void nl_family_mcgrps(struct nl_family *fam, const struct nlattr *nest)
{
	const struct nlattr *grp, *a;
	struct nl_mcgrp *g;

	mnl_attr_for_each_nested(grp, nest) {
		if (fam->n_mcgrps >= NL_MAX_MCGRPS)
			return;
		g = &fam->mcgrps[fam->n_mcgrps];
		memset(g, 0, sizeof(*g));
		mnl_attr_for_each_nested(a, grp) {
			switch (mnl_attr_get_type(a)) {
			case CTRL_ATTR_MCAST_GRP_NAME:
				if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
					strncpy(g->name, mnl_attr_get_str(a),
						sizeof(g->name) - 1);
				break;
			case CTRL_ATTR_MCAST_GRP_ID:
				if (!mnl_attr_validate(a, MNL_TYPE_U32))
					g->id = mnl_attr_get_u32(a);
				break;
			}
		}
		if (g->name[0] && g->id)
			fam->n_mcgrps++;
	}
}

static int nl_family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_family *fam = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, GENL_HDRLEN) {
		switch (mnl_attr_get_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (!mnl_attr_validate(a, MNL_TYPE_U16))
				fam->id = mnl_attr_get_u16(a);
			break;
		case CTRL_ATTR_VERSION:
			if (!mnl_attr_validate(a, MNL_TYPE_U32))
				fam->version = mnl_attr_get_u32(a);
			break;
		case CTRL_ATTR_MAXATTR:
			if (!mnl_attr_validate(a, MNL_TYPE_U32))
				fam->maxattr = mnl_attr_get_u32(a);
			break;
		case CTRL_ATTR_OPS:
			nl_family_ops(fam, a);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			nl_family_mcgrps(fam, a);
			break;
		}
	}
	return MNL_CB_OK;
}

/*
 * Resolve the generic netlink family @name into nl->fam. Returns 0 or a
 * negative errno; -ENOENT from the kernel means it is not registered.
 */
int nl_family_get(struct nl *nl, const char *name)
{
	struct nlmsghdr *nlh;
	int err;

	memset(&nl->fam, 0, sizeof(nl->fam));
	nlh = nl_msg(nl, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);

	err = nl_talk(nl, nlh, nl_family_cb, &nl->fam);
	if (err)
		return err;
	if (!nl->fam.id)
		return nl_fail(nl, EPROTO, false);
	return 0;
}

/* Whether the family has command @cmd (true if it did not say). */
bool nl_family_has_op(const struct nl *nl, uint8_t cmd)
{
	if (!nl->fam.n_ops)
		return true;
	return nl->fam.ops[cmd / 32] & (1U << (cmd % 32));
}

/* The id of the family's multicast group @name, or -ENOENT. */
int nl_family_mcgrp(const struct nl *nl, const char *name)
{
	unsigned int i;

	for (i = 0; i < nl->fam.n_mcgrps; i++)
		if (!strcmp(nl->fam.mcgrps[i].name, name))
			return nl->fam.mcgrps[i].id;
	return -ENOENT;
}
