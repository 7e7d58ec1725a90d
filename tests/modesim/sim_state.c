/* Workspaces, tokens, clock and statistics shared by the connection threads. */
#include "sim_state.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"

/* The methods counted by name; anything else is counted as "other". */
static const char *const methods[] = {"GET",   "POST", "DELETE",  "PUT",
				      "PATCH", "HEAD", "OPTIONS", "other"};
#define NMETHODS (sizeof methods / sizeof methods[0])
/* GET, POST and DELETE appear in the statistics even when zero. */
#define ALWAYS_SHOWN 3
/* The Authorization schemes counted; every one appears in the statistics. */
static const char *const schemes[] = {"none", "basic", "bearer", "other"};
#define NSCHEMES (sizeof schemes / sizeof schemes[0])

static int64_t
real_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sim_state *
sim_state_new(const struct sim_config *cfg)
{
	struct sim_state *st = xcalloc(1, sizeof *st);
	pthread_condattr_t attr;

	if (pthread_mutex_init(&st->lock, NULL) != 0 || pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&st->wake, &attr) != 0) {
		fputs("modesim: cannot initialise locks\n", stderr);
		abort();
	}
	pthread_condattr_destroy(&attr);
	st->ws = xcalloc(cfg->nws, sizeof *st->ws);
	st->nws = cfg->nws;
	for (size_t i = 0; i < cfg->nws; i++) {
		st->ws[i].name = xstrdup(cfg->ws[i].name);
		st->ws[i].key = xstrdup(cfg->ws[i].key);
		st->ws[i].secret = xsecret_strdup(cfg->ws[i].secret);
		/* Stable, distinct and recognisable ids: workspace 1 is org 1001, creator 1. */
		st->ws[i].organization_id = 1001 + (int64_t)i;
		st->ws[i].creator_id = 1 + (int64_t)i;
	}
	st->clock_offset_ms = cfg->has_now ? cfg->now_ms - real_now_ms() : 0;
	st->rng = cfg->seed;
	st->faults = cfg->faults;
	st->limit = sim_limit_new(cfg->rate_limit, cfg->rate_window);
	st->verify_admin = cfg->verify_admin;
	st->by_user = json_object();
	return st;
}

void
sim_state_token_free(struct sim_token *t)
{
	if (t == NULL)
		return;
	xsecret_free(t->access_secret);
	free(t->name);
	free(t);
}

void
sim_state_free(struct sim_state *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->ntokens; i++)
		sim_state_token_free(st->tokens[i]);
	free(st->tokens);
	for (size_t i = 0; i < st->nws; i++) {
		free(st->ws[i].name);
		free(st->ws[i].key);
		xsecret_free(st->ws[i].secret);
	}
	free(st->ws);
	sim_limit_free(st->limit);
	json_decref(st->by_user);
	json_decref(st->last_create);
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

void
sim_state_lock(struct sim_state *st)
{
	pthread_mutex_lock(&st->lock);
}

void
sim_state_unlock(struct sim_state *st)
{
	pthread_mutex_unlock(&st->lock);
}

int64_t
sim_state_now(const struct sim_state *st)
{
	return real_now_ms() + st->clock_offset_ms;
}

void
sim_state_set_now(struct sim_state *st, int64_t ms)
{
	st->clock_offset_ms = ms - real_now_ms();
}

const struct sim_workspace *
sim_state_workspace(const struct sim_state *st, const char *name)
{
	for (size_t i = 0; i < st->nws; i++) {
		if (strcmp(st->ws[i].name, name) == 0)
			return &st->ws[i];
	}
	return NULL;
}

/* Writes n random bytes as 2n hex digits and a NUL into out. */
static void
random_hex(char *out, size_t n)
{
	unsigned char bytes[SIM_ACCESS_LEN / 2];

	randombytes_buf(bytes, n);
	sodium_bin2hex(out, 2 * n + 1, bytes, n);
	sodium_memzero(bytes, sizeof bytes);
}

static int
id_taken(const struct sim_state *st, const char *id)
{
	for (size_t i = 0; i < st->ntokens; i++) {
		if (strcmp(st->tokens[i]->id, id) == 0)
			return 1;
	}
	return 0;
}

