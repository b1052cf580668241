// SPDX-License-Identifier: GPL-2.0
/*
 * A fake vpnflow generic netlink family, for testing vpnsysopt without the
 * kernel module: an LD_PRELOAD library that replaces libmnl's socket calls
 * (mnl_socket_open, _bind, _sendto, _recvfrom, _setsockopt, ...) and
 * answers requests the way the module does, from canned state:
 *
 *   LD_PRELOAD=tests/fake-vpnflow.so VPNFLOW_FAKE=SCENARIO ./vpnsysopt ...
 *
 * Replies travel through a SOCK_SEQPACKET socketpair, one datagram per
 * message for dumps (multi-part replies), so that poll() and message
 * boundaries work as on a netlink socket. Every nest and message carries
 * an attribute from a "newer module" that vpnsysopt must skip.
 *
 * SCENARIO (default "default"):
 *   default  preserve-vpn-flows on, two tunnels, three flows, events
 *   empty    no tunnels, no flows, preserve-vpn-flows off
 *   old      a module with only options-get/set and counters-get
 *   eperm    counters-clear and options-set fail with EPERM (no
 *            CAP_NET_ADMIN)
 *   unload   after the events, the family is unregistered
 *
 * VPNFLOW_FAKE_PRESERVE=0|1 overrides preserve-vpn-flows.
 *
 * VPNFLOW_FAKE_STATE=FILE keeps the options in FILE from one run to the
 * next: options-set checks them as the module does (all or nothing, with
 * an extack message and offset on error) and writes them there, and
 * options-get reads them. Without it options-set only acks.
 *
 * VPNFLOW_FAKE_LOG=FILE appends one line per request to FILE:
 *   cmd=N flags=0xF [tunnel=ID] [state=S] [OPTION=VALUE...]
 * with the options of an options-set in the order of the request.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <uapi/linux/vpnflow.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define FAKE_FAMILY_ID	0x20
#define FAKE_EVENTS_GRP	9
#define FAKE_PORTID	4242

struct mnl_socket {
	int fd[2];		/* [0]: the program's end, [1]: ours */
	unsigned int portid;
};

static const char *scenario(void)
{
	const char *s = getenv("VPNFLOW_FAKE");

	return s && *s ? s : "default";
}

static int is(const char *name)
{
	return !strcmp(scenario(), name);
}

struct mnl_socket *mnl_socket_open(int bus)
{
	struct mnl_socket *sk;

	if (bus != NETLINK_GENERIC) {
		errno = EPROTONOSUPPORT;
		return NULL;
	}
	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk->fd) < 0) {
		free(sk);
		return NULL;
	}
	return sk;
}

int mnl_socket_bind(struct mnl_socket *sk, unsigned int groups, pid_t pid)
{
	(void)groups;
	sk->portid = pid ? (unsigned int)pid : FAKE_PORTID;
	return 0;
}

unsigned int mnl_socket_get_portid(const struct mnl_socket *sk)
{
	return sk->portid;
}

int mnl_socket_get_fd(const struct mnl_socket *sk)
{
	return sk->fd[0];
}

int mnl_socket_close(struct mnl_socket *sk)
{
	close(sk->fd[0]);
	close(sk->fd[1]);
	free(sk);
	return 0;
}

ssize_t mnl_socket_recvfrom(const struct mnl_socket *sk, void *buf,
			    size_t siz)
{
	return recv(sk->fd[0], buf, siz, 0);
}

/* Replies */

static char msgbuf[32768];

static void push(const struct mnl_socket *sk, const struct nlmsghdr *nlh)
{
	if (send(sk->fd[1], nlh, nlh->nlmsg_len, 0) < 0)
		perror("fake-vpnflow: send");
}

static struct nlmsghdr *reply(const struct nlmsghdr *req, uint16_t type,
			      uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(msgbuf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = req ? req->nlmsg_seq : 0;
	nlh->nlmsg_pid = req ? FAKE_PORTID : 0;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = 1;
	return nlh;
}

/*
 * An ack (@err 0) or error, capped, with an extack message if @msg and the
 * offset of the bad attribute if @offs.
 */
static void ack_ext(const struct mnl_socket *sk, const struct nlmsghdr *req,
		    int err, const char *msg, uint32_t offs)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(msgbuf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	nlh->nlmsg_seq = req->nlmsg_seq;
	nlh->nlmsg_pid = FAKE_PORTID;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -err;
	e->msg = *req;
	if (msg) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, msg);
	}
	if (offs) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, offs);
	}
	if (err || (req->nlmsg_flags & NLM_F_ACK))
		push(sk, nlh);
}

