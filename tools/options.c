// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: the options of a network namespace.
 *
 *   [no] connection preserve-vpn-flows
 *   [no] connection preserve-vpn-flows fast-resume
 *   [no] connection reclassify-vpn
 *   [no] connection label-vpn-flows
 *   connection tcpmss N | no connection tcpmss
 *   connection tcpmss minimum N | no connection tcpmss minimum
 *   [no] connection tcpmss auto
 *   timeout preserve-vpn-flows H:MM:SS|SECONDS | no timeout preserve-vpn-flows
 *   crypto ipsec df-bit clear-df|copy-df|set-df | no crypto ipsec df-bit
 *   crypto ipsec fragmentation before-encryption|after-encryption |
 *     no crypto ipsec fragmentation
 *   connection tcp-state-bypass mark MARK[/MASK] | no connection tcp-state-bypass mark
 *   show running-config [all]
 *
 * One table describes every option: its attribute, its words in the
 * running configuration, its JSON key and its default.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "kw.h"
#include "vpnsysopt.h"

enum opt_kind {
	OPT_BOOL,	/* u8 0/1: "[no] sysopt connection X" */
	OPT_MSS,	/* u32 0 or 48-65535: "sysopt connection X N" */
	OPT_TIMEOUT,	/* u32 seconds: "timeout X H:MM:SS" */
	OPT_WORD,	/* u8 enum, one word each: "crypto ipsec df-bit WORD" */
	OPT_BYPASS,	/* u32 mark, with the mask below: one line */
	OPT_BYPASS_MASK, /* u32, 0: off; printed with the mark */
};

struct opt_desc {
	const char *words;	/* in the running configuration */
	const char *json;
	enum opt_kind kind;
	uint32_t def;		/* the ASA's default */
};

/* The ASA's words for enum vpnflow_df_bit and enum vpnflow_fragmentation. */
static const char *const df_bit_names[] = {
	[VPNFLOW_DF_BIT_COPY_DF]	= "copy-df",
	[VPNFLOW_DF_BIT_CLEAR_DF]	= "clear-df",
	[VPNFLOW_DF_BIT_SET_DF]		= "set-df",
};

static const char *const fragmentation_names[] = {
	[VPNFLOW_FRAGMENTATION_AFTER_ENCRYPTION]	= "after-encryption",
	[VPNFLOW_FRAGMENTATION_BEFORE_ENCRYPTION]	= "before-encryption",
};

static const struct opt_desc opt_desc[VPNFLOW_A_OPTIONS_MAX + 1] = {
	[VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS] = {
		"sysopt connection preserve-vpn-flows",
		"preserve_vpn_flows", OPT_BOOL, 0,
	},
	[VPNFLOW_A_OPTIONS_RECLASSIFY_VPN] = {
		"sysopt connection reclassify-vpn",
		"reclassify_vpn", OPT_BOOL, 1,
	},
	[VPNFLOW_A_OPTIONS_TCPMSS] = {
		"sysopt connection tcpmss",
		"tcpmss", OPT_MSS, 1380,
	},
	[VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM] = {
		"sysopt connection tcpmss minimum",
		"tcpmss_minimum", OPT_MSS, 0,
	},
	[VPNFLOW_A_OPTIONS_TCPMSS_AUTO] = {
		"sysopt connection tcpmss auto",
		"tcpmss_auto", OPT_BOOL, 0,
	},
	[VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT] = {
		"timeout preserve-vpn-flows",
		"preserve_timeout", OPT_TIMEOUT, 3600,
	},
	[VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY] = {
		"sysopt connection tcpmss tunneled-only",
		"tcpmss_tunneled_only", OPT_BOOL, 0,
	},
	[VPNFLOW_A_OPTIONS_FAST_RESUME] = {
		"sysopt connection preserve-vpn-flows fast-resume",
		"fast_resume", OPT_BOOL, 0,
	},
	[VPNFLOW_A_OPTIONS_DF_BIT] = {
		"crypto ipsec df-bit",
		"df_bit", OPT_WORD, VPNFLOW_DF_BIT_COPY_DF,
	},
	[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK] = {
		"sysopt connection tcp-state-bypass mark",
		"tcp_state_bypass_mark", OPT_BYPASS, 0,
	},
	[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK] = {
		"sysopt connection tcp-state-bypass mark",
		"tcp_state_bypass_mask", OPT_BYPASS_MASK, 0,
	},
	[VPNFLOW_A_OPTIONS_FRAGMENTATION] = {
		"crypto ipsec fragmentation",
		"fragmentation", OPT_WORD, VPNFLOW_FRAGMENTATION_AFTER_ENCRYPTION,
	},
	[VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS] = {
		"sysopt connection label-vpn-flows",
		"label_vpn_flows", OPT_BOOL, 0,
	},
};

