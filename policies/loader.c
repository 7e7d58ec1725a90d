/* Shared pieces of the policy loader; see loader.h. */
#include "policies/loader.h"

#include "core/timefmt.h"
#include "core/tz.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* No section has this many keys; checking duplicates is quadratic, so stop here. */
#define LOADER_MAX_KEYS 64

static void vreport(struct loader *ld, enum diag_level level, const struct ynode *at,
		    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
vreport(struct loader *ld, enum diag_level level, const struct ynode *at, const char *fmt,
	va_list ap)
{
	/* Formatted once: a large policy can have a message for every slot. */
	diag_add_msg(ld->d, level, at != NULL ? at->line : 0, at != NULL ? at->col : 0,
		     xvasprintf(fmt, ap));
}

void
loader_error(struct loader *ld, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, DIAG_ERROR, at, fmt, ap);
	va_end(ap);
}

void
loader_warn(struct loader *ld, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, DIAG_WARNING, at, fmt, ap);
	va_end(ap);
}

/* Returns 1 when a key's name says it would hold a secret. */
static int
secret_key(const char *k)
{
	static const char *const words[] = {"secret",     "password", "passwd",      "passphrase",
					    "access_key", "api_key",  "private_key", NULL};

	for (size_t i = 0; words[i] != NULL; i++)
		if (strstr(k, words[i]) != NULL)
			return 1;
	return 0;
}

int
loader_key_index(const struct ynode *k, const char *const *keys)
{
	if (k->type != YNODE_SCALAR)
		return -1;
	for (int i = 0; keys[i] != NULL; i++)
		if (strcmp(k->value, keys[i]) == 0)
			return i;
	return -1;
}

int
loader_check_keys(struct loader *ld, const struct ynode *m, const char *const *keys,
		  const char *where)
{
	if (m->type != YNODE_MAP) {
		loader_error(ld, m, "%s must be a mapping of keys to values, not %s", where,
			     ytree_type_name(m));
		return -1;
	}
	if (m->n / 2 > LOADER_MAX_KEYS) {
		loader_error(ld, m, "%s has %zu keys; no section takes more than %d", where,
			     m->n / 2, LOADER_MAX_KEYS);
		return 0;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->items[i];
		const char *near;

		if (k->type != YNODE_SCALAR) {
			loader_error(ld, k, "a key in %s must be a name, not %s", where,
				     ytree_type_name(k));
			continue;
		}
		for (size_t j = 0; j < i; j += 2) {
			const struct ynode *prev = m->items[j];

			if (prev->type == YNODE_SCALAR && strcmp(prev->value, k->value) == 0) {
				loader_error(ld, k, "duplicate key '%s' in %s (first at line %d)",
					     k->value, where, prev->line);
				break;
			}
		}
		if (loader_key_index(k, keys) >= 0)
			continue;
		if (secret_key(k->value)) {
			loader_error(ld, k,
				     "'%s' would put a secret in the policy file; name a "
				     "credential instead (credential: NAME, read from "
				     "$CREDENTIALS_DIRECTORY or a 0600 file)",
				     k->value);
			continue;
		}
		near = diag_suggest(k->value, keys);
		if (near != NULL)
			loader_error(ld, k, "unknown key '%s' in %s; did you mean '%s'?", k->value,
				     where, near);
		else
			loader_error(ld, k, "unknown key '%s' in %s", k->value, where);
	}
	return 0;
}

/* Checks v is a non-empty scalar. */
static int
scalar(struct loader *ld, const char *key, const struct ynode *v)
{
	if (v->type != YNODE_SCALAR) {
		loader_error(ld, v, "%s must be a single value, not %s", key, ytree_type_name(v));
		return -1;
	}
	if (v->plain &&
	    (v->value[0] == '\0' || strcmp(v->value, "~") == 0 || strcmp(v->value, "null") == 0)) {
		loader_error(ld, v, "%s has no value", key);
		return -1;
	}
	return 0;
}

int
loader_string(struct loader *ld, const char *key, const struct ynode *v, char **out)
{
	if (scalar(ld, key, v) < 0)
		return -1;
	if (v->value[0] == '\0') {
		loader_error(ld, v, "%s is empty", key);
		return -1;
	}
	free(*out);
	*out = xstrdup(v->value);
	return 0;
}

