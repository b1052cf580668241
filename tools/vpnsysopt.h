/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnsysopt: shared declarations.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef VPNSYSOPT_H
#define VPNSYSOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uapi/linux/vpnflow.h>

#include "kw.h"
#include "nl.h"

#define PROG	"vpnsysopt"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Exit codes; documented in vpnsysopt(8). */
enum {
	VS_EXIT_OK	= 0,
	VS_EXIT_USAGE	= 1,	/* bad option, keyword or value */
	VS_EXIT_KERNEL	= 2,	/* the kernel rejected the request */
	VS_EXIT_NOMOD	= 3,	/* family "vpnflow" not registered */
	VS_EXIT_PERM	= 4,	/* permission denied */
	VS_EXIT_SYS	= 5,	/* any other system error */
};

#define VS_IF_MAX	32	/* the module's limit of interface settings */
#define VS_IF_NONE	-1	/* the interface follows the namespace */
#define VS_IF_REMOVE	-2	/* an edit: back to VS_IF_NONE */

/* One interface's crypto ipsec settings (VPNFLOW_A_IF_OPTIONS_ENTRY). */
struct vs_if {
	char name[16];		/* IFNAMSIZ */
	int df_bit;		/* enum vpnflow_df_bit or VS_IF_* */
	int fragmentation;	/* enum vpnflow_fragmentation or VS_IF_* */
	unsigned int line;	/* -f: where last edited */
};

/*
 * A set of options, as in the VPNFLOW_A_OPTIONS nest. @ifs: what the
 * module has (read), or the commands' edits to it (to change).
 */
struct vs_opts {
	uint32_t present;	/* bit n: val[n] is set */
	uint32_t val[VPNFLOW_A_OPTIONS_MAX + 1];
	unsigned int nif;
	struct vs_if ifs[VS_IF_MAX];
};

_Static_assert(VPNFLOW_A_OPTIONS_MAX < 32, "vs_opts.present is too small");

struct vs;
typedef int (*vs_exec_t)(struct vs *vs);

struct vs {
	/* global options */
	const char *netns;
	bool json;
	bool pretty;

	/* the command's words, for pointing at a bad one */
	int argc;
	char **argv;

	/* -f FILE */
	const char *file;	/* as given; "-" is standard input */
	const char *file_name;	/* as messages name it */
	unsigned int line;	/* the line being parsed; 0: not in a file */

	/* set while parsing */
	bool no;		/* the command started with "no" */
	bool show_all;		/* show running-config all */
	bool detail;		/* show vpn-context detail */
	bool filter_tunnel;	/* show conn tunnel ID */
	uint32_t tunnel_id;
	int filter_state;	/* show conn active|preserved; -1: any */
	uint32_t count;		/* monitor count N; 0: forever */
	struct vs_opts set;	/* options to change */
	unsigned int set_line[VPNFLOW_A_OPTIONS_MAX + 1]; /* -f: where set */
	vs_exec_t exec;		/* what to run once netlink is up */

	struct nl nl;
};

/* vpnsysopt.c */
int vs_talk(struct vs *vs, struct nlmsghdr *req, mnl_cb_t cb, void *data,
	    const char *what);
void vs_usage(FILE *f);
int vs_parse(struct vs *vs, int argc, char **argv);
int vs_cmdline(struct vs *vs, int argc, char **argv);

/* file.c: -f FILE */
int vs_file_parse(struct vs *vs);
int vs_file_read(struct vs *vs, FILE *f);

/* options.c: connection, timeout, show running-config */
extern const struct kw connection_kw[], timeout_kw[], crypto_kw[], running_config_kw[];
int do_show_running_config(struct vs *vs, int argc, char **argv);
int vs_opts_get(struct vs *vs, struct vs_opts *o);
int vs_opts_apply(struct vs *vs);
void vs_opts_print(FILE *f, const struct vs_opts *o, bool all);

/* counters.c: show counters, clear counters */
int do_show_counters(struct vs *vs, int argc, char **argv);
int do_clear_counters(struct vs *vs, int argc, char **argv);

/* tunnels.c: show vpn-context, show asp table vpn-context */
extern const struct kw vpn_context_kw[];
int do_show_vpn_context(struct vs *vs, int argc, char **argv);

/* flows.c: show conn, monitor */
extern const struct kw conn_kw[], monitor_kw[];
int do_show_conn(struct vs *vs, int argc, char **argv);
int do_monitor(struct vs *vs, int argc, char **argv);

/* util.c */
#define VS_HMS_LEN	16	/* "1193046:28:15" */
#define VS_ADDR_LEN	46	/* INET6_ADDRSTRLEN */
#define VS_PROTO_LEN	4	/* "255" */

int vs_parse_u32(const char *s, const char *end, uint32_t *val);
const char *vs_hms(char *buf, size_t sz, uint32_t secs);
const char *vs_family_name(uint16_t family);
const char *vs_addr(char *buf, size_t sz, uint16_t family,
		    const struct nlattr *a);
const char *vs_proto_name(char *buf, size_t sz, uint8_t proto, bool json);
bool vs_proto_has_ports(uint8_t proto);
const char *vs_ifname(uint32_t index);
void vs_ifname_forget(void);
int vs_parse_nest(const struct nlattr *nest,
		  const enum mnl_attr_data_type *types, unsigned int max,
		  const struct nlattr **tb);
int vs_parse_msg(const struct nlmsghdr *nlh,
		 const enum mnl_attr_data_type *types, unsigned int max,
		 const struct nlattr **tb);
void *vs_grow(void *arr, size_t *cap, size_t n, size_t size);

#endif /* VPNSYSOPT_H */