/* @attr's word for @v, or its number (from a newer module) in @buf. */
static const char *opt_word(char *buf, size_t sz, int attr, uint32_t v)
{
	const char *const *names = df_bit_names;
	size_t n = ARRAY_SIZE(df_bit_names);

	if (attr == VPNFLOW_A_OPTIONS_FRAGMENTATION) {
		names = fragmentation_names;
		n = ARRAY_SIZE(fragmentation_names);
	}
	if (v < n)
		return names[v];
	snprintf(buf, sz, "%u", v);
	return buf;
}

/* u8 on the wire, u32 in struct vs_opts. */
static bool opt_is_u8(int attr)
{
	return opt_desc[attr].kind == OPT_BOOL || opt_desc[attr].kind == OPT_WORD;
}

/* "show running-config" order: the ASA's, then the Linux-only options. */
static const int opt_order[] = {
	VPNFLOW_A_OPTIONS_TCPMSS,
	VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM,
	VPNFLOW_A_OPTIONS_RECLASSIFY_VPN,
	VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS,
	VPNFLOW_A_OPTIONS_FAST_RESUME,
	VPNFLOW_A_OPTIONS_TCPMSS_AUTO,
	VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY,
	VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT,
	VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS,
	VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK,
	VPNFLOW_A_OPTIONS_DF_BIT,
	VPNFLOW_A_OPTIONS_FRAGMENTATION,
};

#define MSS_RANGE	"0 (off) or 48-65535"
#define MSS_ALT		"a number (0 or 48-65535)"
#define MSS_HELP	"{0 | 48-65535}"
#define TIMEOUT_RANGE	"0:00:01-596:31:23 (1-2147483 seconds)"
#define TIMEOUT_ALT	"H:MM:SS or SECONDS, " TIMEOUT_RANGE
#define TIMEOUT_HELP	"{H:MM:SS | SECONDS}"
#define DF_BIT_HELP	"{clear-df | copy-df | set-df} [IFNAME]"
#define FRAG_HELP	"{before-encryption | after-encryption} [IFNAME]"
#define MARK_HELP	"MARK[/MASK]"
#define MARK_ALT	"MARK[/MASK], numbers (0x for hex), MARK not 0 and inside MASK"

static bool opt_known(int attr)
{
	return attr > 0 && attr <= VPNFLOW_A_OPTIONS_MAX && opt_desc[attr].json;
}

/* Parsing */

/* A later line of a file overrides an earlier one. */
static int opt_set(struct vs *vs, int attr, uint32_t val)
{
	vs->set.present |= 1U << attr;
	vs->set.val[attr] = val;
	vs->set_line[attr] = vs->line;
	vs->exec = vs_opts_apply;
	return 0;
}

static bool is_value(const char *s)
{
	return (*s >= '0' && *s <= '9') || *s == '-' || *s == '+';
}

static int parse_mss(struct vs *vs, char **at, const char *what,
		     uint32_t *mss)
{
	const char *s = *at;
	int err;

	err = vs_parse_u32(s, s + strlen(s), mss);
	if (err == -EINVAL)
		return kw_error(vs, at, "%s \"%s\" is not a number; expected %s",
				what, s, MSS_ALT);
	if (err || (*mss && *mss < VPNFLOW_TCPMSS_MIN) ||
	    *mss > VPNFLOW_TCPMSS_MAX)
		return kw_error(vs, at, "%s %s is out of range: must be %s",
				what, s, MSS_RANGE);
	return 0;
}

/* SECONDS or H:MM:SS, as the ASA writes its timeouts. */
static int parse_hms(const char *s, uint32_t *secs)
{
	const char *c1 = strchr(s, ':'), *c2;
	uint32_t h, m, sec;
	uint64_t total;
	int err;

	if (!c1)
		return vs_parse_u32(s, s + strlen(s), secs);
	c2 = strchr(c1 + 1, ':');
	if (!c2 || strchr(c2 + 1, ':') || c2 - c1 > 3 || strlen(c2 + 1) > 2)
		return -EINVAL;
	if (vs_parse_u32(c1 + 1, c2, &m) || m > 59 ||
	    vs_parse_u32(c2 + 1, c2 + strlen(c2), &sec) || sec > 59)
		return -EINVAL;
	err = vs_parse_u32(s, c1, &h);
	if (err)
		return err;
	total = (uint64_t)h * 3600 + m * 60 + sec;
	if (total > UINT32_MAX)
		return -ERANGE;
	*secs = total;
	return 0;
}

