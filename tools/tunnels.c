// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: the tunnels the module knows, as the ASA's
 * "show asp table vpn-context".
 *
 *   show vpn-context [detail]
 *   show asp table vpn-context [detail]
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kw.h"
#include "vpnsysopt.h"

struct tun {
	uint32_t id;
	uint16_t family;
	uint8_t state;
	uint32_t if_id;
	uint32_t mark;
	uint32_t sa_count;
	uint32_t reqid;
	uint32_t flows;
	uint32_t flows_held;
	uint32_t since;
	uint8_t proto;
	char lo[VS_ADDR_LEN];
	char hi[VS_ADDR_LEN];
};

struct tun_list {
	struct tun *v;
	size_t n, cap;
};

static const enum mnl_attr_data_type tun_types[VPNFLOW_A_TUNNEL_MAX + 1] = {
	[VPNFLOW_A_TUNNEL_ID]		= MNL_TYPE_U32,
	[VPNFLOW_A_TUNNEL_FAMILY]	= MNL_TYPE_U16,
	[VPNFLOW_A_TUNNEL_ADDR_LO]	= MNL_TYPE_BINARY,
	[VPNFLOW_A_TUNNEL_ADDR_HI]	= MNL_TYPE_BINARY,
	[VPNFLOW_A_TUNNEL_IF_ID]	= MNL_TYPE_U32,
	[VPNFLOW_A_TUNNEL_MARK]		= MNL_TYPE_U32,
	[VPNFLOW_A_TUNNEL_STATE]	= MNL_TYPE_U8,
	[VPNFLOW_A_TUNNEL_SA_COUNT]	= MNL_TYPE_U32,
	[VPNFLOW_A_TUNNEL_REQID]	= MNL_TYPE_U32,
	[VPNFLOW_A_TUNNEL_FLOWS]	= MNL_TYPE_U32,
	[VPNFLOW_A_TUNNEL_FLOWS_HELD]	= MNL_TYPE_U32,
	[VPNFLOW_A_TUNNEL_SINCE]	= MNL_TYPE_U32,
	[VPNFLOW_A_TUNNEL_PROTO]	= MNL_TYPE_U8,
};

static uint32_t get_u32(const struct nlattr *a)
{
	return a ? mnl_attr_get_u32(a) : 0;
}

