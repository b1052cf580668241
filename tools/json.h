/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnsysopt: a tiny streaming JSON writer.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef VPNSYSOPT_JSON_H
#define VPNSYSOPT_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH	63

struct json {
	FILE *f;
	bool pretty;
	bool key;		/* a key was written, its value comes next */
	unsigned int depth;
	uint64_t nonempty;	/* bit n: the container at depth n has members */
};

void json_init(struct json *j, FILE *f, bool pretty);
void json_finish(struct json *j);

void json_obj_open(struct json *j);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j);
void json_arr_close(struct json *j);

void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s);
void json_u64(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);

static inline void json_kv_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_str(j, s);
}

static inline void json_kv_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_u64(j, v);
}

static inline void json_kv_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}

#endif /* VPNSYSOPT_JSON_H */