static int parse_timeout(struct vs *vs, char **at, uint32_t *secs)
{
	int err = parse_hms(*at, secs);

	if (err == -EINVAL)
		return kw_error(vs, at, "invalid preserve-vpn-flows timeout \"%s\"; expected %s",
				*at, TIMEOUT_ALT);
	if (err || *secs < 1 || *secs > VPNFLOW_PRESERVE_TIMEOUT_MAX)
		return kw_error(vs, at, "preserve-vpn-flows timeout %s is out of range: must be %s",
				*at, TIMEOUT_RANGE);
	return 0;
}

static int opt_flag(struct vs *vs, int argc, char **argv, int attr)
{
	int rc = kw_end(vs, argc, argv);

	return rc ? rc : opt_set(vs, attr, !vs->no);
}

/* "[no] ... tcpmss [minimum] N": "no" sets 0 and ignores a valid N. */
static int opt_mss(struct vs *vs, int argc, char **argv, int attr)
{
	const char *what = attr == VPNFLOW_A_OPTIONS_TCPMSS ?
			   "tcpmss" : "tcpmss minimum";
	uint32_t mss;
	int rc;

	if (!argc && vs->no)
		return opt_set(vs, attr, 0);
	if (!argc)
		return kw_error(vs, argv, "incomplete command; expected %s",
				MSS_ALT);
	rc = parse_mss(vs, argv, what, &mss);
	if (!rc)
		rc = kw_end(vs, argc - 1, argv + 1);
	return rc ? rc : opt_set(vs, attr, vs->no ? 0 : mss);
}