static void ack(const struct mnl_socket *sk, const struct nlmsghdr *req,
		int err, const char *msg)
{
	ack_ext(sk, req, err, msg, 0);
}

static void done(const struct mnl_socket *sk, const struct nlmsghdr *req)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(msgbuf);
	int zero = 0;

	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = req->nlmsg_seq;
	nlh->nlmsg_pid = FAKE_PORTID;
	memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(zero)), &zero,
	       sizeof(zero));
	push(sk, nlh);
}

/* An attribute a newer module might add at the end of a nest. */
static void future(struct nlmsghdr *nlh, uint16_t max)
{
	mnl_attr_put_u32(nlh, max + 1, 0xdeadbeef);
}

static void getfamily(const struct mnl_socket *sk, const struct nlmsghdr *req)
{
	const struct nlattr *a;
	const char *name = NULL;
	struct nlattr *ops, *op, *grps, *grp;
	struct nlmsghdr *nlh;
	int cmd, ncmd;

	mnl_attr_for_each(a, req, GENL_HDRLEN)
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_NAME)
			name = mnl_attr_get_str(a);
	if (!name || strcmp(name, VPNFLOW_FAMILY_NAME)) {
		ack(sk, req, ENOENT, NULL);
		return;
	}

	nlh = reply(req, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VPNFLOW_FAMILY_NAME);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAKE_FAMILY_ID);
	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, VPNFLOW_FAMILY_VERSION);
	mnl_attr_put_u32(nlh, CTRL_ATTR_MAXATTR, VPNFLOW_A_MAX);
	ncmd = is("old") ? VPNFLOW_CMD_COUNTERS_GET : VPNFLOW_CMD_COUNTERS_CLEAR;
	ops = mnl_attr_nest_start(nlh, CTRL_ATTR_OPS);
	for (cmd = 1; cmd <= ncmd; cmd++) {
		op = mnl_attr_nest_start(nlh, cmd);
		mnl_attr_put_u32(nlh, CTRL_ATTR_OP_ID, cmd);
		mnl_attr_put_u32(nlh, CTRL_ATTR_OP_FLAGS, 0);
		mnl_attr_nest_end(nlh, op);
	}
	mnl_attr_nest_end(nlh, ops);
	if (!is("old")) {
		grps = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
		grp = mnl_attr_nest_start(nlh, 1);
		mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, VPNFLOW_MCGRP_EVENTS);
		mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, FAKE_EVENTS_GRP);
		mnl_attr_nest_end(nlh, grp);
		mnl_attr_nest_end(nlh, grps);
	}
	push(sk, nlh);
	ack(sk, req, 0, NULL);
}

/* Options: the twelve this fake module has (a real one may have more). */

#define FAKE_OPTS_MAX	VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS

static const char *const opt_names[FAKE_OPTS_MAX + 1] = {
	[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS]	= "preserve-vpn-flows",
	[VPNFLOW_A_OPTIONS_RECLASSIFY_VPN]	= "reclassify-vpn",
	[VPNFLOW_A_OPTIONS_TCPMSS]		= "tcpmss",
	[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM]	= "tcpmss-minimum",
	[VPNFLOW_A_OPTIONS_TCPMSS_AUTO]		= "tcpmss-auto",
	[VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT]	= "preserve-timeout",
	[VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY] = "tcpmss-tunneled-only",
	[VPNFLOW_A_OPTIONS_FAST_RESUME]		= "fast-resume",
	[VPNFLOW_A_OPTIONS_DF_BIT]		= "df-bit",
	[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK] = "tcp-state-bypass-mark",
	[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK] = "tcp-state-bypass-mask",
	[VPNFLOW_A_OPTIONS_FRAGMENTATION]	= "fragmentation",
	[VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS]	= "label-vpn-flows",
};

