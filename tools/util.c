// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: helpers shared by the commands: number parsing, H:MM:SS,
 * addresses, protocol and interface names, attribute tables, arrays.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnsysopt.h"

/* Decimal digits only; -ERANGE above UINT32_MAX, -EINVAL if not a number. */
int vs_parse_u32(const char *s, const char *end, uint32_t *val)
{
	uint64_t v = 0;

	if (s == end)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (*s - '0');
		if (v > UINT32_MAX)
			v = (uint64_t)UINT32_MAX + 1;
	}
	if (v > UINT32_MAX)
		return -ERANGE;
	*val = v;
	return 0;
}

/* Seconds as the ASA writes durations and timeouts: H:MM:SS. */
const char *vs_hms(char *buf, size_t sz, uint32_t secs)
{
	snprintf(buf, sz, "%u:%02u:%02u", secs / 3600, secs / 60 % 60,
		 secs % 60);
	return buf;
}

const char *vs_family_name(uint16_t family)
{
	switch (family) {
	case AF_INET:
		return "inet";
	case AF_INET6:
		return "inet6";
	}
	return "?";
}

/* A binary address attribute of @family in text; "?" if it does not fit. */
const char *vs_addr(char *buf, size_t sz, uint16_t family,
		    const struct nlattr *a)
{
	size_t len = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

	if (!a || !len || mnl_attr_get_payload_len(a) != len ||
	    !inet_ntop(family, mnl_attr_get_payload(a), buf, sz))
		snprintf(buf, sz, "?");
	return buf;
}

struct proto_name {
	uint8_t num;
	bool ports;
	const char *text;	/* as the ASA's show conn */
	const char *json;	/* as conntrack -L */
};

static const struct proto_name proto_names[] = {
	{ IPPROTO_TCP,		true,	"TCP",		"tcp" },
	{ IPPROTO_UDP,		true,	"UDP",		"udp" },
	{ IPPROTO_ICMP,		false,	"ICMP",		"icmp" },
	{ IPPROTO_ICMPV6,	false,	"ICMPv6",	"icmpv6" },
	{ IPPROTO_SCTP,		true,	"SCTP",		"sctp" },
	{ IPPROTO_DCCP,		true,	"DCCP",		"dccp" },
	{ IPPROTO_UDPLITE,	true,	"UDPLITE",	"udplite" },
	{ IPPROTO_GRE,		false,	"GRE",		"gre" },
	{ IPPROTO_ESP,		false,	"ESP",		"esp" },
	{ IPPROTO_AH,		false,	"AH",		"ah" },
};

static const struct proto_name *vs_proto(uint8_t proto)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(proto_names); i++)
		if (proto_names[i].num == proto)
			return &proto_names[i];
	return NULL;
}

/* "TCP" (@json: "tcp"); the number for protocols without a name here. */
const char *vs_proto_name(char *buf, size_t sz, uint8_t proto, bool json)
{
	const struct proto_name *p = vs_proto(proto);

	if (p)
		return json ? p->json : p->text;
	snprintf(buf, sz, "%u", proto);
	return buf;
}

/* Whether conntrack's sport/dport of @proto are ports. */
bool vs_proto_has_ports(uint8_t proto)
{
	const struct proto_name *p = vs_proto(proto);

	return p && p->ports;
}

/*
 * Interface names, looked up once each per listing (in the netns we run
 * in); vs_ifname_forget() starts over, for long-running commands.
 */
#define IFNAME_CACHE	32

static struct {
	uint32_t index;
	char name[IF_NAMESIZE];
} ifname_cache[IFNAME_CACHE];
static unsigned int ifname_cached;

const char *vs_ifname(uint32_t index)
{
	unsigned int i, slot;
	char name[IF_NAMESIZE];

	if (!index)
		return "?";
	for (i = 0; i < ifname_cached && i < IFNAME_CACHE; i++)
		if (ifname_cache[i].index == index)
			return ifname_cache[i].name;
	if (!if_indextoname(index, name))
		snprintf(name, sizeof(name), "?");
	slot = ifname_cached++ % IFNAME_CACHE;
	ifname_cache[slot].index = index;
	memcpy(ifname_cache[slot].name, name, sizeof(name));
	return ifname_cache[slot].name;
}

void vs_ifname_forget(void)
{
	ifname_cached = 0;
}

struct vs_attr_tbl {
	const enum mnl_attr_data_type *types;
	unsigned int max;
	const struct nlattr **tb;
};

static int vs_attr_cb(const struct nlattr *a, void *data)
{
	const struct vs_attr_tbl *t = data;
	unsigned int type = mnl_attr_get_type(a);

	/* Attributes of a newer module, and pads, are skipped. */
	if (type > t->max || t->types[type] == MNL_TYPE_UNSPEC)
		return MNL_CB_OK;
	if (mnl_attr_validate(a, t->types[type]) < 0)
		return MNL_CB_ERROR;
	t->tb[type] = a;
	return MNL_CB_OK;
}

/*
 * Fill tb[0..max] with the attributes of @nest whose types[] is set,
 * checked against it. Returns 0, or -1 with errno EPROTO.
 */
int vs_parse_nest(const struct nlattr *nest,
		  const enum mnl_attr_data_type *types, unsigned int max,
		  const struct nlattr **tb)
{
	struct vs_attr_tbl t = { .types = types, .max = max, .tb = tb };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_attr_parse_nested(nest, vs_attr_cb, &t) < 0) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* The same for the top-level attributes of a generic netlink message. */
int vs_parse_msg(const struct nlmsghdr *nlh,
		 const enum mnl_attr_data_type *types, unsigned int max,
		 const struct nlattr **tb)
{
	struct vs_attr_tbl t = { .types = types, .max = max, .tb = tb };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_attr_parse(nlh, GENL_HDRLEN, vs_attr_cb, &t) < 0) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Room for one more element in a growing array; NULL with ENOMEM. */
void *vs_grow(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 16;
	p = reallocarray(arr, ncap, size);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	*cap = ncap;
	return p;
}
