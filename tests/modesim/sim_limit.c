/* Sliding-log rate limiter keyed by user name. */
#include "sim_limit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"

struct user_log {
	char *name;
	int64_t *stamps; /* oldest first; at most limit entries */
	size_t n;
};

struct sim_limit {
	int64_t limit;
	int64_t window_ms;
	struct user_log *users;
	size_t nusers;
};

struct sim_limit *
sim_limit_new(int64_t limit, int64_t window_s)
{
	struct sim_limit *l = xcalloc(1, sizeof *l);

	l->limit = limit;
	l->window_ms = window_s * 1000;
	return l;
}

void
sim_limit_forget(struct sim_limit *l)
{
	for (size_t i = 0; i < l->nusers; i++) {
		free(l->users[i].name);
		free(l->users[i].stamps);
	}
	FREE_NULL(&l->users);
	l->nusers = 0;
}

void
sim_limit_free(struct sim_limit *l)
{
	if (l == NULL)
		return;
	sim_limit_forget(l);
	free(l);
}

void
sim_limit_set(struct sim_limit *l, int64_t limit, int64_t window_s)
{
	sim_limit_forget(l);
	l->limit = limit;
	l->window_ms = window_s * 1000;
}

int64_t
sim_limit_limit(const struct sim_limit *l)
{
	return l->limit;
}

int64_t
sim_limit_window(const struct sim_limit *l)
{
	return l->window_ms / 1000;
}

int64_t
sim_limit_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drops the stamps that left the window; removes users left with none. */
static void
prune(struct sim_limit *l, int64_t now_ms)
{
	size_t i = 0;

	/* u is a slot, refilled from the last when a user goes: not a use after free. */
	/* NOLINTBEGIN(clang-analyzer-unix.Malloc) */
	while (i < l->nusers) {
		struct user_log *u = &l->users[i];
		size_t keep = 0;

		while (keep < u->n && u->stamps[keep] <= now_ms - l->window_ms)
			keep++;
		memmove(u->stamps, u->stamps + keep, (u->n - keep) * sizeof *u->stamps);
		u->n -= keep;
		if (u->n > 0) {
			i++;
			continue;
		}
		free(u->name);
		free(u->stamps);
		l->users[i] = l->users[--l->nusers];
	}
	/* NOLINTEND(clang-analyzer-unix.Malloc) */
}

static struct user_log *
find(struct sim_limit *l, const char *user)
{
	for (size_t i = 0; i < l->nusers; i++) {
		if (strcmp(l->users[i].name, user) == 0)
			return &l->users[i];
	}
	return NULL;
}

int
sim_limit_take(struct sim_limit *l, const char *user, int64_t now_ms, int64_t *remaining,
	       int64_t *retry_after)
{
	struct user_log *u;

	prune(l, now_ms);
	u = find(l, user);
	if (u != NULL && (int64_t)u->n >= l->limit) {
		int64_t wait_ms = u->stamps[0] + l->window_ms - now_ms;

		*remaining = 0;
		*retry_after = (wait_ms + 999) / 1000;
		if (*retry_after < 1)
			*retry_after = 1;
		return -1;
	}
	if (u == NULL) {
		l->users = xrealloc(l->users, (l->nusers + 1) * sizeof *l->users);
		u = &l->users[l->nusers++];
		u->name = xstrdup(user);
		u->stamps = xmalloc((size_t)l->limit * sizeof *u->stamps);
		u->n = 0;
	}
	u->stamps[u->n++] = now_ms;
	*remaining = l->limit - (int64_t)u->n;
	return 0;
}

int64_t
sim_limit_peek(struct sim_limit *l, const char *user, int64_t now_ms)
{
	struct user_log *u;

	prune(l, now_ms);
	u = find(l, user);
	return u == NULL ? l->limit : l->limit - (int64_t)u->n;
}