static int opt_is_u8(int attr)
{
	return attr == VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS ||
	       attr == VPNFLOW_A_OPTIONS_RECLASSIFY_VPN ||
	       attr == VPNFLOW_A_OPTIONS_TCPMSS_AUTO ||
	       attr == VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY ||
	       attr == VPNFLOW_A_OPTIONS_FAST_RESUME ||
	       attr == VPNFLOW_A_OPTIONS_DF_BIT ||
	       attr == VPNFLOW_A_OPTIONS_FRAGMENTATION ||
	       attr == VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS;
}

/* VPNFLOW_FAKE_STATE, or NULL if unset or empty. */
static const char *state_path(void)
{
	const char *s = getenv("VPNFLOW_FAKE_STATE");

	return s && *s ? s : NULL;
}

/* The options: the module's defaults, or VPNFLOW_FAKE_STATE's. */
static void opts_load(uint32_t *o)
{
	const char *preserve = getenv("VPNFLOW_FAKE_PRESERVE");
	const char *path = state_path();
	unsigned int attr, val;
	FILE *f;

	memset(o, 0, (FAKE_OPTS_MAX + 1) * sizeof(*o));
	o[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS] =
		preserve ? (uint32_t)atoi(preserve) : (uint32_t)is("default");
	o[VPNFLOW_A_OPTIONS_RECLASSIFY_VPN] = 1;
	o[VPNFLOW_A_OPTIONS_TCPMSS] = 1380;
	o[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM] = 0;
	o[VPNFLOW_A_OPTIONS_TCPMSS_AUTO] = 0;
	o[VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT] = 3600;
	f = path ? fopen(path, "r") : NULL;
	if (!f)
		return;
	while (fscanf(f, "%u %u", &attr, &val) == 2)
		if (attr >= 1 && attr <= FAKE_OPTS_MAX)
			o[attr] = val;
	fclose(f);
}

static void opts_save(const uint32_t *o)
{
	const char *path = state_path();
	FILE *f = path ? fopen(path, "w") : NULL;
	int attr;

	if (!f)
		return;
	for (attr = 1; attr <= FAKE_OPTS_MAX; attr++)
		if (opt_names[attr])
			fprintf(f, "%d %u\n", attr, o[attr]);
	fclose(f);
}

static void options_get(const struct mnl_socket *sk, const struct nlmsghdr *req)
{
	struct nlmsghdr *nlh = reply(req, FAKE_FAMILY_ID, VPNFLOW_CMD_OPTIONS_GET, 0);
	struct nlattr *nest = mnl_attr_nest_start(nlh, VPNFLOW_A_OPTIONS);
	uint32_t o[FAKE_OPTS_MAX + 1];
	int attr;

	opts_load(o);
	for (attr = 1; attr <= FAKE_OPTS_MAX; attr++) {
		if (!opt_names[attr])	/* if-options: not faked */
			continue;
		if (opt_is_u8(attr))
			mnl_attr_put_u8(nlh, attr, o[attr]);
		else
			mnl_attr_put_u32(nlh, attr, o[attr]);
	}
	future(nlh, VPNFLOW_A_OPTIONS_MAX);
	mnl_attr_nest_end(nlh, nest);
	push(sk, nlh);
	ack(sk, req, 0, NULL);
}

static uint32_t offset_of(const struct nlmsghdr *req, const struct nlattr *a)
{
	return (const char *)a - (const char *)req;
}

