/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnsysopt: generic netlink over libmnl.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef VPNSYSOPT_NL_H
#define VPNSYSOPT_NL_H

#include <stdbool.h>
#include <stdint.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#define NL_MAX_MCGRPS	8

/* What the last nl_talk() got back besides data. */
struct nl_err {
	int err;		/* positive errno, 0 on success */
	bool kernel;		/* err came from the kernel, not a syscall */
	char msg[256];		/* extack message ("" if none); a warning if !err */
	uint32_t offs;		/* extack: offset of the bad attribute, 0 if none */
	bool intr;		/* a dump was interrupted (NLM_F_DUMP_INTR) */
};

struct nl_mcgrp {
	char name[GENL_NAMSIZ];
	uint32_t id;
};

/* A generic netlink family, as CTRL_CMD_GETFAMILY describes it. */
struct nl_family {
	uint16_t id;
	uint32_t version;
	uint32_t maxattr;
	unsigned int n_ops;
	uint32_t ops[256 / 32];		/* bitmap of the commands it has */
	unsigned int n_mcgrps;
	struct nl_mcgrp mcgrps[NL_MAX_MCGRPS];
};

struct nl {
	struct mnl_socket *sk;
	unsigned int portid;
	unsigned int seq;
	char *tx;			/* the request being built or last sent */
	char *rx;
	struct nl_family fam;
	struct nl_err err;
};

int nl_open(struct nl *nl);
void nl_close(struct nl *nl);

int nl_family_get(struct nl *nl, const char *name);
bool nl_family_has_op(const struct nl *nl, uint8_t cmd);
int nl_family_mcgrp(const struct nl *nl, const char *name);

struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint8_t cmd,
			uint8_t version, uint16_t flags);
struct nlmsghdr *nl_genl_msg(struct nl *nl, uint8_t cmd, uint8_t version,
			     uint16_t flags);
int nl_talk(struct nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data);
const struct nlattr *nl_err_attr(const struct nl *nl,
				 const struct nlmsghdr *req);

#endif /* VPNSYSOPT_NL_H */