static int tun_get_cb(const struct nlmsghdr *nlh, void *data)
{
	static const enum mnl_attr_data_type top[VPNFLOW_A_MAX + 1] = {
		[VPNFLOW_A_TUNNEL] = MNL_TYPE_NESTED,
	};
	const struct nlattr *tb[VPNFLOW_A_MAX + 1];
	const struct nlattr *t[VPNFLOW_A_TUNNEL_MAX + 1];
	struct tun_list *l = data;
	struct tun *tun;

	if (vs_parse_msg(nlh, top, VPNFLOW_A_MAX, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[VPNFLOW_A_TUNNEL])
		return MNL_CB_OK;
	if (vs_parse_nest(tb[VPNFLOW_A_TUNNEL], tun_types,
			  VPNFLOW_A_TUNNEL_MAX, t) < 0)
		return MNL_CB_ERROR;

	l->v = vs_grow(l->v, &l->cap, l->n, sizeof(*l->v));
	if (!l->v)
		return MNL_CB_ERROR;
	tun = &l->v[l->n++];
	memset(tun, 0, sizeof(*tun));
	tun->id = get_u32(t[VPNFLOW_A_TUNNEL_ID]);
	if (t[VPNFLOW_A_TUNNEL_FAMILY])
		tun->family = mnl_attr_get_u16(t[VPNFLOW_A_TUNNEL_FAMILY]);
	if (t[VPNFLOW_A_TUNNEL_STATE])
		tun->state = mnl_attr_get_u8(t[VPNFLOW_A_TUNNEL_STATE]);
	tun->if_id = get_u32(t[VPNFLOW_A_TUNNEL_IF_ID]);
	tun->mark = get_u32(t[VPNFLOW_A_TUNNEL_MARK]);
	tun->sa_count = get_u32(t[VPNFLOW_A_TUNNEL_SA_COUNT]);
	tun->reqid = get_u32(t[VPNFLOW_A_TUNNEL_REQID]);
	tun->flows = get_u32(t[VPNFLOW_A_TUNNEL_FLOWS]);
	tun->flows_held = get_u32(t[VPNFLOW_A_TUNNEL_FLOWS_HELD]);
	tun->since = get_u32(t[VPNFLOW_A_TUNNEL_SINCE]);
	if (t[VPNFLOW_A_TUNNEL_PROTO])
		tun->proto = mnl_attr_get_u8(t[VPNFLOW_A_TUNNEL_PROTO]);
	vs_addr(tun->lo, sizeof(tun->lo), tun->family,
		t[VPNFLOW_A_TUNNEL_ADDR_LO]);
	vs_addr(tun->hi, sizeof(tun->hi), tun->family,
		t[VPNFLOW_A_TUNNEL_ADDR_HI]);
	return MNL_CB_OK;
}

static int tun_cmp(const void *a, const void *b)
{
	const struct tun *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static const char *tun_state(char *buf, size_t sz, uint8_t state, bool json)
{
	switch (state) {
	case VPNFLOW_TUNNEL_STATE_DOWN:
		return json ? "down" : "DOWN";
	case VPNFLOW_TUNNEL_STATE_UP:
		return json ? "up" : "UP";
	}
	snprintf(buf, sz, "%u", state);
	return buf;
}

/*
 * Flags, as the ASA's: the SAs' protocol (ESP or AH; TUNNEL from a module
 * that does not say) and PRESERVE when the namespace preserves flows.
 */
static const char *tun_proto(const struct tun *t, bool json)
{
	switch (t->proto) {
	case IPPROTO_ESP:
		return json ? "esp" : "ESP";
	case IPPROTO_AH:
		return json ? "ah" : "AH";
	}
	return json ? "tunnel" : "TUNNEL";
}

static void tun_print_text(const struct tun *t, bool preserve, bool detail)
{
	char hms[VS_HMS_LEN], st[8];

	printf("VPN CTX  = %u  Peer = %s <-> %s", t->id, t->lo, t->hi);
	if (t->if_id)
		printf("  If-id = %u", t->if_id);
	if (t->mark)
		printf("  Mark = 0x%x", t->mark);
	printf("  State = %s  Flags = %s%s  SAs = %u  Flows = %u (preserved %u)  Since = %s\n",
	       tun_state(st, sizeof(st), t->state, false), tun_proto(t, false),
	       preserve ? "+PRESERVE" : "", t->sa_count, t->flows,
	       t->flows_held, vs_hms(hms, sizeof(hms), t->since));
	if (!detail)
		return;
	printf("  Reqid    = %u\n", t->reqid);
	printf("  If-id    = %u\n", t->if_id);
	printf("  Mark     = 0x%x\n", t->mark);
}

static void tun_print_json(struct json *j, const struct tun *t, bool preserve)
{
	char st[8];

	json_obj_open(j);
	json_kv_u64(j, "id", t->id);
	json_kv_str(j, "family", vs_family_name(t->family));
	json_kv_str(j, "peer_lo", t->lo);
	json_kv_str(j, "peer_hi", t->hi);
	json_kv_str(j, "state", tun_state(st, sizeof(st), t->state, true));
	json_key(j, "flags");
	json_arr_open(j);
	json_str(j, tun_proto(t, true));
	if (preserve)
		json_str(j, "preserve");
	json_arr_close(j);
	json_kv_u64(j, "sa_count", t->sa_count);
	json_kv_u64(j, "reqid", t->reqid);
	json_kv_u64(j, "if_id", t->if_id);
	json_kv_u64(j, "mark", t->mark);
	json_kv_u64(j, "flows", t->flows);
	json_kv_u64(j, "flows_held", t->flows_held);
	json_kv_u64(j, "since", t->since);
	json_obj_close(j);
}

static int tun_show_exec(struct vs *vs)
{
	struct tun_list l = { 0 };
	struct nlmsghdr *nlh;
	struct vs_opts o;
	bool preserve;
	struct json j;
	size_t i;
	int rc;

	rc = vs_opts_get(vs, &o);
	if (rc)
		return rc;
	preserve = o.val[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS];

	nlh = nl_genl_msg(&vs->nl, VPNFLOW_CMD_TUNNEL_GET,
			  VPNFLOW_FAMILY_VERSION, NLM_F_DUMP);
	rc = vs_talk(vs, nlh, tun_get_cb, &l, "reading tunnels");
	if (rc)
		goto out;

	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), tun_cmp);
	if (vs->json) {
		json_init(&j, stdout, vs->pretty);
		json_arr_open(&j);
		for (i = 0; i < l.n; i++)
			tun_print_json(&j, &l.v[i], preserve);
		json_arr_close(&j);
		json_finish(&j);
	} else {
		for (i = 0; i < l.n; i++)
			tun_print_text(&l.v[i], preserve, vs->detail);
	}
out:
	free(l.v);
	return rc;
}

static int do_detail(struct vs *vs, int argc, char **argv)
{
	vs->detail = true;
	return kw_end(vs, argc, argv);
}

const struct kw vpn_context_kw[] = {
	{ .name = "detail", .fn = do_detail },
	KW_END
};

int do_show_vpn_context(struct vs *vs, int argc, char **argv)
{
	vs->exec = tun_show_exec;
	if (!argc)
		return 0;
	return kw_dispatch(vs, vpn_context_kw, argc, argv, NULL);
}