/* As the module: check everything, then apply all or nothing. */
static void options_set(const struct mnl_socket *sk, const struct nlmsghdr *req)
{
	const struct nlattr *tb[FAKE_OPTS_MAX + 1] = { NULL };
	const struct nlattr *a, *nest = NULL, *bad;
	uint32_t o[FAKE_OPTS_MAX + 1];
	int attr;

	if (is("eperm")) {
		ack(sk, req, EPERM, NULL);
		return;
	}
	mnl_attr_for_each(a, req, GENL_HDRLEN)
		if (mnl_attr_get_type(a) == VPNFLOW_A_OPTIONS)
			nest = a;
	if (!nest) {
		ack(sk, req, EINVAL, "Missing attribute: options");
		return;
	}
	mnl_attr_for_each_nested(a, nest) {
		attr = mnl_attr_get_type(a);
		if (attr < 1 || attr > FAKE_OPTS_MAX || !opt_names[attr]) {	/* as the policy */
			ack_ext(sk, req, EINVAL, "Unknown attribute type",
				offset_of(req, a));
			return;
		}
		if (mnl_attr_validate(a, opt_is_u8(attr) ? MNL_TYPE_U8 :
							   MNL_TYPE_U32) < 0) {
			ack_ext(sk, req, EINVAL, "invalid attribute type",
				offset_of(req, a));
			return;
		}
		if ((attr == VPNFLOW_A_OPTIONS_DF_BIT &&
		     mnl_attr_get_u8(a) > VPNFLOW_DF_BIT_SET_DF) ||
		    (attr == VPNFLOW_A_OPTIONS_FRAGMENTATION &&
		     mnl_attr_get_u8(a) > VPNFLOW_FRAGMENTATION_BEFORE_ENCRYPTION)) {	/* as the policy */
			ack_ext(sk, req, ERANGE, "integer out of range",
				offset_of(req, a));
			return;
		}
		tb[attr] = a;
	}
	if (!state_path()) {
		ack(sk, req, 0, NULL);
		return;
	}

	opts_load(o);
	for (attr = 1; attr <= FAKE_OPTS_MAX; attr++)
		if (tb[attr])
			o[attr] = opt_is_u8(attr) ? mnl_attr_get_u8(tb[attr]) :
						    mnl_attr_get_u32(tb[attr]);
	if (o[VPNFLOW_A_OPTIONS_TCPMSS] &&
	    o[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM] > o[VPNFLOW_A_OPTIONS_TCPMSS]) {
		bad = tb[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM] ?:
		      tb[VPNFLOW_A_OPTIONS_TCPMSS];
		ack_ext(sk, req, ERANGE,
			"vpnflow_preserve: tcpmss minimum cannot exceed tcpmss",
			bad ? offset_of(req, bad) : 0);
		return;
	}
	if ((o[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK] & ~o[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK]) ||
	    (o[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK] && !o[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK])) {
		bad = tb[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK] ?:
		      tb[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK];
		ack_ext(sk, req, EINVAL,
			"vpnflow_preserve: tcp-state-bypass mark must be non-zero and inside its mask",
			bad ? offset_of(req, bad) : 0);
		return;
	}
	opts_save(o);
	ack(sk, req, 0, NULL);
}

static void log_options(FILE *log, const struct nlmsghdr *req)
{
	const struct nlattr *a, *o;
	int attr;

	mnl_attr_for_each(a, req, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) != VPNFLOW_A_OPTIONS)
			continue;
		mnl_attr_for_each_nested(o, a) {
			attr = mnl_attr_get_type(o);
			if (attr < 1 || attr > FAKE_OPTS_MAX)
				fprintf(log, " %d=?", attr);
			else if (opt_is_u8(attr))
				fprintf(log, " %s=%u", opt_names[attr],
					mnl_attr_get_u8(o));
			else
				fprintf(log, " %s=%u", opt_names[attr],
					mnl_attr_get_u32(o));
		}
	}
}

static void counters_get(const struct mnl_socket *sk, const struct nlmsghdr *req)
{
	struct nlmsghdr *nlh = reply(req, FAKE_FAMILY_ID, VPNFLOW_CMD_COUNTERS_GET, 0);
	struct nlattr *nest = mnl_attr_nest_start(nlh, VPNFLOW_A_COUNTERS);
	int attr;

	for (attr = 1; attr <= VPNFLOW_A_COUNTERS_FLOWS_UNTRACKED; attr++) {
		if (attr == VPNFLOW_A_COUNTERS_PAD) {
			mnl_attr_put(nlh, attr, 0, NULL);
			continue;
		}
		if (is("old") && attr > VPNFLOW_A_COUNTERS_POLICY_EVENTS)
			break;
		/* 10, 20, ...; sa-events above 2^32 */
		mnl_attr_put_u64(nlh, attr, attr == 1 ? 5000000000ULL : attr * 10ULL);
	}
	if (!is("old")) {
		mnl_attr_put_u32(nlh, VPNFLOW_A_COUNTERS_FLOWS, 3);
		mnl_attr_put_u32(nlh, VPNFLOW_A_COUNTERS_FLOWS_HELD, 1);
		future(nlh, VPNFLOW_A_COUNTERS_MAX);
	}
	mnl_attr_nest_end(nlh, nest);
	push(sk, nlh);
	ack(sk, req, 0, NULL);
}