/* A u32 in decimal, or in hex after 0x. */
static int parse_u32_any(const char *s, const char *end, uint32_t *v)
{
	uint64_t n = 0;
	int d;

	if (end - s <= 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return vs_parse_u32(s, end, v);
	for (s += 2; s < end; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (*s | 0x20) - 'a' + 10;
		else
			return -EINVAL;
		n = n * 16 + d;
		if (n > UINT32_MAX)
			return -ERANGE;
	}
	*v = n;
	return 0;
}

/* "MARK[/MASK]": the mask is all ones when not given. */
static int parse_mark(struct vs *vs, char **at, uint32_t *mark, uint32_t *mask)
{
	const char *s = *at, *slash = strchr(s, '/');
	const char *end = slash ? slash : s + strlen(s);

	*mask = UINT32_MAX;
	if (parse_u32_any(s, end, mark) ||
	    (slash && parse_u32_any(slash + 1, slash + strlen(slash), mask)))
		return kw_error(vs, at, "invalid tcp-state-bypass mark \"%s\"; expected %s",
				s, MARK_ALT);
	if (!*mask)
		return kw_error(vs, at, "tcp-state-bypass mask 0 matches every packet; to turn it off: no sysopt connection tcp-state-bypass mark");
	if (*mark & ~*mask)
		return kw_error(vs, at, "tcp-state-bypass mark %s has bits outside its mask", s);
	if (!*mark)
		return kw_error(vs, at, "tcp-state-bypass mark %s would match unmarked packets", s);
	return 0;
}

/* "[no] ... tcp-state-bypass mark [MARK[/MASK]]": "no" turns it off. */
static int do_bypass_mark(struct vs *vs, int argc, char **argv)
{
	uint32_t mark, mask;
	int rc;

	if (!argc && vs->no)
		goto off;
	if (!argc)
		return kw_error(vs, argv, "incomplete command; expected %s", MARK_ALT);
	rc = parse_mark(vs, argv, &mark, &mask);
	if (!rc)
		rc = kw_end(vs, argc - 1, argv + 1);
	if (rc)
		return rc;
	if (vs->no)
		goto off;
	opt_set(vs, VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK, mark);
	return opt_set(vs, VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK, mask);
off:
	opt_set(vs, VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK, 0);
	return opt_set(vs, VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK, 0);
}

static const struct kw bypass_kw[] = {
	{ .name = "mark", .fn = do_bypass_mark, .flags = KW_NO, .arg = MARK_HELP },
	KW_END
};

static int do_fast_resume(struct vs *vs, int argc, char **argv)
{
	return opt_flag(vs, argc, argv, VPNFLOW_A_OPTIONS_FAST_RESUME);
}

static const struct kw preserve_kw[] = {
	{ .name = "fast-resume", .fn = do_fast_resume, .flags = KW_NO },
	KW_END
};

/* "[no] ... preserve-vpn-flows [fast-resume]" */
static int do_preserve(struct vs *vs, int argc, char **argv)
{
	if (argc)
		return kw_dispatch(vs, preserve_kw, argc, argv, NULL);
	return opt_flag(vs, argc, argv, VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS);
}

static int do_reclassify(struct vs *vs, int argc, char **argv)
{
	return opt_flag(vs, argc, argv, VPNFLOW_A_OPTIONS_RECLASSIFY_VPN);
}

static int do_label(struct vs *vs, int argc, char **argv)
{
	return opt_flag(vs, argc, argv, VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS);
}

static int do_tcpmss_auto(struct vs *vs, int argc, char **argv)
{
	return opt_flag(vs, argc, argv, VPNFLOW_A_OPTIONS_TCPMSS_AUTO);
}

static int do_tcpmss_tunneled(struct vs *vs, int argc, char **argv)
{
	return opt_flag(vs, argc, argv, VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY);
}

static int do_tcpmss_minimum(struct vs *vs, int argc, char **argv)
{
	return opt_mss(vs, argc, argv, VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM);
}

static const struct kw tcpmss_kw[] = {
	{ .name = "minimum", .fn = do_tcpmss_minimum,
	  .flags = KW_NO, .arg = MSS_HELP },
	{ .name = "auto", .fn = do_tcpmss_auto, .flags = KW_NO },
	{ .name = "tunneled-only", .fn = do_tcpmss_tunneled, .flags = KW_NO },
	KW_END
};

static int do_tcpmss(struct vs *vs, int argc, char **argv)
{
	if ((!argc && vs->no) || (argc && is_value(argv[0])))
		return opt_mss(vs, argc, argv, VPNFLOW_A_OPTIONS_TCPMSS);
	return kw_dispatch(vs, tcpmss_kw, argc, argv, MSS_ALT);
}

/* "tcpmss" takes a value or one of tcpmss_kw's words (do_tcpmss()). */
const struct kw connection_kw[] = {
	{ .name = "preserve-vpn-flows", .fn = do_preserve,
	  .flags = KW_NO, .sub = preserve_kw },
	{ .name = "reclassify-vpn", .fn = do_reclassify, .flags = KW_NO },
	{ .name = "label-vpn-flows", .fn = do_label, .flags = KW_NO },
	{ .name = "tcpmss", .fn = do_tcpmss,
	  .flags = KW_NO, .sub = tcpmss_kw, .arg = MSS_HELP },
	{ .name = "tcp-state-bypass", .flags = KW_NO, .sub = bypass_kw },
	KW_END
};

/* "no timeout preserve-vpn-flows [T]" restores the default. */
static int do_timeout_preserve(struct vs *vs, int argc, char **argv)
{
	const int attr = VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT;
	uint32_t secs;
	int rc;

	if (!argc && vs->no)
		return opt_set(vs, attr, opt_desc[attr].def);
	if (!argc)
		return kw_error(vs, argv, "incomplete command; expected %s",
				TIMEOUT_ALT);
	rc = parse_timeout(vs, argv, &secs);
	if (!rc)
		rc = kw_end(vs, argc - 1, argv + 1);
	return rc ? rc : opt_set(vs, attr, vs->no ? opt_desc[attr].def : secs);
}

const struct kw timeout_kw[] = {
	{ .name = "preserve-vpn-flows", .fn = do_timeout_preserve,
	  .flags = KW_NO, .arg = TIMEOUT_HELP },
	KW_END
};

/*
 * "crypto ipsec df-bit|fragmentation WORD IFNAME": an edit of IFNAME's own
 * setting (the ASA's outside interface); with "no", IFNAME follows the
 * namespace again. @attr: VPNFLOW_A_OPTIONS_DF_BIT or _FRAGMENTATION.
 */
static int if_edit(struct vs *vs, char **at, int attr, int v)
{
	const char *name = *at;
	struct vs_if *e = NULL;
	unsigned int i;

	/* As the kernel's dev_valid_name(), and no "#": a file reads it as a comment. */
	if (!*name || strlen(name) >= sizeof(e->name) || strpbrk(name, "/:# \t\n\v\f\r") ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return kw_error(vs, at, "invalid interface name \"%s\"; expected 1-15 characters, none of \"/\", \":\", \"#\" or white space",
				name);
	for (i = 0; i < vs->set.nif; i++)
		if (!strcmp(vs->set.ifs[i].name, name))
			e = &vs->set.ifs[i];
	if (!e) {
		if (vs->set.nif == VS_IF_MAX)
			return kw_error(vs, at, "more than %d interfaces", VS_IF_MAX);
		e = &vs->set.ifs[vs->set.nif++];
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->df_bit = VS_IF_NONE;
		e->fragmentation = VS_IF_NONE;
	}
	if (attr == VPNFLOW_A_OPTIONS_DF_BIT)
		e->df_bit = vs->no ? VS_IF_REMOVE : v;
	else
		e->fragmentation = vs->no ? VS_IF_REMOVE : v;
	e->line = vs->line;
	vs->exec = vs_opts_apply;
	return 0;
}

static int do_df_bit_set(struct vs *vs, int argc, char **argv, uint32_t v)
{
	int rc;

	if (argc >= 1) {
		rc = kw_end(vs, argc - 1, argv + 1);
		return rc ? rc : if_edit(vs, argv, VPNFLOW_A_OPTIONS_DF_BIT, v);
	}
	return opt_set(vs, VPNFLOW_A_OPTIONS_DF_BIT, vs->no ? VPNFLOW_DF_BIT_COPY_DF : v);
}

static int do_clear_df(struct vs *vs, int argc, char **argv)
{
	return do_df_bit_set(vs, argc, argv, VPNFLOW_DF_BIT_CLEAR_DF);
}

static int do_copy_df(struct vs *vs, int argc, char **argv)
{
	return do_df_bit_set(vs, argc, argv, VPNFLOW_DF_BIT_COPY_DF);
}

static int do_set_df(struct vs *vs, int argc, char **argv)
{
	return do_df_bit_set(vs, argc, argv, VPNFLOW_DF_BIT_SET_DF);
}

static const struct kw df_bit_kw[] = {
	{ .name = "clear-df", .fn = do_clear_df, .flags = KW_NO },
	{ .name = "copy-df", .fn = do_copy_df, .flags = KW_NO },
	{ .name = "set-df", .fn = do_set_df, .flags = KW_NO },
	KW_END
};

/* "crypto ipsec df-bit WORD"; "no crypto ipsec df-bit [WORD]": copy-df. */
static int do_df_bit(struct vs *vs, int argc, char **argv)
{
	if (!argc && vs->no)
		return opt_set(vs, VPNFLOW_A_OPTIONS_DF_BIT, VPNFLOW_DF_BIT_COPY_DF);
	return kw_dispatch(vs, df_bit_kw, argc, argv, NULL);
}

static int do_frag_set(struct vs *vs, int argc, char **argv, uint32_t v)
{
	int rc;

	if (argc >= 1) {
		rc = kw_end(vs, argc - 1, argv + 1);
		return rc ? rc : if_edit(vs, argv, VPNFLOW_A_OPTIONS_FRAGMENTATION, v);
	}
	return opt_set(vs, VPNFLOW_A_OPTIONS_FRAGMENTATION,
		       vs->no ? VPNFLOW_FRAGMENTATION_AFTER_ENCRYPTION : v);
}

static int do_before_encryption(struct vs *vs, int argc, char **argv)
{
	return do_frag_set(vs, argc, argv, VPNFLOW_FRAGMENTATION_BEFORE_ENCRYPTION);
}

static int do_after_encryption(struct vs *vs, int argc, char **argv)
{
	return do_frag_set(vs, argc, argv, VPNFLOW_FRAGMENTATION_AFTER_ENCRYPTION);
}

static const struct kw frag_kw[] = {
	{ .name = "before-encryption", .fn = do_before_encryption, .flags = KW_NO },
	{ .name = "after-encryption", .fn = do_after_encryption, .flags = KW_NO },
	KW_END
};

/*
 * "crypto ipsec fragmentation WORD"; "no crypto ipsec fragmentation
 * [WORD]": after-encryption.
 */
static int do_fragmentation(struct vs *vs, int argc, char **argv)
{
	if (!argc && vs->no)
		return opt_set(vs, VPNFLOW_A_OPTIONS_FRAGMENTATION,
			       VPNFLOW_FRAGMENTATION_AFTER_ENCRYPTION);
	return kw_dispatch(vs, frag_kw, argc, argv, NULL);
}

static const struct kw ipsec_kw[] = {
	{ .name = "df-bit", .fn = do_df_bit, .flags = KW_NO, .arg = DF_BIT_HELP },
	{ .name = "fragmentation", .fn = do_fragmentation, .flags = KW_NO, .arg = FRAG_HELP },
	KW_END
};

const struct kw crypto_kw[] = {
	{ .name = "ipsec", .flags = KW_NO, .sub = ipsec_kw },
	KW_END
};

/* Netlink */

/* The option the kernel's extack points at, or 0. */
static int opt_bad_attr(const struct nl *nl, const struct nlmsghdr *req,
			const struct nlattr *nest)
{
	const struct nlattr *bad = nl_err_attr(nl, req), *a;

	if (!bad)
		return 0;
	mnl_attr_for_each_nested(a, nest)
		if (a == bad && opt_known(mnl_attr_get_type(a)))
			return mnl_attr_get_type(a);
	return 0;
}

/*
 * Send the options in vs->set in one request: the kernel checks them all,
 * against each other and the options they do not change, and applies all
 * of them or none. Nothing to set (a file of comments) sends nothing.
 */
/*
 * @vs's interface edits over the module's table, into @t. The whole table
 * goes in the request: options-set replaces it.
 */
static int if_merge(struct vs *vs, struct vs_opts *t)
{
	const struct vs_if *ed;
	struct vs_if *e;
	unsigned int i, j, n;
	int rc;

	rc = vs_opts_get(vs, t);
	if (rc)
		return rc;
	for (i = 0; i < vs->set.nif; i++) {
		ed = &vs->set.ifs[i];
		e = NULL;
		for (j = 0; j < t->nif; j++)
			if (!strcmp(t->ifs[j].name, ed->name))
				e = &t->ifs[j];
		if (!e) {
			if (t->nif == VS_IF_MAX) {
				fprintf(stderr, PROG ": more than %d interfaces with their own settings\n",
					VS_IF_MAX);
				return VS_EXIT_USAGE;
			}
			e = &t->ifs[t->nif++];
			*e = *ed;
			e->df_bit = VS_IF_NONE;
			e->fragmentation = VS_IF_NONE;
		}
		if (ed->df_bit != VS_IF_NONE)
			e->df_bit = ed->df_bit == VS_IF_REMOVE ? VS_IF_NONE : ed->df_bit;
		if (ed->fragmentation != VS_IF_NONE)
			e->fragmentation = ed->fragmentation == VS_IF_REMOVE ? VS_IF_NONE :
									    ed->fragmentation;
	}
	/* An interface that follows the namespace in both has no entry. */
	for (i = n = 0; i < t->nif; i++)
		if (t->ifs[i].df_bit != VS_IF_NONE || t->ifs[i].fragmentation != VS_IF_NONE)
			t->ifs[n++] = t->ifs[i];
	t->nif = n;
	return 0;
}

static void if_put(struct nlmsghdr *nlh, const struct vs_opts *t)
{
	struct nlattr *nest, *entry;
	unsigned int i;

	nest = mnl_attr_nest_start(nlh, VPNFLOW_A_OPTIONS_IF_OPTIONS);
	for (i = 0; i < t->nif; i++) {
		entry = mnl_attr_nest_start(nlh, VPNFLOW_A_IF_OPTIONS_ENTRY);
		mnl_attr_put_strz(nlh, VPNFLOW_A_IF_OPTION_NAME, t->ifs[i].name);
		if (t->ifs[i].df_bit >= 0)
			mnl_attr_put_u8(nlh, VPNFLOW_A_IF_OPTION_DF_BIT, t->ifs[i].df_bit);
		if (t->ifs[i].fragmentation >= 0)
			mnl_attr_put_u8(nlh, VPNFLOW_A_IF_OPTION_FRAGMENTATION,
					t->ifs[i].fragmentation);
		mnl_attr_nest_end(nlh, entry);
	}
	mnl_attr_nest_end(nlh, nest);
}

int vs_opts_apply(struct vs *vs)
{
	const struct vs_opts *o = &vs->set;
	struct vs_opts table;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int attr, bad, rc;

	if (!o->present && !o->nif)
		return 0;
	if (o->nif) {
		rc = if_merge(vs, &table);
		if (rc)
			return rc;
	}

	nlh = nl_genl_msg(&vs->nl, VPNFLOW_CMD_OPTIONS_SET,
			  VPNFLOW_FAMILY_VERSION, 0);
	nest = mnl_attr_nest_start(nlh, VPNFLOW_A_OPTIONS);
	for (attr = 1; attr <= VPNFLOW_A_OPTIONS_MAX; attr++) {
		if (!(o->present & (1U << attr)))
			continue;
		if (opt_is_u8(attr))
			mnl_attr_put_u8(nlh, attr, o->val[attr]);
		else
			mnl_attr_put_u32(nlh, attr, o->val[attr]);
	}
	if (o->nif)
		if_put(nlh, &table);
	mnl_attr_nest_end(nlh, nest);

	rc = vs_talk(vs, nlh, NULL, NULL, "changing options");
	bad = rc == VS_EXIT_KERNEL ? opt_bad_attr(&vs->nl, nlh, nest) : 0;
	if (bad && vs->set_line[bad])
		fprintf(stderr, "%s:%u: the kernel rejected \"%s\"\n",
			vs->file_name, vs->set_line[bad], opt_desc[bad].words);
	else if (bad)
		fprintf(stderr, PROG ": the kernel rejected \"%s\"\n",
			opt_desc[bad].words);
	if (vs->file && (rc == VS_EXIT_KERNEL || rc == VS_EXIT_PERM))
		fprintf(stderr, PROG ": %s: nothing applied\n", vs->file_name);
	return rc;
}

/* One VPNFLOW_A_IF_OPTIONS_ENTRY's attributes. */
static int if_attr_cb(const struct nlattr *a, void *data)
{
	struct vs_if *e = data;

	switch (mnl_attr_get_type(a)) {
	case VPNFLOW_A_IF_OPTION_NAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		snprintf(e->name, sizeof(e->name), "%s", mnl_attr_get_str(a));
		break;
	case VPNFLOW_A_IF_OPTION_DF_BIT:
	case VPNFLOW_A_IF_OPTION_FRAGMENTATION:
		if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
			return MNL_CB_ERROR;
		if (mnl_attr_get_type(a) == VPNFLOW_A_IF_OPTION_DF_BIT)
			e->df_bit = mnl_attr_get_u8(a);
		else
			e->fragmentation = mnl_attr_get_u8(a);
		break;
	}
	return MNL_CB_OK;
}

static int if_entry_cb(const struct nlattr *a, void *data)
{
	struct vs_opts *o = data;
	struct vs_if *e;

	if (mnl_attr_get_type(a) != VPNFLOW_A_IF_OPTIONS_ENTRY || o->nif == VS_IF_MAX)
		return MNL_CB_OK;
	e = &o->ifs[o->nif];
	memset(e, 0, sizeof(*e));
	e->df_bit = VS_IF_NONE;
	e->fragmentation = VS_IF_NONE;
	if (mnl_attr_parse_nested(a, if_attr_cb, e) < 0)
		return MNL_CB_ERROR;
	if (e->name[0])
		o->nif++;
	return MNL_CB_OK;
}

static int opt_attr_cb(const struct nlattr *a, void *data)
{
	struct vs_opts *o = data;
	int attr = mnl_attr_get_type(a);
	enum mnl_attr_data_type type;

	if (attr == VPNFLOW_A_OPTIONS_IF_OPTIONS)
		return mnl_attr_parse_nested(a, if_entry_cb, o) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
	if (!opt_known(attr))	/* from a newer module */
		return MNL_CB_OK;
	type = opt_is_u8(attr) ? MNL_TYPE_U8 : MNL_TYPE_U32;
	if (mnl_attr_validate(a, type) < 0)
		return MNL_CB_ERROR;
	o->val[attr] = type == MNL_TYPE_U8 ? mnl_attr_get_u8(a) :
					     mnl_attr_get_u32(a);
	o->present |= 1U << attr;
	return MNL_CB_OK;
}

static int opt_get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) != VPNFLOW_A_OPTIONS)
			continue;
		if (mnl_attr_parse_nested(a, opt_attr_cb, data) < 0) {
			errno = EPROTO;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_OK;
}