int
loader_bool(struct loader *ld, const char *key, const struct ynode *v, int *out)
{
	if (scalar(ld, key, v) < 0)
		return -1;
	if (v->plain && strcmp(v->value, "true") == 0)
		*out = 1;
	else if (v->plain && strcmp(v->value, "false") == 0)
		*out = 0;
	else {
		loader_error(ld, v, "%s must be true or false (unquoted), not '%s'", key, v->value);
		return -1;
	}
	return 0;
}

int
loader_int(struct loader *ld, const char *key, const struct ynode *v, long long min, long long max,
	   long long *out)
{
	char *end = NULL;
	long long n;

	if (scalar(ld, key, v) < 0)
		return -1;
	errno = 0;
	n = strtoll(v->value, &end, 10);
	if (errno != 0 || end == v->value || *end != '\0' || v->value[0] == '+' ||
	    v->value[0] == ' ' || n < min || n > max) {
		loader_error(ld, v, "%s must be a whole number from %lld to %lld, not '%s'", key,
			     min, max, v->value);
		return -1;
	}
	*out = n;
	return 0;
}

int
loader_duration(struct loader *ld, const char *key, const struct ynode *v, int zero_ok,
		int64_t *secs)
{
	if (scalar(ld, key, v) < 0)
		return -1;
	if (zero_ok && strcmp(v->value, "0") == 0) {
		*secs = 0;
		return 0;
	}
	if (timefmt_duration(v->value, secs) < 0) {
		loader_error(ld, v,
			     "%s: '%s' is not a duration; write a number and a unit, largest "
			     "first: 90d, 12h, 1d12h, 30m (units w, d, h, m, s)%s",
			     key, v->value, zero_ok ? ", or 0" : "");
		return -1;
	}
	return 0;
}

int
loader_name(struct loader *ld, const char *key, const struct ynode *v, char **out)
{
	size_t len;

	if (scalar(ld, key, v) < 0)
		return -1;
	len = strlen(v->value);
	if (len == 0 || len > 64 ||
	    strspn(v->value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			     "abcdefghijklmnopqrstuvwxyz"
			     "0123456789._-") != len ||
	    v->value[0] == '.') {
		loader_error(ld, v,
			     "%s '%s' must be 1 to 64 letters, digits, '.', '_' or '-', not "
			     "starting with '.'",
			     key, v->value);
		return -1;
	}
	free(*out);
	*out = xstrdup(v->value);
	return 0;
}

void
loader_duration_str(int64_t secs, char buf[32])
{
	if (secs <= 0) {
		snprintf(buf, 32, "0");
		return;
	}
	timefmt_duration_str(secs, buf);
}

static int
named_order(const void *x, const void *y)
{
	const struct loader_named *a = x, *b = y;
	int c;

	if ((a->name == NULL) != (b->name == NULL))
		return a->name == NULL ? -1 : 1;
	c = a->name != NULL ? strcmp(a->name, b->name) : 0;
	if (c != 0)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

size_t
loader_duplicates(struct loader *ld, struct loader_named *e, size_t n,
		  void (*found)(struct loader *ld, const struct loader_named *dup,
				const struct loader_named *first, void *arg),
		  void *arg)
{
	size_t dups = 0, first = 0;

	if (n > 1)
		qsort(e, n, sizeof *e, named_order);
	for (size_t i = 1; i < n; i++) {
		if (e[i].name == NULL || e[first].name == NULL ||
		    strcmp(e[i].name, e[first].name) != 0) {
			first = i;
			continue;
		}
		found(ld, &e[i], &e[first], arg);
		dups++;
	}
	return dups;
}

int
loader_tz(struct loader *ld, const char *name, struct tz **out, char **cause)
{
	struct tz *z = NULL;

	/* A policy names few zones, and most windows one of them: a list will do. */
	for (size_t i = 0; i < ld->nzones; i++) {
		if (strcmp(ld->zones[i].name, name) == 0) {
			*out = tz_ref(ld->zones[i].tz);
			return 0;
		}
	}
	if (tz_load(ld->zoneinfo, name, &z, cause) < 0)
		return -1;
	ld->zones = xrealloc(ld->zones, (ld->nzones + 1) * sizeof *ld->zones);
	ld->zones[ld->nzones].name = xstrdup(name);
	ld->zones[ld->nzones].tz = z;
	ld->nzones++;
	*out = tz_ref(z);
	return 0;
}

void
loader_done(struct loader *ld)
{
	for (size_t i = 0; i < ld->nzones; i++) {
		free(ld->zones[i].name);
		tz_free(ld->zones[i].tz);
	}
	free(ld->zones);
	ld->zones = NULL;
	ld->nzones = 0;
}
