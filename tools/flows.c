// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: tunneled flows, as the ASA's "show conn", and their events.
 *
 *   show conn [active | preserved] [tunnel ID]
 *   monitor [count N]
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "json.h"
#include "kw.h"
#include "vpnsysopt.h"

struct flow {
	uint32_t id;
	uint32_t tunnel_id;
	uint8_t state;
	uint8_t proto;
	uint16_t family;
	uint16_t sport;
	uint16_t dport;
	uint32_t ifsrc;
	uint32_t ifdst;
	uint32_t duration;
	uint64_t bytes;
	bool has_held;
	uint32_t held_for;
	bool has_expires;
	uint32_t expires;
	uint32_t resumes;
	bool has_resume_delay;
	uint32_t resume_delay;	/* ms */
	size_t seq;		/* position in the dump, to sort stably */
	char src[VS_ADDR_LEN];
	char dst[VS_ADDR_LEN];
};

static const enum mnl_attr_data_type flow_types[VPNFLOW_A_FLOW_MAX + 1] = {
	[VPNFLOW_A_FLOW_ID]		= MNL_TYPE_U32,
	[VPNFLOW_A_FLOW_TUNNEL_ID]	= MNL_TYPE_U32,
	[VPNFLOW_A_FLOW_STATE]		= MNL_TYPE_U8,
	[VPNFLOW_A_FLOW_FAMILY]		= MNL_TYPE_U16,
	[VPNFLOW_A_FLOW_PROTO]		= MNL_TYPE_U8,
	[VPNFLOW_A_FLOW_SRC]		= MNL_TYPE_BINARY,
	[VPNFLOW_A_FLOW_DST]		= MNL_TYPE_BINARY,
	[VPNFLOW_A_FLOW_SPORT]		= MNL_TYPE_U16,
	[VPNFLOW_A_FLOW_DPORT]		= MNL_TYPE_U16,
	[VPNFLOW_A_FLOW_IFINDEX_SRC]	= MNL_TYPE_U32,
	[VPNFLOW_A_FLOW_IFINDEX_DST]	= MNL_TYPE_U32,
	[VPNFLOW_A_FLOW_DURATION]	= MNL_TYPE_U32,
	[VPNFLOW_A_FLOW_BYTES]		= MNL_TYPE_U64,
	[VPNFLOW_A_FLOW_HELD_FOR]	= MNL_TYPE_U32,
	[VPNFLOW_A_FLOW_EXPIRES]	= MNL_TYPE_U32,
	[VPNFLOW_A_FLOW_RESUMES]	= MNL_TYPE_U32,
	[VPNFLOW_A_FLOW_RESUME_DELAY]	= MNL_TYPE_U32,
};

static uint32_t get_u32(const struct nlattr *a)
{
	return a ? mnl_attr_get_u32(a) : 0;
}

static uint16_t get_u16(const struct nlattr *a)
{
	return a ? mnl_attr_get_u16(a) : 0;
}

static uint8_t get_u8(const struct nlattr *a)
{
	return a ? mnl_attr_get_u8(a) : 0;
}