const struct sim_token *
sim_state_token_add(struct sim_state *st, const struct sim_workspace *ws, const char *name,
		    int64_t expires_at)
{
	struct sim_token *t = xcalloc(1, sizeof *t);

	t->ws = ws;
	do
		random_hex(t->id, SIM_TOKEN_ID_LEN / 2);
	while (id_taken(st, t->id));
	random_hex(t->access_key, SIM_ACCESS_LEN / 2);
	t->access_secret = xsecret_alloc(SIM_ACCESS_LEN + 1);
	random_hex(t->access_secret, SIM_ACCESS_LEN / 2);
	t->name = xstrdup(name);
	t->created_at = sim_state_now(st);
	t->updated_at = t->created_at;
	t->expires_at = expires_at;
	st->tokens = xrealloc(st->tokens, (st->ntokens + 1) * sizeof *st->tokens);
	st->tokens[st->ntokens++] = t;
	return t;
}

const struct sim_token *
sim_state_token_find(const struct sim_state *st, const struct sim_workspace *ws, const char *id)
{
	for (size_t i = 0; i < st->ntokens; i++) {
		if (st->tokens[i]->ws == ws && strcmp(st->tokens[i]->id, id) == 0)
			return st->tokens[i];
	}
	return NULL;
}

const struct sim_token *
sim_state_token_any(const struct sim_state *st, const char *id)
{
	for (size_t i = 0; i < st->ntokens; i++) {
		if (strcmp(st->tokens[i]->id, id) == 0)
			return st->tokens[i];
	}
	return NULL;
}

struct sim_token *
sim_state_token_remove(struct sim_state *st, const struct sim_token *t)
{
	for (size_t i = 0; i < st->ntokens; i++) {
		struct sim_token *found = st->tokens[i];

		if (found != t)
			continue;
		memmove(&st->tokens[i], &st->tokens[i + 1],
			(st->ntokens - i - 1) * sizeof *st->tokens);
		st->ntokens--;
		return found;
	}
	return NULL;
}

void
sim_state_count_request(struct sim_state *st, const char *method, const char *scheme)
{
	size_t i;

	for (i = 0; i < NMETHODS - 1; i++) {
		if (strcmp(methods[i], method) == 0)
			break;
	}
	st->stats.by_method[i]++;
	for (i = 0; i < NSCHEMES - 1; i++) {
		if (strcmp(schemes[i], scheme) == 0)
			break;
	}
	st->stats.by_auth[i]++;
	st->stats.requests++;
}

void
sim_state_count_status(struct sim_state *st, unsigned int status)
{
	if (status < sizeof st->stats.by_status / sizeof st->stats.by_status[0])
		st->stats.by_status[status]++;
}

void
sim_state_count_user(struct sim_state *st, const char *user)
{
	json_t *n = json_object_get(st->by_user, user);

	json_object_set_new(st->by_user, user,
			    json_integer(n == NULL ? 1 : json_integer_value(n) + 1));
}

void
sim_state_stats_clear(struct sim_state *st)
{
	memset(&st->stats, 0, sizeof st->stats);
	json_object_clear(st->by_user);
}

json_t *
sim_state_stats_json(const struct sim_state *st)
{
	const struct sim_stats *s = &st->stats;
	json_t *by_status = json_object(), *by_method = json_object(), *by_auth = json_object();

	for (unsigned int i = 0; i < sizeof s->by_status / sizeof s->by_status[0]; i++) {
		char key[8];

		if (s->by_status[i] == 0)
			continue;
		snprintf(key, sizeof key, "%u", i);
		json_object_set_new(by_status, key, json_integer(s->by_status[i]));
	}
	for (size_t i = 0; i < NMETHODS; i++) {
		if (s->by_method[i] != 0 || i < ALWAYS_SHOWN)
			json_object_set_new(by_method, methods[i], json_integer(s->by_method[i]));
	}
	for (size_t i = 0; i < NSCHEMES; i++)
		json_object_set_new(by_auth, schemes[i], json_integer(s->by_auth[i]));
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "requests",
			 (json_int_t)s->requests, "by_status", by_status, "by_method", by_method,
			 "by_auth", by_auth, "by_user", json_deep_copy(st->by_user), "creates",
			 (json_int_t)s->creates, "deletes", (json_int_t)s->deletes, "verifies",
			 (json_int_t)s->verifies, "dropped", (json_int_t)s->dropped);
}

void
sim_state_sleep(struct sim_state *st, int64_t ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(ms / 1000);
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->lock);
	while (!st->stopping) {
		if (pthread_cond_timedwait(&st->wake, &st->lock, &deadline) != 0)
			break;
	}
	pthread_mutex_unlock(&st->lock);
}

void
sim_state_stop(struct sim_state *st)
{
	pthread_mutex_lock(&st->lock);
	st->stopping = 1;
	pthread_cond_broadcast(&st->wake);
	pthread_mutex_unlock(&st->lock);
}