struct fake_tunnel {
	uint32_t id;
	uint16_t family;
	const char *lo, *hi;
	uint32_t if_id, mark;
	uint8_t state;
	uint32_t sa_count, reqid, flows, flows_held, since;
};

/* Not in id order: vpnsysopt sorts. */
static const struct fake_tunnel tunnels[] = {
	{ 7, AF_INET6, "2001:db8::1", "2001:db8:ffff::2", 9, 0x2a,
	  VPNFLOW_TUNNEL_STATE_DOWN, 0, 0, 1, 1, 3725 },
	{ 3, AF_INET, "192.0.2.1", "203.0.113.2", 0, 0,
	  VPNFLOW_TUNNEL_STATE_UP, 2, 1, 2, 0, 130 },
};

struct fake_flow {
	uint32_t id, tunnel_id;
	uint8_t state;
	uint16_t family;
	uint8_t proto;
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t ifsrc, ifdst, duration;
	uint64_t bytes;
	uint32_t held_for, expires;
	uint32_t resumes, resume_delay;	/* resume_delay ~0U: none */
};

/* Tunnel 7's first: the kernel dumps tunnel by tunnel in hash order. */
static const struct fake_flow flows[] = {
	{ 3000000001U, 7, VPNFLOW_FLOW_STATE_PRESERVED, AF_INET6, IPPROTO_TCP,
	  "2001:db8:1::10", "2001:db8:2::20", 443, 50000, 1, 999999, 4000,
	  5000000000ULL, 65, 3535, 0, ~0U },
	{ 11, 3, VPNFLOW_FLOW_STATE_ACTIVE, AF_INET, IPPROTO_TCP,
	  "198.51.100.2", "198.51.100.66", 40000, 5001, 1, 1, 12,
	  123456, 0, 431988, 2, 68 },
	{ 12, 3, VPNFLOW_FLOW_STATE_ACTIVE, AF_INET, IPPROTO_ICMP,
	  "198.51.100.2", "198.51.100.66", 77, 2048, 0, 1, 3,
	  168, 0, 27, 1, ~0U },
};

static void put_addr(struct nlmsghdr *nlh, uint16_t attr, uint16_t family,
		     const char *s)
{
	unsigned char a[16];

	inet_pton(family, s, a);
	mnl_attr_put(nlh, attr, family == AF_INET6 ? 16 : 4, a);
}

static void put_tunnel(struct nlmsghdr *nlh, const struct fake_tunnel *t)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, VPNFLOW_A_TUNNEL);

	mnl_attr_put_u32(nlh, VPNFLOW_A_TUNNEL_ID, t->id);
	mnl_attr_put_u16(nlh, VPNFLOW_A_TUNNEL_FAMILY, t->family);
	put_addr(nlh, VPNFLOW_A_TUNNEL_ADDR_LO, t->family, t->lo);
	put_addr(nlh, VPNFLOW_A_TUNNEL_ADDR_HI, t->family, t->hi);
	mnl_attr_put_u32(nlh, VPNFLOW_A_TUNNEL_IF_ID, t->if_id);
	mnl_attr_put_u32(nlh, VPNFLOW_A_TUNNEL_MARK, t->mark);
	mnl_attr_put_u8(nlh, VPNFLOW_A_TUNNEL_STATE, t->state);
	mnl_attr_put_u32(nlh, VPNFLOW_A_TUNNEL_SA_COUNT, t->sa_count);
	mnl_attr_put_u32(nlh, VPNFLOW_A_TUNNEL_REQID, t->reqid);
	mnl_attr_put_u32(nlh, VPNFLOW_A_TUNNEL_FLOWS, t->flows);
	mnl_attr_put_u32(nlh, VPNFLOW_A_TUNNEL_FLOWS_HELD, t->flows_held);
	mnl_attr_put_u32(nlh, VPNFLOW_A_TUNNEL_SINCE, t->since);
	future(nlh, VPNFLOW_A_TUNNEL_MAX);
	mnl_attr_nest_end(nlh, nest);
}