/* A VPNFLOW_A_FLOW nest into @f; -1 (errno EPROTO) if malformed. */
static int flow_parse(const struct nlattr *nest, struct flow *f)
{
	const struct nlattr *t[VPNFLOW_A_FLOW_MAX + 1];

	if (vs_parse_nest(nest, flow_types, VPNFLOW_A_FLOW_MAX, t) < 0)
		return -1;
	memset(f, 0, sizeof(*f));
	f->id = get_u32(t[VPNFLOW_A_FLOW_ID]);
	f->tunnel_id = get_u32(t[VPNFLOW_A_FLOW_TUNNEL_ID]);
	f->state = get_u8(t[VPNFLOW_A_FLOW_STATE]);
	f->proto = get_u8(t[VPNFLOW_A_FLOW_PROTO]);
	f->family = get_u16(t[VPNFLOW_A_FLOW_FAMILY]);
	f->sport = get_u16(t[VPNFLOW_A_FLOW_SPORT]);
	f->dport = get_u16(t[VPNFLOW_A_FLOW_DPORT]);
	f->ifsrc = get_u32(t[VPNFLOW_A_FLOW_IFINDEX_SRC]);
	f->ifdst = get_u32(t[VPNFLOW_A_FLOW_IFINDEX_DST]);
	f->duration = get_u32(t[VPNFLOW_A_FLOW_DURATION]);
	if (t[VPNFLOW_A_FLOW_BYTES])
		f->bytes = mnl_attr_get_u64(t[VPNFLOW_A_FLOW_BYTES]);
	f->has_held = t[VPNFLOW_A_FLOW_HELD_FOR];
	f->held_for = get_u32(t[VPNFLOW_A_FLOW_HELD_FOR]);
	f->has_expires = t[VPNFLOW_A_FLOW_EXPIRES];
	f->expires = get_u32(t[VPNFLOW_A_FLOW_EXPIRES]);
	f->resumes = get_u32(t[VPNFLOW_A_FLOW_RESUMES]);
	f->has_resume_delay = t[VPNFLOW_A_FLOW_RESUME_DELAY];
	f->resume_delay = get_u32(t[VPNFLOW_A_FLOW_RESUME_DELAY]);
	vs_addr(f->src, sizeof(f->src), f->family, t[VPNFLOW_A_FLOW_SRC]);
	vs_addr(f->dst, sizeof(f->dst), f->family, t[VPNFLOW_A_FLOW_DST]);
	return 0;
}

static const char *flow_state(char *buf, size_t sz, uint8_t state)
{
	switch (state) {
	case VPNFLOW_FLOW_STATE_ACTIVE:
		return "active";
	case VPNFLOW_FLOW_STATE_PRESERVED:
		return "preserved";
	}
	snprintf(buf, sz, "%u", state);
	return buf;
}

/* "/PORT" for protocols with ports, else nothing. */
static const char *flow_port(char *buf, size_t sz, const struct flow *f,
			     uint16_t port)
{
	buf[0] = '\0';
	if (vs_proto_has_ports(f->proto))
		snprintf(buf, sz, "/%u", port);
	return buf;
}

/*
 * TCP lan0:198.51.100.2/40000 to wan0:198.51.100.66/5001, tunnel 3,
 * state active, duration 0:00:12, bytes 123456, expires 0:59:48
 * [, resumes 1[, resume-delay 68 ms]]: the time from its tunnel's return
 * to its first packet through it, at its last resume.
 */
static void flow_print_conn(const struct flow *f)
{
	char pr[VS_PROTO_LEN], st[4], sp[8], dp[8], hms[VS_HMS_LEN];

	printf("%s %s:%s%s to %s:%s%s, tunnel %u, state %s, duration %s, bytes %" PRIu64,
	       vs_proto_name(pr, sizeof(pr), f->proto, false),
	       vs_ifname(f->ifsrc), f->src, flow_port(sp, sizeof(sp), f, f->sport),
	       vs_ifname(f->ifdst), f->dst, flow_port(dp, sizeof(dp), f, f->dport),
	       f->tunnel_id, flow_state(st, sizeof(st), f->state),
	       vs_hms(hms, sizeof(hms), f->duration), f->bytes);
	if (f->has_held)
		printf(", held %s", vs_hms(hms, sizeof(hms), f->held_for));
	if (f->has_expires)
		printf(", expires %s", vs_hms(hms, sizeof(hms), f->expires));
	if (f->resumes)
		printf(", resumes %" PRIu32, f->resumes);
	if (f->resumes && f->has_resume_delay)
		printf(", resume-delay %" PRIu32 " ms", f->resume_delay);
	putchar('\n');
}

