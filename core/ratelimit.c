/* Sliding-log pacing: the (limit)th previous request bounds the next one. */
#include "core/ratelimit.h"

#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

/*
 * 2% of the window, 40 ms at least: room for the jitter between when a
 * request leaves and when the server counts it, which costs 2% of the
 * budget (issue 15's goal is 97% of it used, with no 429).
 */
static int64_t
margin_for(int64_t window_ms)
{
	int64_t m = window_ms / 50;

	return m < 40 ? 40 : m;
}

/*
 * A ring's first slots: it grows as sends come, up to the limit.  A budget
 * is made for each verify's own token, and a limit set high (a server that
 * says 100,000) made each a zeroed megabyte.
 */
#define RING_FIRST 16

void
ratelimit_init(struct ratelimit *rl, int limit, int64_t window_ms)
{
	memset(rl, 0, sizeof *rl);
	rl->limit = limit;
	rl->window_ms = window_ms;
	rl->margin_ms = margin_for(window_ms);
	rl->cap = limit < RING_FIRST ? limit : RING_FIRST;
	rl->sent = xcalloc((size_t)rl->cap, sizeof *rl->sent);
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

/* Keeps the newest entries, up to n of them, in a ring of cap slots, the oldest first. */
static void
reshape(struct ratelimit *rl, int n, int cap)
{
	int64_t *ring = xcalloc((size_t)cap, sizeof *ring);
	int keep = rl->count < n ? rl->count : n;

	for (int i = 0; i < keep; i++)
		ring[i] = rl->sent[(rl->head + rl->count - keep + i) % rl->cap];
	free(rl->sent);
	rl->sent = ring;
	rl->cap = cap;
	rl->count = keep;
	rl->head = 0;
}

/* The entry i places after the oldest. */
static int64_t
entry(const struct ratelimit *rl, int i)
{
	return rl->sent[(rl->head + i) % rl->cap];
}

/*
 * The entries later than t.  The ring is in time order (ratelimit_sent), so
 * they are its newest ones, found by halving: an answer is counted against
 * every send in the window, and a limit set high (100,000) kept thousands.
 */
static int
later_than(const struct ratelimit *rl, int64_t t)
{
	int lo = 0, hi = rl->count;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (entry(rl, mid) > t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return rl->count - lo;
}

void
ratelimit_sent(struct ratelimit *rl, int64_t now)
{
	/* Never before the newest: a send taken as later stays in the window longer. */
	if (rl->count > 0 && now < entry(rl, rl->count - 1))
		now = entry(rl, rl->count - 1);
	if (rl->count == rl->cap && rl->cap < rl->limit)
		reshape(rl, rl->count, rl->cap < rl->limit / 2 ? rl->cap * 2 : rl->limit);
	if (rl->count < rl->limit) {
		rl->sent[(rl->head + rl->count) % rl->cap] = now;
		rl->count++;
		return;
	}
	rl->sent[rl->head] = now;
	rl->head = (rl->head + 1) % rl->cap;
}

/* Keeps the newest n entries in a ring of n slots. */
static void
shrink(struct ratelimit *rl, int n)
{
	reshape(rl, n, n);
	rl->limit = n;
}

/* Requests sent within the window ending at now. */
static int
in_window(const struct ratelimit *rl, int64_t now)
{
	return later_than(rl, now - rl->window_ms - rl->margin_ms);
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

int
ratelimit_since(const struct ratelimit *rl, int64_t since)
{
	return later_than(rl, since);
}

enum ratelimit_budget
ratelimit_judge(enum ratelimit_budget prev, long limit, long remaining, int counted)
{
	/* No headers, or ones that add up to nothing: the safe side, one budget. */
	if (limit <= 0 || remaining < 0 || remaining >= limit)
		return RATELIMIT_SHARED;
	if (remaining > limit - counted - 1)
		return RATELIMIT_OWN;
	return counted > 0 ? RATELIMIT_SHARED : prev;
}

void
ratebook_init(struct ratebook *b, struct ratelimit *shared, int limit, int64_t window_ms)
{
	memset(b, 0, sizeof *b);
	b->shared = shared;
	b->limit = limit;
	b->window_ms = window_ms;
	ratelimit_init(&b->counted, limit, window_ms);
}

void
ratebook_free(struct ratebook *b)
{
	for (size_t i = 0; i < b->ntok; i++) {
		free(b->tok[i].id);
		ratelimit_free(&b->tok[i].rl);
	}
	FREE_NULL(&b->tok);
	b->ntok = 0;
	ratelimit_free(&b->counted);
}

/* Whether rl can hold back no request from now on: nothing in its window, no hold. */
static int
idle(const struct ratelimit *rl, int64_t now)
{
	if (rl->hold_until > now)
		return 0;
	return rl->count == 0 ||
	       rl->sent[(rl->head + rl->count - 1) % rl->cap] + rl->window_ms + rl->margin_ms <=
		   now;
}

/*
 * Returns token's own budget, made on first use; the idle ones of other
 * tokens go.  Looked for from the newest: a verify's three calls (wait,
 * sent, answer) ask for the budget made last, and a run without rate-limit
 * answers keeps every budget of the window's verifies, thousands of them.
 */
static struct ratelimit *
token_budget(struct ratebook *b, const char *token, int64_t now)
{
	size_t keep = 0;

	for (size_t j = b->ntok; j-- > 0;)
		if (strcmp(b->tok[j].id, token) == 0)
			return &b->tok[j].rl;
	for (size_t j = 0; j < b->ntok; j++) {
		if (idle(&b->tok[j].rl, now)) {
			free(b->tok[j].id);
			ratelimit_free(&b->tok[j].rl);
		} else {
			b->tok[keep++] = b->tok[j];
		}
	}
	b->ntok = keep;
	b->tok = xrealloc(b->tok, (b->ntok + 1) * sizeof *b->tok);
	b->tok[b->ntok].id = xstrdup(token);
	ratelimit_init(&b->tok[b->ntok].rl, b->limit, b->window_ms);
	return &b->tok[b->ntok++].rl;
}

/* The budgets a request as token draws on, into rl; returns how many (1 or 2). */
static int
drawn(struct ratebook *b, const char *token, int64_t now, struct ratelimit *rl[2])
{
	int n = 0;

	if (token != NULL)
		rl[n++] = token_budget(b, token, now);
	if (token == NULL || b->tokens != RATELIMIT_OWN)
		rl[n++] = b->shared;
	return n;
}

int64_t
ratebook_wait(struct ratebook *b, const char *token, int64_t now)
{
	struct ratelimit *rl[2];
	int n = drawn(b, token, now, rl);
	int64_t w = 0;

	for (int i = 0; i < n; i++) {
		int64_t wi = ratelimit_wait(rl[i], now);

		if (wi > w)
			w = wi;
	}
	return w;
}

int64_t
ratebook_held(struct ratebook *b, const char *token, int64_t now)
{
	struct ratelimit *rl[2];
	int n = drawn(b, token, now, rl);
	int64_t h = 0;

	for (int i = 0; i < n; i++)
		if (rl[i]->hold_until - now > h)
			h = rl[i]->hold_until - now;
	return h;
}

void
ratebook_sent(struct ratebook *b, const char *token, int64_t now)
{
	struct ratelimit *rl[2];
	int n = drawn(b, token, now, rl);

	for (int i = 0; i < n; i++)
		ratelimit_sent(rl[i], now);
}

void
ratebook_answer(struct ratebook *b, const char *token, int64_t sent_at, int64_t now, long status,
		long limit, long remaining)
{
	/*
	 * Only a 2xx is surely counted, so only its Remaining bounds the
	 * credential's count (a 429 is not counted, and a 5xx may be a proxy's).
	 */
	if (token != NULL && status / 100 == 2) {
		int counted = ratelimit_since(&b->counted, now - b->window_ms);

		b->tokens = ratelimit_judge(b->tokens, limit, remaining, counted);
	}
	if (token != NULL && b->tokens == RATELIMIT_OWN)
		ratelimit_observe(token_budget(b, token, now), now, limit, remaining);
	else
		ratelimit_observe(b->shared, now, limit, remaining);
	/* Counting one the server did not could take a shared budget for separate ones. */
	if (status / 100 == 2 && limit > 0 && remaining >= 0)
		ratelimit_sent(&b->counted, sent_at);
}

void
ratebook_hold(struct ratebook *b, const char *token, int64_t now, int64_t secs)
{
	struct ratelimit *rl[2];
	int n = drawn(b, token, now, rl);

	for (int i = 0; i < n; i++)
		ratelimit_hold(rl[i], now, secs);
}