int vs_opts_get(struct vs *vs, struct vs_opts *o)
{
	struct nlmsghdr *nlh;

	memset(o, 0, sizeof(*o));
	nlh = nl_genl_msg(&vs->nl, VPNFLOW_CMD_OPTIONS_GET,
			  VPNFLOW_FAMILY_VERSION, 0);
	return vs_talk(vs, nlh, opt_get_cb, o, "reading options");
}

/* Output */

static void opt_print_line(FILE *f, const struct vs_opts *o, int attr)
{
	const uint32_t mask = o->val[VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK];
	const struct opt_desc *d = &opt_desc[attr];
	char hms[VS_HMS_LEN], num[12];
	uint32_t val = o->val[attr];

	switch (d->kind) {
	case OPT_BOOL:
		fprintf(f, "%s%s\n", val ? "" : "no ", d->words);
		break;
	case OPT_MSS:
		fprintf(f, "%s %u\n", d->words, val);
		break;
	case OPT_TIMEOUT:
		fprintf(f, "%s %s\n", d->words,
			vs_hms(hms, sizeof(hms), val));
		break;
	case OPT_WORD:
		fprintf(f, "%s %s\n", d->words, opt_word(num, sizeof(num), attr, val));
		break;
	case OPT_BYPASS:
		if (mask)
			fprintf(f, "%s 0x%x/0x%x\n", d->words, val, mask);
		else
			fprintf(f, "no %s\n", d->words);
		break;
	case OPT_BYPASS_MASK:
		break;
	}
}

