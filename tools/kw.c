// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: keyword tables, ASA-style abbreviations, syntax errors.
 *
 * A command is parsed by handlers that each look the next word up in a
 * table of keywords. As on the ASA, keywords match case-insensitively and
 * may be abbreviated to any prefix that is unique in their table; an exact
 * match always wins. Unknown or ambiguous words get an error that names
 * them, suggests the closest keywords and points at them with a caret.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "kw.h"
#include "vpnsysopt.h"

#define KW_MAX_LEN	64

/*
 * Whether @k may come here: after "no" only what has a "no" form, in a
 * configuration file (-f) only configuration commands.
 */
static bool kw_usable(const struct vs *vs, const struct kw *k)
{
	if (vs->no && !(k->flags & KW_NO))
		return false;
	return !vs->line || !(k->flags & KW_NOFILE);
}

/*
 * The keyword @word stands for among the usable ones (@all: among all);
 * *n counts the candidates (>1: ambiguous).
 */
static const struct kw *kw_lookup(const struct vs *vs, const struct kw *tbl,
				  const char *word, bool all, int *n)
{
	const struct kw *hit = NULL, *k;
	size_t len = strlen(word);

	*n = 0;
	if (!len)
		return NULL;
	for (k = tbl; k->name; k++) {
		if (!all && !kw_usable(vs, k))
			continue;
		if (!strcasecmp(word, k->name)) {
			*n = 1;
			return k;
		}
		if (!strncasecmp(word, k->name, len)) {
			hit = k;
			(*n)++;
		}
	}
	return *n == 1 ? hit : NULL;
}

static unsigned int min3(unsigned int a, unsigned int b, unsigned int c)
{
	unsigned int m = a < b ? a : b;

	return m < c ? m : c;
}

/*
 * Edit distance (with transpositions) from @word to the closest prefix of
 * @name, so that "presrve" is close to "preserve-vpn-flows".
 */