static void put_flow(struct nlmsghdr *nlh, const struct fake_flow *f)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, VPNFLOW_A_FLOW);

	mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_ID, f->id);
	mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_TUNNEL_ID, f->tunnel_id);
	mnl_attr_put_u8(nlh, VPNFLOW_A_FLOW_STATE, f->state);
	mnl_attr_put_u16(nlh, VPNFLOW_A_FLOW_FAMILY, f->family);
	mnl_attr_put_u8(nlh, VPNFLOW_A_FLOW_PROTO, f->proto);
	put_addr(nlh, VPNFLOW_A_FLOW_SRC, f->family, f->src);
	put_addr(nlh, VPNFLOW_A_FLOW_DST, f->family, f->dst);
	mnl_attr_put_u16(nlh, VPNFLOW_A_FLOW_SPORT, f->sport);
	mnl_attr_put_u16(nlh, VPNFLOW_A_FLOW_DPORT, f->dport);
	mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_IFINDEX_SRC, f->ifsrc);
	mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_IFINDEX_DST, f->ifdst);
	mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_DURATION, f->duration);
	mnl_attr_put(nlh, VPNFLOW_A_FLOW_PAD, 0, NULL);
	mnl_attr_put_u64(nlh, VPNFLOW_A_FLOW_BYTES, f->bytes);
	mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_EXPIRES, f->expires);
	if (f->state == VPNFLOW_FLOW_STATE_PRESERVED)
		mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_HELD_FOR, f->held_for);
	if (f->resumes)
		mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_RESUMES, f->resumes);
	if (f->resumes && f->resume_delay != ~0U)
		mnl_attr_put_u32(nlh, VPNFLOW_A_FLOW_RESUME_DELAY, f->resume_delay);
	future(nlh, VPNFLOW_A_FLOW_MAX);
	mnl_attr_nest_end(nlh, nest);
}

static int need_dump(const struct mnl_socket *sk, const struct nlmsghdr *req)
{
	if ((req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP)
		return 1;
	ack(sk, req, EOPNOTSUPP, NULL);	/* as genl for a dump-only op */
	return 0;
}

static void tunnel_get(const struct mnl_socket *sk, const struct nlmsghdr *req)
{
	struct nlmsghdr *nlh;
	size_t i;

	if (!need_dump(sk, req))
		return;
	for (i = 0; is("default") && i < ARRAY_SIZE(tunnels); i++) {
		nlh = reply(req, FAKE_FAMILY_ID, VPNFLOW_CMD_TUNNEL_GET, NLM_F_MULTI);
		put_tunnel(nlh, &tunnels[i]);
		future(nlh, VPNFLOW_A_MAX);
		push(sk, nlh);
	}
	done(sk, req);
}

static void flow_get(const struct mnl_socket *sk, const struct nlmsghdr *req,
		     const struct nlattr *ftun, const struct nlattr *fstate)
{
	struct nlmsghdr *nlh;
	size_t i;

	if (!need_dump(sk, req))
		return;
	for (i = 0; is("default") && i < ARRAY_SIZE(flows); i++) {
		if (ftun && mnl_attr_get_u32(ftun) != flows[i].tunnel_id)
			continue;
		if (fstate && mnl_attr_get_u8(fstate) != flows[i].state)
			continue;
		nlh = reply(req, FAKE_FAMILY_ID, VPNFLOW_CMD_FLOW_GET, NLM_F_MULTI);
		put_flow(nlh, &flows[i]);
		future(nlh, VPNFLOW_A_MAX);
		push(sk, nlh);
	}
	done(sk, req);
}

static void vpnflow(const struct mnl_socket *sk, const struct nlmsghdr *req)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(req);
	const struct nlattr *a, *ftun = NULL, *fstate = NULL;
	const char *path = getenv("VPNFLOW_FAKE_LOG");
	FILE *log;

	mnl_attr_for_each(a, req, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) == VPNFLOW_A_FILTER_TUNNEL_ID)
			ftun = a;
		if (mnl_attr_get_type(a) == VPNFLOW_A_FILTER_FLOW_STATE)
			fstate = a;
	}
	log = path ? fopen(path, "a") : NULL;
	if (log) {
		fprintf(log, "cmd=%u flags=0x%x", genl->cmd, req->nlmsg_flags);
		if (ftun)
			fprintf(log, " tunnel=%u", mnl_attr_get_u32(ftun));
		if (fstate)
			fprintf(log, " state=%u", mnl_attr_get_u8(fstate));
		if (genl->cmd == VPNFLOW_CMD_OPTIONS_SET)
			log_options(log, req);
		fputc('\n', log);
		fclose(log);
	}

	switch (genl->cmd) {
	case VPNFLOW_CMD_OPTIONS_GET:
		options_get(sk, req);
		return;
	case VPNFLOW_CMD_OPTIONS_SET:
		options_set(sk, req);
		return;
	case VPNFLOW_CMD_COUNTERS_GET:
		counters_get(sk, req);
		return;
	}
	if (is("old")) {
		ack(sk, req, EOPNOTSUPP, NULL);
		return;
	}
	switch (genl->cmd) {
	case VPNFLOW_CMD_TUNNEL_GET:
		tunnel_get(sk, req);
		return;
	case VPNFLOW_CMD_FLOW_GET:
		flow_get(sk, req, ftun, fstate);
		return;
	case VPNFLOW_CMD_COUNTERS_CLEAR:
		ack(sk, req, is("eperm") ? EPERM : 0, NULL);
		return;
	}
	ack(sk, req, EOPNOTSUPP, NULL);
}