/* Does @attr differ from its default in @o? The bypass mark goes by its mask. */
static bool opt_changed(const struct vs_opts *o, int attr)
{
	if (opt_desc[attr].kind == OPT_BYPASS)
		attr = VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK;
	return o->val[attr] != opt_desc[attr].def;
}

/*
 * The options of @o as "show running-config [all]" prints them: every
 * option with @all, else those that differ from the default. A valid -f
 * file.
 */
void vs_opts_print(FILE *f, const struct vs_opts *o, bool all)
{
	unsigned int i;
	int attr;

	for (i = 0; i < ARRAY_SIZE(opt_order); i++) {
		attr = opt_order[i];
		if (!(o->present & (1U << attr)))
			continue;
		if (all || opt_changed(o, attr))
			opt_print_line(f, o, attr);
	}
	/* Then each interface's own settings (an edit's "no" too). */
	for (i = 0; i < o->nif; i++) {
		const struct vs_if *e = &o->ifs[i];
		char num[12];

		if (e->df_bit >= 0)
			fprintf(f, "crypto ipsec df-bit %s %s\n",
				opt_word(num, sizeof(num), VPNFLOW_A_OPTIONS_DF_BIT, e->df_bit),
				e->name);
		else if (e->df_bit == VS_IF_REMOVE)
			fprintf(f, "no crypto ipsec df-bit copy-df %s\n", e->name);
		if (e->fragmentation >= 0)
			fprintf(f, "crypto ipsec fragmentation %s %s\n",
				opt_word(num, sizeof(num), VPNFLOW_A_OPTIONS_FRAGMENTATION,
					 e->fragmentation), e->name);
		else if (e->fragmentation == VS_IF_REMOVE)
			fprintf(f, "no crypto ipsec fragmentation after-encryption %s\n", e->name);
	}
}

