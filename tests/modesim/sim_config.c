/* Start-up settings from options and the config file. */
#include "sim_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"
#include "core/xalloc.h"

/* Fields on a config line, counting one extra to notice too many. */
#define MAX_FIELDS 5

void
sim_config_init(struct sim_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->rate_limit = 40;
	cfg->rate_window = 10;
	cfg->seed = 1;
	sim_faults_clear(&cfg->faults);
}

void
sim_config_free(struct sim_config *cfg)
{
	for (size_t i = 0; i < cfg->nws; i++) {
		free(cfg->ws[i].name);
		free(cfg->ws[i].key);
		xsecret_free(cfg->ws[i].secret);
	}
	FREE_NULL(&cfg->ws);
	cfg->nws = 0;
	FREE_NULL(&cfg->port_file);
}

/* Returns whether s is non-empty printable ASCII without spaces or the characters in bad. */
static int
plain_word(const char *s, const char *bad)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isgraph((unsigned char)*s) || strchr(bad, *s) != NULL)
			return 0;
	}
	return 1;
}

int
sim_config_workspace(struct sim_config *cfg, const char *name, const char *key, const char *secret,
		     char **cause)
{
	struct sim_wsconf *w;

	for (const char *p = name; *p != '\0'; p++) {
		if (isupper((unsigned char)*p)) {
			*cause = xasprintf("workspace \"%s\": names are lower case", name);
			return -1;
		}
	}
	if (!plain_word(name, "/:?#%") || strlen(name) > 64) {
		*cause = xasprintf("workspace \"%s\": a name is 1..64 characters without "
				   "spaces, / : ? # or %%",
				   name);
		return -1;
	}
	if (!plain_word(key, ":")) {
		*cause =
		    xasprintf("workspace %s: the key must be non-empty, without spaces or :", name);
		return -1;
	}
	if (!plain_word(secret, "")) {
		*cause =
		    xasprintf("workspace %s: the secret must be non-empty, without spaces", name);
		return -1;
	}
	for (size_t i = 0; i < cfg->nws; i++) {
		if (strcmp(cfg->ws[i].name, name) == 0) {
			*cause = xasprintf("workspace %s given twice", name);
			return -1;
		}
	}
	cfg->ws = xrealloc(cfg->ws, (cfg->nws + 1) * sizeof *cfg->ws);
	w = &cfg->ws[cfg->nws++];
	w->name = xstrdup(name);
	w->key = xstrdup(key);
	w->secret = xsecret_strdup(secret);
	return 0;
}

int
sim_config_workspace_arg(struct sim_config *cfg, const char *arg, char **cause)
{
	const char *c1 = strchr(arg, ':');
	const char *c2 = c1 == NULL ? NULL : strchr(c1 + 1, ':');
	char *name = NULL, *key = NULL;
	int rc;

	if (c2 == NULL) {
		*cause = xstrdup("--workspace wants NAME:KEY:SECRET");
		return -1;
	}
	name = xstrndup(arg, (size_t)(c1 - arg));
	key = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
	rc = sim_config_workspace(cfg, name, key, c2 + 1, cause);
	free(name);
	free(key);
	return rc;
}

/* Parses a decimal integer in [min, max] that is all of s. */
static int
parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
sim_config_rate(struct sim_config *cfg, const char *arg, char **cause)
{
	const char *slash = strchr(arg, '/');
	char *count = NULL;
	int64_t n, secs;
	int rc = -1;

	if (slash == NULL)
		goto out;
	count = xstrndup(arg, (size_t)(slash - arg));
	if (parse_int(count, 1, SIM_LIMIT_MAX, &n) < 0 ||
	    parse_int(slash + 1, 1, SIM_WINDOW_MAX, &secs) < 0)
		goto out;
	cfg->rate_limit = n;
	cfg->rate_window = secs;
	rc = 0;
out:
	if (rc < 0)
		*cause = xasprintf("rate limit \"%s\": want N/SECONDS with N in 1..%d and "
				   "SECONDS in 1..%d",
				   arg, SIM_LIMIT_MAX, SIM_WINDOW_MAX);
	free(count);
	return rc;
}