/* The members of a flow's JSON object (the caller opens and closes it). */
static void flow_json_members(struct json *j, const struct flow *f)
{
	char pr[VS_PROTO_LEN], st[4];

	json_kv_u64(j, "id", f->id);
	json_kv_u64(j, "tunnel_id", f->tunnel_id);
	json_kv_str(j, "state", flow_state(st, sizeof(st), f->state));
	json_kv_str(j, "family", vs_family_name(f->family));
	json_kv_u64(j, "proto", f->proto);
	json_kv_str(j, "proto_name", vs_proto_name(pr, sizeof(pr), f->proto, true));
	json_kv_str(j, "src", f->src);
	json_kv_str(j, "dst", f->dst);
	json_kv_u64(j, "sport", f->sport);
	json_kv_u64(j, "dport", f->dport);
	json_kv_str(j, "ifsrc", vs_ifname(f->ifsrc));
	json_kv_str(j, "ifdst", vs_ifname(f->ifdst));
	json_kv_u64(j, "ifindex_src", f->ifsrc);
	json_kv_u64(j, "ifindex_dst", f->ifdst);
	json_kv_u64(j, "duration", f->duration);
	json_kv_u64(j, "bytes", f->bytes);
	if (f->has_held)
		json_kv_u64(j, "held_for", f->held_for);
	if (f->has_expires)
		json_kv_u64(j, "expires", f->expires);
	if (f->resumes)
		json_kv_u64(j, "resumes", f->resumes);
	if (f->resumes && f->has_resume_delay)
		json_kv_u64(j, "resume_delay_ms", f->resume_delay);
}

/* show conn */

struct flow_list {
	struct flow *v;
	size_t n, cap;
};

static int flow_get_cb(const struct nlmsghdr *nlh, void *data)
{
	static const enum mnl_attr_data_type top[VPNFLOW_A_MAX + 1] = {
		[VPNFLOW_A_FLOW] = MNL_TYPE_NESTED,
	};
	const struct nlattr *tb[VPNFLOW_A_MAX + 1];
	struct flow_list *l = data;

	if (vs_parse_msg(nlh, top, VPNFLOW_A_MAX, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[VPNFLOW_A_FLOW])
		return MNL_CB_OK;
	l->v = vs_grow(l->v, &l->cap, l->n, sizeof(*l->v));
	if (!l->v)
		return MNL_CB_ERROR;
	if (flow_parse(tb[VPNFLOW_A_FLOW], &l->v[l->n]) < 0)
		return MNL_CB_ERROR;
	l->v[l->n].seq = l->n;
	l->n++;
	return MNL_CB_OK;
}

/* By tunnel, then in the kernel's order within the tunnel. */
/* The same conntrack entry: its id and its tuple. */
static int flow_cmp_entry(const void *a, const void *b)
{
	const struct flow *x = a, *y = b;
	int d;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->proto != y->proto || x->family != y->family)
		return x->proto != y->proto ? x->proto - y->proto : x->family - y->family;
	if (x->sport != y->sport || x->dport != y->dport)
		return x->sport != y->sport ? x->sport - y->sport : x->dport - y->dport;
	d = strcmp(x->src, y->src);
	return d ? d : strcmp(x->dst, y->dst);
}

/* Tunnel by tunnel, the oldest flow first. */
static int flow_cmp(const void *a, const void *b)
{
	const struct flow *x = a, *y = b;

	if (x->tunnel_id != y->tunnel_id)
		return x->tunnel_id < y->tunnel_id ? -1 : 1;
	if (x->duration != y->duration)
		return x->duration > y->duration ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The kernel's dump may report a flow twice (its table was resized during
 * the dump): keep the first report of each entry.
 */
static void flow_list_dedup(struct flow_list *l)
{
	size_t i, n = 0;

	qsort(l->v, l->n, sizeof(*l->v), flow_cmp_entry);
	for (i = 0; i < l->n; i++) {
		if (n && !flow_cmp_entry(&l->v[n - 1], &l->v[i])) {
			if (l->v[i].seq < l->v[n - 1].seq)
				l->v[n - 1] = l->v[i];
			continue;
		}
		l->v[n++] = l->v[i];
	}
	l->n = n;
}

