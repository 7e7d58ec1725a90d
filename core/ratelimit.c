/* Sliding-log pacing: the (limit)th previous request bounds the next one. */
#include "core/ratelimit.h"

#include "core/xalloc.h"

#include <string.h>

static int64_t
margin_for(int64_t window_ms)
{
	int64_t m = window_ms / 20;

	return m < 100 ? 100 : m;
}

void
ratelimit_init(struct ratelimit *rl, int limit, int64_t window_ms)
{
	memset(rl, 0, sizeof *rl);
	rl->limit = limit;
	rl->window_ms = window_ms;
	rl->margin_ms = margin_for(window_ms);
	rl->sent = xcalloc((size_t)limit, sizeof *rl->sent);
}

void
ratelimit_free(struct ratelimit *rl)
{
	FREE_NULL(&rl->sent);
	rl->count = 0;
}

int64_t
ratelimit_wait(const struct ratelimit *rl, int64_t now)
{
	int64_t until = rl->hold_until;

	/* Full ring: the oldest of the last `limit` sends must leave the window first. */
	if (rl->count == rl->limit) {
		int64_t free_at = rl->sent[rl->head] + rl->window_ms + rl->margin_ms;

		if (free_at > until)
			until = free_at;
	}
	return until > now ? until - now : 0;
}

void
ratelimit_sent(struct ratelimit *rl, int64_t now)
{
	if (rl->count < rl->limit) {
		rl->sent[(rl->head + rl->count) % rl->limit] = now;
		rl->count++;
		return;
	}
	rl->sent[rl->head] = now;
	rl->head = (rl->head + 1) % rl->limit;
}

/* Keeps the newest n entries in a ring of n slots. */
static void
shrink(struct ratelimit *rl, int n)
{
	int64_t *ring = xcalloc((size_t)n, sizeof *ring);
	int keep = rl->count < n ? rl->count : n;

	for (int i = 0; i < keep; i++)
		ring[i] = rl->sent[(rl->head + rl->count - keep + i) % rl->limit];
	free(rl->sent);
	rl->sent = ring;
	rl->limit = n;
	rl->count = keep;
	rl->head = 0;
}

/* Requests sent within the window ending at now. */
static int
in_window(const struct ratelimit *rl, int64_t now)
{
	int n = 0;

	for (int i = 0; i < rl->count; i++)
		if (rl->sent[(rl->head + i) % rl->limit] > now - rl->window_ms - rl->margin_ms)
			n++;
	return n;
}

void
ratelimit_observe(struct ratelimit *rl, int64_t now, long limit, long remaining)
{
	int extra;

	if (limit > 0 && limit < rl->limit)
		shrink(rl, (int)limit);
	if (remaining < 0)
		return;
	extra =
	    rl->limit - in_window(rl, now) - (int)(remaining < rl->limit ? remaining : rl->limit);
	for (int i = 0; i < extra; i++)
		ratelimit_sent(rl, now);
}

void
ratelimit_hold(struct ratelimit *rl, int64_t now, int64_t secs)
{
	int64_t until = now + secs * 1000;

	if (until > rl->hold_until)
		rl->hold_until = until;
}