int
sim_config_verify_budget(struct sim_config *cfg, const char *arg, char **cause)
{
	if (strcmp(arg, "token") == 0 || strcmp(arg, "admin") == 0) {
		cfg->verify_admin = strcmp(arg, "admin") == 0;
		return 0;
	}
	*cause = xasprintf("verify budget \"%s\": want token or admin", arg);
	return -1;
}

int
sim_config_port(struct sim_config *cfg, const char *arg, char **cause)
{
	int64_t port;

	if (parse_int(arg, 0, 65535, &port) < 0) {
		*cause = xasprintf("port \"%s\": want 0..65535", arg);
		return -1;
	}
	cfg->port = (uint16_t)port;
	return 0;
}

int
sim_config_seed(struct sim_config *cfg, const char *arg, char **cause)
{
	char *end = NULL; /* stays NULL unless a digit starts arg */
	unsigned long long v;

	errno = 0;
	v = isdigit((unsigned char)*arg) ? strtoull(arg, &end, 10) : 0;
	if (end == NULL || errno != 0 || *end != '\0') {
		*cause = xasprintf("seed \"%s\": want an unsigned integer", arg);
		return -1;
	}
	cfg->seed = (uint64_t)v;
	return 0;
}

int
sim_config_now(struct sim_config *cfg, const char *arg, char **cause)
{
	if (timefmt_parse(arg, &cfg->now_ms) < 0) {
		*cause = xasprintf("time \"%s\": want ISO 8601 such as 2024-09-01T00:00Z", arg);
		return -1;
	}
	cfg->has_now = 1;
	return 0;
}

/* Splits line at blanks into at most MAX_FIELDS words, in place; returns the count. */
static size_t
split_fields(char *line, char *fields[MAX_FIELDS])
{
	size_t n = 0;
	char *p = line;

	while (n < MAX_FIELDS) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		fields[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

/* Applies one config line; returns 0, or -1 with *cause (without the file:line prefix). */
static int
apply_line(struct sim_config *cfg, char *line, char **cause)
{
	char *f[MAX_FIELDS];
	size_t n = split_fields(line, f);

	if (n == 0 || f[0][0] == '#')
		return 0;
	if (strcmp(f[0], "workspace") == 0) {
		if (n != 4) {
			*cause = xstrdup("want: workspace NAME KEY SECRET");
			return -1;
		}
		return sim_config_workspace(cfg, f[1], f[2], f[3], cause);
	}
	if (strcmp(f[0], "rate-limit") == 0) {
		if (n != 2) {
			*cause = xstrdup("want: rate-limit N/SECONDS");
			return -1;
		}
		return sim_config_rate(cfg, f[1], cause);
	}
	if (strcmp(f[0], "verify-budget") == 0) {
		if (n != 2) {
			*cause = xstrdup("want: verify-budget token|admin");
			return -1;
		}
		return sim_config_verify_budget(cfg, f[1], cause);
	}
	*cause =
	    xasprintf("unknown setting \"%s\" (want workspace, rate-limit or verify-budget)", f[0]);
	return -1;
}

int
sim_config_file(struct sim_config *cfg, const char *path, char **cause)
{
	FILE *fp = NULL;
	char *line = NULL, *why = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc = -1;

	fp = fopen(path, "r");
	if (fp == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		len = getline(&line, &cap, fp);
		if (len < 0)
			break;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (strlen(line) != (size_t)len) {
			why = xstrdup("NUL byte in line");
		} else if (apply_line(cfg, line, &why) == 0) {
			continue;
		}
		*cause = xasprintf("%s:%zu: %s", path, lineno, why);
		goto out;
	}
	if (ferror(fp)) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	/* The lines held admin secrets. */
	if (line != NULL)
		sodium_memzero(line, cap);
	free(line);
	free(why);
	if (fp != NULL)
		fclose(fp);
	return rc;
}