static int conn_show_exec(struct vs *vs)
{
	struct flow_list l = { 0 };
	struct nlmsghdr *nlh;
	struct json j;
	size_t i;
	int rc;

	nlh = nl_genl_msg(&vs->nl, VPNFLOW_CMD_FLOW_GET,
			  VPNFLOW_FAMILY_VERSION, NLM_F_DUMP);
	if (vs->filter_tunnel)
		mnl_attr_put_u32(nlh, VPNFLOW_A_FILTER_TUNNEL_ID, vs->tunnel_id);
	if (vs->filter_state >= 0)
		mnl_attr_put_u8(nlh, VPNFLOW_A_FILTER_FLOW_STATE,
				vs->filter_state);
	rc = vs_talk(vs, nlh, flow_get_cb, &l, "reading flows");
	if (rc)
		goto out;

	if (l.n) {
		flow_list_dedup(&l);
		qsort(l.v, l.n, sizeof(*l.v), flow_cmp);
	}
	if (vs->json) {
		json_init(&j, stdout, vs->pretty);
		json_arr_open(&j);
		for (i = 0; i < l.n; i++) {
			json_obj_open(&j);
			flow_json_members(&j, &l.v[i]);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_finish(&j);
	} else {
		printf("%zu in use\n", l.n);
		for (i = 0; i < l.n; i++)
			flow_print_conn(&l.v[i]);
	}
out:
	free(l.v);
	return rc;
}

static int conn_more(struct vs *vs, int argc, char **argv);

static int conn_state(struct vs *vs, int argc, char **argv, int state)
{
	if (vs->filter_state >= 0)
		return kw_error(vs, argv - 1,
				"only one of \"active\" and \"preserved\" may be given");
	vs->filter_state = state;
	return conn_more(vs, argc, argv);
}

static int do_conn_active(struct vs *vs, int argc, char **argv)
{
	return conn_state(vs, argc, argv, VPNFLOW_FLOW_STATE_ACTIVE);
}

static int do_conn_preserved(struct vs *vs, int argc, char **argv)
{
	return conn_state(vs, argc, argv, VPNFLOW_FLOW_STATE_PRESERVED);
}

#define TUNNEL_ALT	"a tunnel id (0-4294967295, see show vpn-context)"

static int do_conn_tunnel(struct vs *vs, int argc, char **argv)
{
	const char *s;
	int err;

	if (vs->filter_tunnel)
		return kw_error(vs, argv - 1, "\"tunnel\" given twice");
	if (!argc)
		return kw_error(vs, argv, "incomplete command; expected %s",
				TUNNEL_ALT);
	s = argv[0];
	err = vs_parse_u32(s, s + strlen(s), &vs->tunnel_id);
	if (err == -EINVAL)
		return kw_error(vs, argv, "tunnel id \"%s\" is not a number; expected %s",
				s, TUNNEL_ALT);
	if (err)
		return kw_error(vs, argv, "tunnel id %s is out of range: must be 0-4294967295",
				s);
	vs->filter_tunnel = true;
	return conn_more(vs, argc - 1, argv + 1);
}

const struct kw conn_kw[] = {
	{ .name = "active", .fn = do_conn_active },
	{ .name = "preserved", .fn = do_conn_preserved, .flags = KW_ALT },
	{ .name = "tunnel", .fn = do_conn_tunnel, .arg = "ID" },
	KW_END
};

static int conn_more(struct vs *vs, int argc, char **argv)
{
	if (!argc)
		return 0;
	return kw_dispatch(vs, conn_kw, argc, argv, NULL);
}

int do_show_conn(struct vs *vs, int argc, char **argv)
{
	vs->exec = conn_show_exec;
	vs->filter_state = -1;
	return conn_more(vs, argc, argv);
}

/* monitor */

struct mon {
	struct vs *vs;
	uint32_t seen;		/* events printed */
	bool gone;		/* the family was unregistered */
	bool write_error;
};

static const char *const mon_event_names[] = {
	[VPNFLOW_EVENT_TYPE_TEARDOWN]	= "teardown",
	[VPNFLOW_EVENT_TYPE_PRESERVED]	= "preserved",
	[VPNFLOW_EVENT_TYPE_RESUMED]	= "resumed",
	[VPNFLOW_EVENT_TYPE_EXPIRED]	= "expired",
	[VPNFLOW_EVENT_TYPE_RECLASSIFIED] = "reclassified",
};

static const char *mon_event(char *buf, size_t sz, uint8_t ev)
{
	if (ev < ARRAY_SIZE(mon_event_names) && mon_event_names[ev])
		return mon_event_names[ev];
	snprintf(buf, sz, "event-%u", ev);
	return buf;
}

/*
 * teardown TCP 198.51.100.2/40000 -> 198.51.100.66/5001 tunnel 3
 * duration 0:00:12 bytes 123456 [held 0:00:05] [resumes 1 [resume-delay
 * 68 ms]]
 */
static void mon_print_text(const char *ev, const struct flow *f)
{
	char pr[VS_PROTO_LEN], sp[8], dp[8], hms[VS_HMS_LEN];

	printf("%s %s %s%s -> %s%s tunnel %u duration %s bytes %" PRIu64,
	       ev, vs_proto_name(pr, sizeof(pr), f->proto, false),
	       f->src, flow_port(sp, sizeof(sp), f, f->sport),
	       f->dst, flow_port(dp, sizeof(dp), f, f->dport),
	       f->tunnel_id, vs_hms(hms, sizeof(hms), f->duration), f->bytes);
	if (f->has_held)
		printf(" held %s", vs_hms(hms, sizeof(hms), f->held_for));
	if (f->resumes)
		printf(" resumes %" PRIu32, f->resumes);
	if (f->resumes && f->has_resume_delay)
		printf(" resume-delay %" PRIu32 " ms", f->resume_delay);
	putchar('\n');
}

/* After an event's line: flush it, and stop after `count N` events. */
static int mon_printed(struct mon *m)
{
	if (fflush(stdout) == EOF) {
		m->write_error = true;
		return MNL_CB_STOP;
	}
	m->seen++;
	if (m->vs->count && m->seen >= m->vs->count)
		return MNL_CB_STOP;
	return MNL_CB_OK;
}

static int mon_flow_ntf(struct mon *m, const struct nlmsghdr *nlh)
{
	static const enum mnl_attr_data_type top[VPNFLOW_A_MAX + 1] = {
		[VPNFLOW_A_FLOW]	= MNL_TYPE_NESTED,
		[VPNFLOW_A_EVENT]	= MNL_TYPE_U8,
	};
	const struct nlattr *tb[VPNFLOW_A_MAX + 1];
	char evbuf[16];
	const char *ev;
	struct flow f;
	struct json j;

	if (vs_parse_msg(nlh, top, VPNFLOW_A_MAX, tb) < 0 ||
	    !tb[VPNFLOW_A_FLOW] || flow_parse(tb[VPNFLOW_A_FLOW], &f) < 0) {
		fprintf(stderr, PROG ": monitor: skipped a malformed event\n");
		return MNL_CB_OK;
	}
	ev = mon_event(evbuf, sizeof(evbuf), get_u8(tb[VPNFLOW_A_EVENT]));
	vs_ifname_forget();	/* interfaces come and go meanwhile */

	if (m->vs->json) {
		json_init(&j, stdout, m->vs->pretty);
		json_obj_open(&j);
		json_kv_str(&j, "event", ev);
		flow_json_members(&j, &f);
		json_obj_close(&j);
		json_finish(&j);
	} else {
		mon_print_text(ev, &f);
	}
	return mon_printed(m);
}

/* reclassified tunnel 3 flows 2 */
static int mon_tunnel_ntf(struct mon *m, const struct nlmsghdr *nlh)
{
	static const enum mnl_attr_data_type top[VPNFLOW_A_MAX + 1] = {
		[VPNFLOW_A_TUNNEL]	= MNL_TYPE_NESTED,
		[VPNFLOW_A_EVENT]	= MNL_TYPE_U8,
		[VPNFLOW_A_COUNT]	= MNL_TYPE_U32,
	};
	static const enum mnl_attr_data_type tun[VPNFLOW_A_TUNNEL_MAX + 1] = {
		[VPNFLOW_A_TUNNEL_ID]	= MNL_TYPE_U32,
	};
	const struct nlattr *tb[VPNFLOW_A_MAX + 1];
	const struct nlattr *tt[VPNFLOW_A_TUNNEL_MAX + 1];
	uint32_t id = 0, count;
	char evbuf[16];
	const char *ev;
	struct json j;

	if (vs_parse_msg(nlh, top, VPNFLOW_A_MAX, tb) < 0 || !tb[VPNFLOW_A_TUNNEL] ||
	    vs_parse_nest(tb[VPNFLOW_A_TUNNEL], tun, VPNFLOW_A_TUNNEL_MAX, tt) < 0) {
		fprintf(stderr, PROG ": monitor: skipped a malformed event\n");
		return MNL_CB_OK;
	}
	if (tt[VPNFLOW_A_TUNNEL_ID])
		id = mnl_attr_get_u32(tt[VPNFLOW_A_TUNNEL_ID]);
	count = tb[VPNFLOW_A_COUNT] ? mnl_attr_get_u32(tb[VPNFLOW_A_COUNT]) : 0;
	ev = mon_event(evbuf, sizeof(evbuf), get_u8(tb[VPNFLOW_A_EVENT]));
	if (m->vs->json) {
		json_init(&j, stdout, m->vs->pretty);
		json_obj_open(&j);
		json_kv_str(&j, "event", ev);
		json_kv_u64(&j, "tunnel_id", id);
		json_kv_u64(&j, "count", count);
		json_obj_close(&j);
		json_finish(&j);
	} else {
		printf("%s tunnel %u flows %u\n", ev, id, count);
	}
	return mon_printed(m);
}

/* nlctrl says a family went away: ours, if the module was unloaded. */
static int mon_ctrl(struct mon *m, const struct nlmsghdr *nlh)
{
	static const enum mnl_attr_data_type top[CTRL_ATTR_MAX + 1] = {
		[CTRL_ATTR_FAMILY_ID]	= MNL_TYPE_U16,
	};
	const struct nlattr *tb[CTRL_ATTR_MAX + 1];

	if (vs_parse_msg(nlh, top, CTRL_ATTR_MAX, tb) < 0 ||
	    !tb[CTRL_ATTR_FAMILY_ID] ||
	    mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]) != m->vs->nl.fam.id)
		return MNL_CB_OK;
	m->gone = true;
	return MNL_CB_STOP;
}

