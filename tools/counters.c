// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: show counters.
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
};

/* In output order. Attributes not listed (the pad) are skipped. */
static const struct ctr_desc ctr_desc[VPNFLOW_A_COUNTERS_MAX + 1] = {
	[VPNFLOW_A_COUNTERS_SA_EVENTS]		= { "sa-events", "sa_events" },
	[VPNFLOW_A_COUNTERS_POLICY_EVENTS]	= { "policy-events", "policy_events" },
};

struct ctrs {
	uint32_t present;
	uint64_t val[VPNFLOW_A_COUNTERS_MAX + 1];
};

_Static_assert(VPNFLOW_A_COUNTERS_MAX < 32, "ctrs.present is too small");

static bool ctr_known(int attr)
{
	return attr > 0 && attr <= VPNFLOW_A_COUNTERS_MAX && ctr_desc[attr].name;
}

static int ctr_attr_cb(const struct nlattr *a, void *data)
{
	int attr = mnl_attr_get_type(a);
	struct ctrs *c = data;

	if (!ctr_known(attr))
		return MNL_CB_OK;
	if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
		return MNL_CB_ERROR;
	c->val[attr] = mnl_attr_get_u64(a);
	c->present |= 1U << attr;
	return MNL_CB_OK;
}

static int ctr_get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) != VPNFLOW_A_COUNTERS)
			continue;
		if (mnl_attr_parse_nested(a, ctr_attr_cb, data) < 0) {
			errno = EPROTO;
			return MNL_CB_ERROR;
		}
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
