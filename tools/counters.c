// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: show counters, clear counters.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "kw.h"
#include "vpnsysopt.h"

struct ctr_desc {
	const char *name;	/* text output: the spec's name */
	const char *json;
	enum mnl_attr_data_type type;	/* u64 counters, u32 gauges */
};

/* Printed in attribute order. Attributes not listed (the pad) are skipped. */
#define CTR(attr, name, json, type) \
	[VPNFLOW_A_COUNTERS_ ## attr] = { name, json, MNL_TYPE_ ## type }

static const struct ctr_desc ctr_desc[VPNFLOW_A_COUNTERS_MAX + 1] = {
	CTR(SA_EVENTS,		"sa-events",		"sa_events",		U64),
	CTR(POLICY_EVENTS,	"policy-events",	"policy_events",	U64),
	CTR(TUNNELS_UP,		"tunnels-up",		"tunnels_up",		U64),
	CTR(TUNNELS_DOWN,	"tunnels-down",		"tunnels_down",		U64),
	CTR(FLOWS_PRESERVED,	"flows-preserved",	"flows_preserved",	U64),
	CTR(FLOWS_RESUMED,	"flows-resumed",	"flows_resumed",	U64),
	CTR(FLOWS_EXPIRED,	"flows-expired",	"flows_expired",	U64),
	CTR(FLOWS_TORN_DOWN,	"flows-torn-down",	"flows_torn_down",	U64),
	CTR(PKTS_DROPPED,	"pkts-dropped",		"pkts_dropped",		U64),
	CTR(FLOWS_UNTRACKED,	"flows-untracked",	"flows_untracked",	U64),
	CTR(FLOWS,		"flows",		"flows",		U32),
	CTR(FLOWS_HELD,		"flows-held",		"flows_held",		U32),
	CTR(FLOWS_RECLASSIFIED,	"flows-reclassified",	"flows_reclassified",	U64),
	CTR(SYNS_LOWERED,	"syns-lowered",		"syns_lowered",		U64),
	CTR(SYNS_RAISED,	"syns-raised",		"syns_raised",		U64),
	CTR(FLOWS_EVICTED,	"flows-evicted",	"flows_evicted",	U64),
	CTR(RECLASSIFY_WALKS,	"reclassify-walks",	"reclassify_walks",	U64),
	CTR(RECLASSIFY_EXAMINED, "reclassify-examined",	"reclassify_examined",	U64),
	CTR(RECLASSIFY_PASSES,	"reclassify-passes",	"reclassify_passes",	U64),
	CTR(ICMP_HINTS,		"icmp-hints",		"icmp_hints",		U64),
	CTR(ESP_DF_REWRITTEN,	"esp-df-rewritten",	"esp_df_rewritten",	U64),
	CTR(TCP_STATE_BYPASSED,	"tcp-state-bypassed",	"tcp_state_bypassed",	U64),
	CTR(PREFRAG_PACKETS,	"prefrag-packets",	"prefrag_packets",	U64),
	CTR(PREFRAG_FRAGMENTS,	"prefrag-fragments",	"prefrag_fragments",	U64),
	CTR(PREFRAG_FAILURES,	"prefrag-failures",	"prefrag_failures",	U64),
	CTR(FLOWS_ADOPTED,	"flows-adopted",	"flows_adopted",	U64),
};

struct ctrs {
	uint32_t present;
	uint64_t val[VPNFLOW_A_COUNTERS_MAX + 1];
};

_Static_assert(VPNFLOW_A_COUNTERS_MAX < 32, "ctrs.present is too small");

static int ctr_get_cb(const struct nlmsghdr *nlh, void *data)
{
	static const enum mnl_attr_data_type top[VPNFLOW_A_MAX + 1] = {
		[VPNFLOW_A_COUNTERS] = MNL_TYPE_NESTED,
	};
	enum mnl_attr_data_type types[VPNFLOW_A_COUNTERS_MAX + 1];
	const struct nlattr *tb[VPNFLOW_A_MAX + 1];
	const struct nlattr *ctb[VPNFLOW_A_COUNTERS_MAX + 1];
	struct ctrs *c = data;
	int attr;

	if (vs_parse_msg(nlh, top, VPNFLOW_A_MAX, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[VPNFLOW_A_COUNTERS])
		return MNL_CB_OK;
	for (attr = 0; attr <= VPNFLOW_A_COUNTERS_MAX; attr++)
		types[attr] = ctr_desc[attr].name ? ctr_desc[attr].type :
						    MNL_TYPE_UNSPEC;
	if (vs_parse_nest(tb[VPNFLOW_A_COUNTERS], types,
			  VPNFLOW_A_COUNTERS_MAX, ctb) < 0)
		return MNL_CB_ERROR;
	for (attr = 1; attr <= VPNFLOW_A_COUNTERS_MAX; attr++) {
		if (!ctb[attr])
			continue;
		c->val[attr] = types[attr] == MNL_TYPE_U64 ?
			       mnl_attr_get_u64(ctb[attr]) :
			       mnl_attr_get_u32(ctb[attr]);
		c->present |= 1U << attr;
	}
	return MNL_CB_OK;
}

static void ctr_print_text(const struct ctrs *c)
{
	int attr;

	for (attr = 1; attr <= VPNFLOW_A_COUNTERS_MAX; attr++)
		if (c->present & (1U << attr))
			printf("%s %" PRIu64 "\n", ctr_desc[attr].name,
			       c->val[attr]);
}

static void ctr_print_json(const struct ctrs *c, bool pretty)
{
	struct json j;
	int attr;

	json_init(&j, stdout, pretty);
	json_obj_open(&j);
	for (attr = 1; attr <= VPNFLOW_A_COUNTERS_MAX; attr++)
		if (c->present & (1U << attr))
			json_kv_u64(&j, ctr_desc[attr].json, c->val[attr]);
	json_obj_close(&j);
	json_finish(&j);
}

static int ctr_show_exec(struct vs *vs)
{
	struct nlmsghdr *nlh;
	struct ctrs c;
	int rc;

	memset(&c, 0, sizeof(c));
	nlh = nl_genl_msg(&vs->nl, VPNFLOW_CMD_COUNTERS_GET,
			  VPNFLOW_FAMILY_VERSION, 0);
	rc = vs_talk(vs, nlh, ctr_get_cb, &c, "reading counters");
	if (rc)
		return rc;
	if (vs->json)
		ctr_print_json(&c, vs->pretty);
	else
		ctr_print_text(&c);
	return 0;
}

int do_show_counters(struct vs *vs, int argc, char **argv)
{
	vs->exec = ctr_show_exec;
	return kw_end(vs, argc, argv);
}

/* The flows and flows-held gauges are not reset: they count what is. */
static int ctr_clear_exec(struct vs *vs)
{
	struct nlmsghdr *nlh;

	nlh = nl_genl_msg(&vs->nl, VPNFLOW_CMD_COUNTERS_CLEAR,
			  VPNFLOW_FAMILY_VERSION, 0);
	return vs_talk(vs, nlh, NULL, NULL, "clearing counters");
}

int do_clear_counters(struct vs *vs, int argc, char **argv)
{
	vs->exec = ctr_clear_exec;
	return kw_end(vs, argc, argv);
}