static int mon_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *genl;
	struct mon *m = data;

	if (mnl_nlmsg_get_payload_len(nlh) < GENL_HDRLEN)
		return MNL_CB_OK;
	genl = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_type == m->vs->nl.fam.id &&
	    genl->cmd == VPNFLOW_CMD_FLOW_NTF)
		return mon_flow_ntf(m, nlh);
	if (nlh->nlmsg_type == m->vs->nl.fam.id &&
	    genl->cmd == VPNFLOW_CMD_TUNNEL_NTF)
		return mon_tunnel_ntf(m, nlh);
	if (nlh->nlmsg_type == GENL_ID_CTRL &&
	    genl->cmd == CTRL_CMD_DELFAMILY)
		return mon_ctrl(m, nlh);
	return MNL_CB_OK;
}

#define MON_RX_SIZE	32768	/* as nl.c's, MNL_SOCKET_DUMP_SIZE */

static volatile sig_atomic_t mon_stop;

static void mon_signal(int sig)
{
	(void)sig;
	mon_stop = 1;
}

/*
 * SIGINT and SIGTERM end the monitor with exit code 0. They are blocked
 * except while waiting in ppoll(), so that none is missed between the
 * check of mon_stop and the wait.
 */
static void mon_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mon_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
}

static int mon_join(struct vs *vs, unsigned int grp)
{
	return mnl_socket_setsockopt(vs->nl.sk, NETLINK_ADD_MEMBERSHIP, &grp,
				     sizeof(grp));
}