/* JSON has every option the kernel reported, "all" or not. */
static void opt_print_json(const struct vs_opts *o, bool pretty)
{
	struct json j;
	char num[12];
	int attr;

	json_init(&j, stdout, pretty);
	json_obj_open(&j);
	for (attr = 1; attr <= VPNFLOW_A_OPTIONS_MAX; attr++) {
		if (!(o->present & (1U << attr)))
			continue;
		if (opt_desc[attr].kind == OPT_BOOL)
			json_kv_bool(&j, opt_desc[attr].json, o->val[attr]);
		else if (opt_desc[attr].kind == OPT_WORD)
			json_kv_str(&j, opt_desc[attr].json,
				    opt_word(num, sizeof(num), attr, o->val[attr]));
		else
			json_kv_u64(&j, opt_desc[attr].json, o->val[attr]);
	}
	/* Each interface's own settings; a member left out follows the namespace. */
	json_key(&j, "interfaces");
	json_arr_open(&j);
	for (attr = 0; attr < (int)o->nif; attr++) {
		const struct vs_if *e = &o->ifs[attr];

		json_obj_open(&j);
		json_kv_str(&j, "name", e->name);
		if (e->df_bit >= 0)
			json_kv_str(&j, "df_bit", opt_word(num, sizeof(num),
							   VPNFLOW_A_OPTIONS_DF_BIT, e->df_bit));
		if (e->fragmentation >= 0)
			json_kv_str(&j, "fragmentation",
				    opt_word(num, sizeof(num), VPNFLOW_A_OPTIONS_FRAGMENTATION,
					     e->fragmentation));
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_close(&j);
	json_finish(&j);
}

static int opt_show_exec(struct vs *vs)
{
	struct vs_opts o;
	int rc;

	rc = vs_opts_get(vs, &o);
	if (rc)
		return rc;
	if (vs->json)
		opt_print_json(&o, vs->pretty);
	else
		vs_opts_print(stdout, &o, vs->show_all);
	return 0;
}

static int do_show_all(struct vs *vs, int argc, char **argv)
{
	vs->show_all = true;
	return kw_end(vs, argc, argv);
}

const struct kw running_config_kw[] = {
	{ .name = "all", .fn = do_show_all },
	KW_END
};

int do_show_running_config(struct vs *vs, int argc, char **argv)
{
	vs->exec = opt_show_exec;
	if (!argc)
		return 0;
	return kw_dispatch(vs, running_config_kw, argc, argv, NULL);
}
