/*
 * Client for Mode's signature-token API: create, delete, and verify (a
 * Bearer call to the reports endpoint with the token itself).  One client
 * holds one reused libcurl handle and one rate limiter, so make one per
 * credential and per thread.
 *
 * Connections: the handle keeps its connection alive between calls, so the
 * GETs and DELETEs of a client share one connection (one TLS handshake)
 * while the server keeps it open.  A create alone opens a fresh connection
 * and closes it after its answer: libcurl resends a request by itself when a
 * reused connection turns out dead, and a create sent twice would make a
 * token nobody records; a POST on a fresh connection is never resent.
 *
 * Pacing: creates and deletes draw on the credential's budget (the admin
 * key's user name).  A verify draws on the credential's budget or on the
 * token's own, as the server counts it; the client learns which from the
 * X-RateLimit headers of the verify answers (see ratelimit.h, struct
 * ratebook) and paces each budget on its own, on the shared one until the
 * headers prove otherwise or when they are missing.
 *
 * Retries: DELETE and GET are retried on 5xx, timeouts and resets with
 * capped exponential backoff and jitter; a 429 is waited out (Retry-After)
 * and retried for every method, since the server refused it unprocessed.
 * A Retry-After longer than the client waits (5 minutes) fails the call
 * with MODE_ERR_THROTTLED, and holds the budgets it drew on: until it has
 * passed, the calls that draw on them fail the same way unsent.  A POST
 * whose outcome is unknown (5xx, connection lost after sending, an
 * unreadable 200) is never retried: it returns MODE_ERR_UNKNOWN.
 *
 * The server's clock decides: every answer's Date header is compared with
 * clock_now_ms() as it arrives, and the latest comparison is kept.  With a
 * clock bound (mode_opts.max_skew_ms), create and delete are refused unsent
 * while that comparison is out of bound or unknown; GETs never are.
 */
#ifndef TW_MODE_H
#define TW_MODE_H

#include <stddef.h>
#include <stdint.h>

struct cred;
struct mode_client;

enum mode_err {
	MODE_OK = 0,
	MODE_ERR_USAGE = -1,       /* bad URL, workspace, name or time; nothing was sent */
	MODE_ERR_AUTH = -2,        /* 401 */
	MODE_ERR_NOT_FOUND = -3,   /* 404: workspace (create) or token (delete) */
	MODE_ERR_REJECTED = -4,    /* another 4xx: the server refused the request */
	MODE_ERR_THROTTLED = -5,   /* 429 past the retry budget */
	MODE_ERR_UNAVAILABLE = -6, /* 5xx or network failure past the retry budget */
	MODE_ERR_PROTOCOL = -7,    /* the answer was not what the API documents */
	MODE_ERR_UNKNOWN = -8,     /* POST sent, outcome unknown: the token may exist */
	MODE_ERR_CLOCK = -9,    /* the server's Date is out of bound or unusable: no change sent */
	MODE_ERR_STOPPED = -10, /* mode_set_stop's hook said stop while it waited: not sent */
};

struct ratelimit;

struct mode_opts {
	long timeout_ms;        /* per attempt, connection included; default 30 s */
	int retries;            /* further attempts after a failure; default 4 */
	int rate_limit;         /* requests per window; default 40 */
	int64_t rate_window_ms; /* default 10 s */
	/*
	 * Mode limits requests per user name, so the clients of one credential
	 * (one per workspace) may share one limiter: borrowed, used by one
	 * thread at a time, outliving the client.  NULL: the client's own.
	 */
	struct ratelimit *shared_rl;
	/*
	 * The clock bound, in milliseconds.  Above 0: create and delete are
	 * refused with MODE_ERR_CLOCK, unsent, while the latest answer's Date is
	 * further than this from clock_now_ms() or was missing or malformed;
	 * before its first create or delete the client reads the server's clock
	 * once (as mode_check_clock does) if no answer has shown it yet.  A
	 * Date has whole seconds, so keep it well above one.  0 or negative
	 * (the default): no check.
	 */
	int64_t max_skew_ms;
	/*
	 * The proxy to send through (borrowed; NULL: none), never used for a
	 * loopback API: see core/net.h.  The environment's proxies never are.
	 */
	const char *proxy;
};