static int mon_exec(struct vs *vs)
{
	struct mon m = { .vs = vs };
	struct pollfd pfd;
	sigset_t waitmask;
	char *buf;
	int grp, ret, err;

	grp = nl_family_mcgrp(&vs->nl, VPNFLOW_MCGRP_EVENTS);
	if (grp < 0) {
		fprintf(stderr, "%s: monitor: not supported by the loaded %s module (no \"%s\" multicast group; older than %s?)\n",
			PROG, "vpnflow_preserve", VPNFLOW_MCGRP_EVENTS, PROG);
		return VS_EXIT_KERNEL;
	}
	if (mon_join(vs, grp) < 0) {
		err = errno;
		fprintf(stderr, PROG ": monitor: cannot join the \""
			VPNFLOW_MCGRP_EVENTS "\" multicast group: %s\n",
			strerror(err));
		if (err == EPERM || err == EACCES) {
			fprintf(stderr, PROG ": permission denied: monitor needs %s\n",
				"CAP_NET_ADMIN over the network namespace");
			return VS_EXIT_PERM;
		}
		return VS_EXIT_SYS;
	}
	/* Best effort: nlctrl's only group, to notice an unload. */
	mon_join(vs, GENL_ID_CTRL);

	buf = malloc(MON_RX_SIZE);
	if (!buf) {
		fprintf(stderr, PROG ": monitor: %s\n", strerror(ENOMEM));
		return VS_EXIT_SYS;
	}
	mon_signals(&waitmask);
	pfd.fd = mnl_socket_get_fd(vs->nl.sk);
	pfd.events = POLLIN;

	ret = 0;
	while (!mon_stop) {
		if (ppoll(&pfd, 1, NULL, &waitmask) < 0) {
			if (errno == EINTR)
				continue;
			ret = -1;
			break;
		}
		ret = mnl_socket_recvfrom(vs->nl.sk, buf,
					  MON_RX_SIZE);
		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ENOBUFS) {
				/* As ip monitor: say so and go on. */
				fprintf(stderr, "Warning: events lost (receive buffer overflow)\n");
				continue;
			}
			break;
		}
		ret = mnl_cb_run(buf, ret, 0, 0, mon_cb, &m);
		if (ret <= 0)
			break;
	}
	err = errno;
	free(buf);

	if (m.write_error || mon_stop)
		return 0;	/* main() reports a write error */
	if (m.gone) {
		fprintf(stderr, PROG ": monitor: the vpnflow_preserve module was unloaded\n");
		return VS_EXIT_NOMOD;
	}
	if (ret < 0) {
		fprintf(stderr, PROG ": monitor: %s\n", strerror(err));
		return err == EPERM || err == EACCES ? VS_EXIT_PERM : VS_EXIT_SYS;
	}
	return 0;	/* count reached */
}

#define COUNT_ALT	"a number of events (1-4294967295)"

static int do_monitor_count(struct vs *vs, int argc, char **argv)
{
	const char *s;
	int err;

	if (!argc)
		return kw_error(vs, argv, "incomplete command; expected %s",
				COUNT_ALT);
	s = argv[0];
	err = vs_parse_u32(s, s + strlen(s), &vs->count);
	if (err == -EINVAL)
		return kw_error(vs, argv, "event count \"%s\" is not a number; expected %s",
				s, COUNT_ALT);
	if (err || !vs->count)
		return kw_error(vs, argv, "event count %s is out of range: must be 1-4294967295",
				s);
	return kw_end(vs, argc - 1, argv + 1);
}

const struct kw monitor_kw[] = {
	{ .name = "count", .fn = do_monitor_count, .arg = "N" },
	KW_END
};

int do_monitor(struct vs *vs, int argc, char **argv)
{
	vs->exec = mon_exec;
	if (!argc)
		return 0;
	return kw_dispatch(vs, monitor_kw, argc, argv, NULL);
}
