/*
 * Client-side pacing for one credential, so a run never draws a 429: at most
 * `limit` requests in any `window`, measured from when each request was sent,
 * plus a safety margin for network jitter.  Pure arithmetic over times the
 * caller passes in (milliseconds, any monotonic origin), so it is tested
 * without sleeping.  Not thread-safe: one limiter per credential and worker.
 * A ratebook (below) keeps the budgets of one API client: the credential's,
 * and the tokens' own when the server's answers show it counts them apart.
 */
#ifndef TW_RATELIMIT_H
#define TW_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit {
	int limit;          /* requests allowed per window */
	int64_t window_ms;  /* the server's window */
	int64_t margin_ms;  /* added to the window to absorb latency jitter */
	int64_t *sent;      /* ring of the last `limit` send times, cap slots */
	int cap;            /* slots in the ring, grown as sends come, <= limit */
	int count;          /* entries in use, <= cap */
	int head;           /* index of the oldest entry */
	int64_t hold_until; /* no request before this (Retry-After) */
};

/* Sets up rl for limit requests per window_ms (both > 0). */
void ratelimit_init(struct ratelimit *rl, int limit, int64_t window_ms);
/* Releases rl's memory. */
void ratelimit_free(struct ratelimit *rl);

/* Returns how many milliseconds to wait at now before the next request may be sent (0: now). */
int64_t ratelimit_wait(const struct ratelimit *rl, int64_t now);
/* Records a request sent at now. */
void ratelimit_sent(struct ratelimit *rl, int64_t now);

/*
 * Folds in the server's X-RateLimit-Limit and X-RateLimit-Remaining headers
 * seen at now (-1 when absent): a lower limit is adopted, and when the server
 * reports fewer requests left than the log explains (another client shares
 * the user name), the difference is recorded as sent at now.
 */
void ratelimit_observe(struct ratelimit *rl, int64_t now, long limit, long remaining);

/* Holds every request until now + secs (a 429's Retry-After). */
void ratelimit_hold(struct ratelimit *rl, int64_t now, int64_t secs);

/* Returns how many of the sends rl remembers came after since. */
int ratelimit_since(const struct ratelimit *rl, int64_t since);

/*
 * Which budget the requests a signature token makes with itself (a verify,
 * Bearer) draw on.  Mode documents its limit per user name only, and a
 * server may count a Bearer request against the admin's key (the budget of
 * the credential that made the token) or against the token's own id: the
 * client learns which from the X-RateLimit headers of the answers.
 */
enum ratelimit_budget {
	RATELIMIT_UNKNOWN = 0, /* nothing shown yet: paced as SHARED */
	RATELIMIT_SHARED = 1,  /* drawn from the credential's budget */
	RATELIMIT_OWN = 2,     /* each token has a budget of its own */
};

/*
 * Judges one 2xx answer (surely counted) to a token's request: limit and
 * remaining are its X-RateLimit headers (-1: absent), counted how many of the
 * client's other requests the server surely counted within the window before
 * it (ratelimit_since over the log ratebook keeps).  Were the token's request
 * drawn from the credential's budget, at most limit - counted - 1 would be
 * left: more left proves a budget of its own (OWN).  Less is the credential's
 * count going down (SHARED), as are absent or inconsistent headers; with
 * nothing counted the answer proves nothing and prev stays.  Pure.
 */
enum ratelimit_budget ratelimit_judge(enum ratelimit_budget prev, long limit, long remaining,
				      int counted);

/* A token's own budget, used once the answers show tokens have one. */
struct ratelimit_token {
	char *id;
	struct ratelimit rl;
};

/*
 * The budgets one API client's requests draw on: the credential's (the
 * admin's key: creates, deletes; shared with the credential's other
 * clients), and each token's own for its verifies once the answers show that
 * the server counts them apart (RATELIMIT_OWN); until then, and whenever an
 * answer says otherwise, a verify is paced on both its token's budget and
 * the credential's.  token is the id a request authenticates as (Bearer), or
 * NULL for the credential's requests and those without a credential.  Not
 * thread-safe, as struct ratelimit.
 */
struct ratebook {
	struct ratelimit *shared;     /* the credential's budget: borrowed */
	struct ratelimit counted;     /* send times of requests the server surely counted */
	enum ratelimit_budget tokens; /* which budget a token's requests draw on */
	struct ratelimit_token *tok;  /* the tokens' own budgets in use */
	size_t ntok;
	int limit; /* for a token's budget, before its answers say more */
	int64_t window_ms;
};

/* Sets b up over shared (borrowed, outliving b), a token's budget limit per window_ms. */
void ratebook_init(struct ratebook *b, struct ratelimit *shared, int limit, int64_t window_ms);
/* Releases b's memory, not shared's. */
void ratebook_free(struct ratebook *b);

/* Returns how many milliseconds to wait at now before a request as token may be sent. */
int64_t ratebook_wait(struct ratebook *b, const char *token, int64_t now);
/*
 * Returns how many milliseconds from now a Retry-After holds a budget a
 * request as token draws on (ratebook_hold); the pacing's own waits aside.
 */
int64_t ratebook_held(struct ratebook *b, const char *token, int64_t now);
/* Records a request as token sent at now, on every budget it draws on. */
void ratebook_sent(struct ratebook *b, const char *token, int64_t now);
/*
 * Folds in the answer, at now, to a request as token sent at sent_at: its
 * status and X-RateLimit headers (-1: absent).  A token's 2xx answer is
 * judged first (ratelimit_judge), then its headers go to the budget
 * it drew on; a 2xx with headers is remembered as surely counted.
 */
void ratebook_answer(struct ratebook *b, const char *token, int64_t sent_at, int64_t now,
		     long status, long limit, long remaining);
/* Holds the budgets a request as token draws on until now + secs (Retry-After). */
void ratebook_hold(struct ratebook *b, const char *token, int64_t now, int64_t secs);

#endif