ssize_t mnl_socket_sendto(const struct mnl_socket *sk, const void *buf,
			  size_t len)
{
	const struct nlmsghdr *req = buf;

	if (len < NLMSG_HDRLEN + GENL_HDRLEN || req->nlmsg_len != len) {
		errno = EINVAL;
		return -1;
	}
	if (req->nlmsg_type == GENL_ID_CTRL)
		getfamily(sk, req);
	else if (req->nlmsg_type == FAKE_FAMILY_ID)
		vpnflow(sk, req);
	else
		ack(sk, req, ENOENT, NULL);
	return len;
}

/* Multicast */

static void events(const struct mnl_socket *sk)
{
	static const uint8_t ev[] = {
		VPNFLOW_EVENT_TYPE_TEARDOWN, VPNFLOW_EVENT_TYPE_PRESERVED,
		VPNFLOW_EVENT_TYPE_RESUMED, VPNFLOW_EVENT_TYPE_EXPIRED, 42,
	};
	static const int fl[] = { 1, 0, 0, 0, 2 };
	struct nlmsghdr *nlh;
	size_t i;

	for (i = 0; i < sizeof(ev); i++) {
		/* Something else on the group first: skipped. */
		if (!i) {
			nlh = reply(NULL, FAKE_FAMILY_ID, VPNFLOW_CMD_TUNNEL_GET, 0);
			push(sk, nlh);
		}
		nlh = reply(NULL, FAKE_FAMILY_ID, VPNFLOW_CMD_FLOW_NTF, 0);
		mnl_attr_put_u8(nlh, VPNFLOW_A_EVENT, ev[i]);
		put_flow(nlh, &flows[fl[i]]);
		future(nlh, VPNFLOW_A_MAX);
		push(sk, nlh);
	}
}

static void delfamily(const struct mnl_socket *sk)
{
	struct nlmsghdr *nlh = reply(NULL, GENL_ID_CTRL, CTRL_CMD_DELFAMILY, 0);

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VPNFLOW_FAMILY_NAME);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAKE_FAMILY_ID);
	push(sk, nlh);
}

int mnl_socket_setsockopt(const struct mnl_socket *sk, int type, void *buf,
			  socklen_t len)
{
	unsigned int grp;

	if (type != NETLINK_ADD_MEMBERSHIP || len != sizeof(grp))
		return 0;
	memcpy(&grp, buf, sizeof(grp));
	if (grp == FAKE_EVENTS_GRP) {
		events(sk);
	} else if (grp == GENL_ID_CTRL) {
		if (is("unload"))
			delfamily(sk);
	} else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
