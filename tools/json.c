// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: a tiny streaming JSON writer.
 *
 * Writes straight to a FILE; only keeps, per nesting level, whether a
 * separator is due. Compact by default, four-space indented when pretty
 * (as iproute2's -j -p).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <inttypes.h>

#include "json.h"

void json_init(struct json *j, FILE *f, bool pretty)
{
	j->f = f;
	j->pretty = pretty;
	j->key = false;
	j->depth = 0;
	j->nonempty = 0;
}

void json_finish(struct json *j)
{
	fputc('\n', j->f);
}

static void json_newline(struct json *j)
{
	unsigned int i;

	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (i = 0; i < j->depth; i++)
		fputs("    ", j->f);
}

/* Emit what must precede a new key or value at the current level. */
static void json_sep(struct json *j)
{
	uint64_t bit = 1ULL << j->depth;

	if (j->key) {
		j->key = false;
		return;
	}
	if (!j->depth)
		return;
	if (j->nonempty & bit)
		fputc(',', j->f);
	j->nonempty |= bit;
	json_newline(j);
}

static void json_open(struct json *j, int c)
{
	json_sep(j);
	fputc(c, j->f);
	if (j->depth < JSON_MAX_DEPTH)
		j->depth++;
	j->nonempty &= ~(1ULL << j->depth);
}

static void json_close(struct json *j, int c)
{
	bool had = j->nonempty & (1ULL << j->depth);

	if (j->depth)
		j->depth--;
	if (had)
		json_newline(j);
	fputc(c, j->f);
}

void json_obj_open(struct json *j)
{
	json_open(j, '{');
}

void json_obj_close(struct json *j)
{
	json_close(j, '}');
}

void json_arr_open(struct json *j)
{
	json_open(j, '[');
}

void json_arr_close(struct json *j)
{
	json_close(j, ']');
}

static void json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	json_sep(j);
	json_escape(j->f, key);
	fputs(j->pretty ? ": " : ":", j->f);
	j->key = true;
}

void json_str(struct json *j, const char *s)
{
	json_sep(j);
	json_escape(j->f, s);
}

void json_u64(struct json *j, uint64_t v)
{
	json_sep(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_bool(struct json *j, bool v)
{
	json_sep(j);
	fputs(v ? "true" : "false", j->f);
}