static unsigned int kw_distance(const char *word, const char *name)
{
	unsigned int d[KW_MAX_LEN + 1][KW_MAX_LEN + 1];
	size_t m = strlen(word), n = strlen(name), i, j;
	unsigned int best = ~0U;

	if (m > KW_MAX_LEN || n > KW_MAX_LEN)
		return ~0U;
	for (i = 0; i <= m; i++)
		d[i][0] = i;
	for (j = 0; j <= n; j++)
		d[0][j] = j;
	for (i = 1; i <= m; i++) {
		for (j = 1; j <= n; j++) {
			int a = tolower((unsigned char)word[i - 1]);
			int b = tolower((unsigned char)name[j - 1]);

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
				       d[i - 1][j - 1] + (a != b));
			if (i > 1 && j > 1 &&
			    a == tolower((unsigned char)name[j - 2]) &&
			    b == tolower((unsigned char)word[i - 2]) &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	for (j = 0; j <= n; j++)
		if (d[m][j] < best)
			best = d[m][j];
	return best;
}

/* How many typos a word of @len characters may have to get suggestions. */
static unsigned int kw_tolerance(size_t len)
{
	if (len < 3)
		return 0;
	return len < 6 ? 1 : 2;
}

/* Append ", "-separated, quoted, names to @buf, "or" before the last. */
static void kw_join(char *buf, size_t sz, const char **names, int n,
		    const char *alt)
{
	size_t len = 0;
	int i, total = n + !!alt;

	buf[0] = '\0';
	for (i = 0; i < total && len < sz; i++) {
		const char *sep = !i ? "" : i == total - 1 ? " or " : ", ";

		if (i < n)
			len += snprintf(buf + len, sz - len, "%s\"%s\"",
					sep, names[i]);
		else
			len += snprintf(buf + len, sz - len, "%s%s", sep, alt);
	}
}

/* The names usable in @tbl whose distance to @word is @dist (all if ~0). */
static int kw_collect(const struct vs *vs, const struct kw *tbl,
		      const char *word, unsigned int dist, const char **names,
		      int max)
{
	const struct kw *k;
	int n = 0;

	for (k = tbl; k->name && n < max; k++) {
		if (!kw_usable(vs, k))
			continue;
		if (dist == ~0U || kw_distance(word, k->name) == dist)
			names[n++] = k->name;
	}
	return n;
}

static unsigned int kw_closest(const struct vs *vs, const struct kw *tbl,
			       const char *word)
{
	unsigned int best = ~0U, d;
	const struct kw *k;

	for (k = tbl; k->name; k++) {
		if (!kw_usable(vs, k))
			continue;
		d = kw_distance(word, k->name);
		if (d < best)
			best = d;
	}
	return best;
}

static int kw_unknown(struct vs *vs, const struct kw *tbl, char **argv,
		      const char *alt)
{
	const char *names[32];
	unsigned int best;
	char list[512];
	int n;

	best = kw_closest(vs, tbl, argv[0]);
	if (argv[0][0] && best <= kw_tolerance(strlen(argv[0]))) {
		n = kw_collect(vs, tbl, argv[0], best, names, 32);
		kw_join(list, sizeof(list), names, n, NULL);
		return kw_error(vs, argv, "unknown keyword \"%s\"; did you mean %s?",
				argv[0], list);
	}
	n = kw_collect(vs, tbl, argv[0], ~0U, names, 32);
	kw_join(list, sizeof(list), names, n, alt);
	return kw_error(vs, argv, "unknown keyword \"%s\"; expected %s",
			argv[0], list);
}

static int kw_ambiguous(struct vs *vs, const struct kw *tbl, char **argv)
{
	size_t len = strlen(argv[0]);
	const char *names[32];
	const struct kw *k;
	char list[512];
	int n = 0;

	for (k = tbl; k->name && n < 32; k++)
		if (kw_usable(vs, k) && !strncasecmp(argv[0], k->name, len))
			names[n++] = k->name;
	kw_join(list, sizeof(list), names, n, NULL);
	return kw_error(vs, argv, "ambiguous keyword \"%s\"; did you mean %s?",
			argv[0], list);
}

static int kw_missing(struct vs *vs, const struct kw *tbl, char **argv,
		      const char *alt)
{
	const char *names[32];
	char list[512];
	int n;

	n = kw_collect(vs, tbl, "", ~0U, names, 32);
	kw_join(list, sizeof(list), names, n, alt);
	return kw_error(vs, argv, "incomplete command; expected %s", list);
}

/*
 * Look argv[0] up in @tbl and run its handler on the words after it. @alt
 * describes what else than a keyword may come here (for messages), or is
 * NULL.
 */
int kw_dispatch(struct vs *vs, const struct kw *tbl, int argc, char **argv,
		const char *alt)
{
	const struct kw *k;
	int n;

	if (!argc)
		return kw_missing(vs, tbl, argv, alt);

	k = kw_lookup(vs, tbl, argv[0], false, &n);
	if (n > 1)
		return kw_ambiguous(vs, tbl, argv);
	if (!k) {
		/* Say why a keyword that exists is not valid here. */
		k = kw_lookup(vs, tbl, argv[0], true, &n);
		if (k && vs->no && !(k->flags & KW_NO))
			return kw_error(vs, argv, "\"no\" is not valid with \"%s\"",
					k->name);
		if (k && vs->line && (k->flags & KW_NOFILE))
			return kw_error(vs, argv, "\"%s\" is not allowed in a configuration file; only \"connection\", \"timeout\" and \"crypto\" commands are",
					k->name);
		return kw_unknown(vs, tbl, argv, alt);
	}
	if (!k->fn)
		return kw_dispatch(vs, k->sub, argc - 1, argv + 1, NULL);
	return k->fn(vs, argc - 1, argv + 1);
}

/* " [a | b] [c N]": the optional words of a command (KW_OPTS). */
static void kw_help_opts(FILE *f, const struct kw *tbl)
{
	const struct kw *k;

	for (k = tbl; k->name; k++) {
		fputs(k->flags & KW_ALT ? " | " : " [", f);
		fprintf(f, "%s%s%s", k->name, k->arg ? " " : "", k->arg ? k->arg : "");
		if (!k[1].name || !(k[1].flags & KW_ALT))
			fputc(']', f);
	}
}

/*
 * The commands of @tbl and of the tables below it, one a line, after
 * @path (@len characters of @size); @no: every word of @path may follow
 * "no".
 */
static void kw_help_walk(FILE *f, const struct kw *tbl, char *path,
			 size_t len, size_t size, bool no)
{
	const struct kw *k;
	size_t n;

	for (k = tbl; k->name; k++) {
		bool kno = no && (k->flags & KW_NO);

		n = len + snprintf(path + len, size - len, "%s%s",
				   len ? " " : "", k->name);
		if (n >= size)
			n = size - 1;
		if (k->flags & KW_OPTS) {
			fprintf(f, "  %s%s", kno ? "[no] " : "", path);
			kw_help_opts(f, k->sub);
			fputc('\n', f);
		} else if (k->arg) {
			fprintf(f, "  %s %s\n", path, k->arg);
			if (kno)
				fprintf(f, "  no %s\n", path);
		} else if (!k->sub || k->fn) {	/* a command, maybe a prefix too */
			fprintf(f, "  %s%s\n", kno ? "[no] " : "", path);
		}
		if (k->sub && !(k->flags & KW_OPTS))
			kw_help_walk(f, k->sub, path, n, size, kno);
		path[len] = '\0';
	}
}

/* Help: every command @tbl leads to, one a line, from the tables alone. */
void kw_help(FILE *f, const struct kw *tbl)
{
	char path[256] = "";

	kw_help_walk(f, tbl, path, 0, sizeof(path), true);
}

/* Fail unless the command ends here. */
int kw_end(struct vs *vs, int argc, char **argv)
{
	if (!argc)
		return 0;
	return kw_error(vs, argv, "unexpected \"%s\" at the end of the command",
			argv[0]);
}

/*
 * Print "vpnsysopt: <message>" ("FILE:LINE: <message>" for a line of a
 * configuration file), then the command with a caret under the word @at
 * (or past its end). Returns VS_EXIT_USAGE.
 */
int kw_error(struct vs *vs, char **at, const char *fmt, ...)
{
	int i, col = 0, pos = at - vs->argv;
	va_list ap;

	if (vs->line)
		fprintf(stderr, "%s:%u: ", vs->file_name, vs->line);
	else
		fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);

	fputs("  ", stderr);
	for (i = 0; i < vs->argc; i++) {
		if (i < pos)
			col += strlen(vs->argv[i]) + 1;
		fprintf(stderr, "%s%s", i ? " " : "", vs->argv[i]);
	}
	fprintf(stderr, "\n  %*s^\n", col, "");
	return VS_EXIT_USAGE;
}