/* What one answer said about the server's clock. */
enum mode_clock_state {
	MODE_CLOCK_NONE = 0,      /* no answer yet */
	MODE_CLOCK_KNOWN = 1,     /* its Date was read */
	MODE_CLOCK_NO_DATE = -1,  /* it had no Date header */
	MODE_CLOCK_BAD_DATE = -2, /* its Date was not an HTTP date, or it had several */
};

struct mode_clock {
	enum mode_clock_state state;
	int64_t server_ms; /* the Date, milliseconds since the epoch (MODE_CLOCK_KNOWN only) */
	int64_t local_ms;  /* clock_now_ms() when the answer arrived */
};

/* A Signature Token object as the API returns it. */
struct mode_token {
	char *token; /* the id */
	char *name;
	int64_t creator_id;
	int64_t organization_id;
	char *access_key;    /* secret memory, as half of what a consumer uses */
	char *access_secret; /* secret memory; NULL when the answer carried none (DELETE) */
	int64_t created_at;  /* milliseconds since the epoch */
	int64_t updated_at;
	int64_t expires_at;
	char *authentication_for;
	char *authorization_type;
};

/* Sets up libsodium and jansson (libcurl, when loaded); call once, before any thread starts. */
int mode_global_init(void);

/* Fills o with the defaults. */
void mode_opts_default(struct mode_opts *o);

/*
 * Makes a client for workspace at api (https://host[/prefix]; http only to a
 * loopback host), through opts->proxy when it names one.  cred may be NULL
 * for a client that only verifies; the client copies what it needs.
 * Returns NULL with *cause on bad input.
 */
struct mode_client *mode_client_new(const char *api, const char *workspace, const struct cred *cred,
				    const struct mode_opts *opts, char **cause);
/* Frees c, wiping what it held; NULL is allowed. */
void mode_client_free(struct mode_client *c);

/* Checks a Mode-side token name: 4 to 64 characters of valid UTF-8, no control characters. */
int mode_check_name(const char *name, char **cause);
/*
 * Checks an API root (label names it in messages: "--api"): https, or http to
 * a loopback host; no user name, query or fragment.  Returns it without a
 * trailing slash (the caller frees it), or NULL with *cause.
 */
char *mode_check_api(const char *label, const char *api, int *plain_http, char **cause);
/* Checks a workspace username: 1 to 128 of a-z, 0-9, '-', '_', '.'; 0, or -1 with *cause. */
int mode_check_workspace(const char *ws, char **cause);
/* Checks a signature token id: 1 to 64 of A-Z, a-z, 0-9, '-', '_'; 0, or -1 with *cause. */
int mode_check_id(const char *id, char **cause);

/*
 * Creates a token named name that expires at expires_at (milliseconds; sent
 * to the minute, rounded down).  Returns MODE_OK with *out (free with
 * mode_token_free), or an error with *cause (MODE_ERR_CLOCK: not sent).
 */
int mode_create(struct mode_client *c, const char *name, int64_t expires_at,
		struct mode_token **out, char **cause);

/*
 * Deletes token id.  Returns MODE_OK when this call deleted it (*out, if out
 * is not NULL, gets the object, or NULL when an earlier attempt's answer was
 * lost and a retry found it gone); MODE_ERR_NOT_FOUND when the first answer
 * was 404; another error with *cause (MODE_ERR_CLOCK: this attempt not sent).
 */
int mode_delete(struct mode_client *c, const char *id, struct mode_token **out, char **cause);

/*
 * Deletes token id, which this client's create just made and the caller
 * cannot keep, as mode_delete does; but sent, and awaited, even when the
 * stop hook says stop: nobody else knows the token exists.  Once stopping,
 * it makes one attempt, at once (not when a 429 holds the budget: then it
 * is not sent, MODE_ERR_STOPPED).  The clock bound does not apply to it.
 */
int mode_undo_create(struct mode_client *c, const char *id, char **cause);

/*
 * Proves a token works: GET /batch/{workspace}/reports?per_page=1 with it as
 * Bearer.  Returns MODE_OK, MODE_ERR_AUTH when refused, or another error.
 */
int mode_verify(struct mode_client *c, const char *id, const char *access_key,
		const char *access_secret, char **cause);

/* Returns the Bearer value base64(id:key:secret) in secret memory (free with xsecret_free). */
char *mode_bearer(const char *id, const char *access_key, const char *access_secret);

/* Frees t, wiping its access key and secret; NULL is allowed. */
void mode_token_free(struct mode_token *t);

/*
 * Lets stop(arg) cut short c's waits for its turn on a rate budget: checked
 * at least every quarter second while a call waits, and when it returns
 * non-zero the call fails unsent with MODE_ERR_STOPPED.  NULL: never.
 */
void mode_set_stop(struct mode_client *c, int (*stop)(void *arg), void *arg);

/* Requests sent by c so far, retries included (for tests and summaries). */
long mode_requests(const struct mode_client *c);

/* Of those, the ones answered 429 Too Many Requests (waited out or not). */
long mode_throttled(const struct mode_client *c);

/*
 * The Retry-After, in seconds, that made c's last call give up: a 429 that
 * asked for a longer wait than the client waits out (RETRY_AFTER_MAX, 5
 * minutes; an HTTP-date more than a day ahead reads as a day), or what was
 * left of such a wait when an earlier call's 429 held the call unsent.  0
 * when the last call did not end so.
 */
long mode_refused_wait(const struct mode_client *c);

/*
 * Connections c opened so far (each a TCP connect and, over https, a TLS
 * handshake): one for all its GETs and DELETEs while the server keeps it
 * alive, and one more for every create (for tests and summaries).
 */
long mode_connections(const struct mode_client *c);

/*
 * Reads the server's clock now, whatever was seen before: GET
 * /batch/{workspace}/reports?per_page=1 with no credential (answered 401,
 * with a Date; it changes nothing), retried like mode_verify.  Returns
 * MODE_OK, or MODE_ERR_CLOCK with *cause when the bound is on and the Date
 * is out of bound or unusable, or a transport error with *cause.  *skew_ms
 * (server minus local, in ms) is set whenever the answer had a usable Date.
 */
int mode_check_clock(struct mode_client *c, int64_t *skew_ms, char **cause);

/*
 * The latest answer's clock: returns 1 and sets *skew_ms (server minus
 * local, in ms) when its Date was read, 0 before any answer, -1 when it had
 * no usable Date.
 */
int mode_last_skew(const struct mode_client *c, int64_t *skew_ms);

/*
 * Judges obs against max_skew_ms (> 0): MODE_OK when its Date was read and
 * is within max_skew_ms of local_ms either way; else MODE_ERR_CLOCK with
 * *cause, which starts with what and names both times, the difference and
 * the fix.  Pure; what the client uses before create and delete.
 */
int mode_clock_judge(const struct mode_clock *obs, int64_t max_skew_ms, const char *what,
		     char **cause);

/*
 * Parses the len bytes at s as an HTTP-date (RFC 7231 section 7.1.1.1):
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", or the obsolete RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" (years 70-99 are 19xx, 00-69 20xx) and
 * asctime "Sun Nov  6 08:49:37 1994" forms, with blanks around.  Names are
 * case-sensitive and the weekday must match the date; years 1970..9999.
 * Returns 0 and sets *ms, or -1 (nothing written).
 */
int mode_http_date(const char *s, size_t len, int64_t *ms);

#endif
