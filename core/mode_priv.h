/*
 * What core/mode.c (the requests) and core/mode_clock.c (the server's clock)
 * share; not for other modules, but for the fuzz targets, which feed answers
 * to these entry points without a network.
 */
#ifndef TW_MODE_PRIV_H
#define TW_MODE_PRIV_H

#include "core/mode.h"
#include "core/ratelimit.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

/* A growing buffer in secret memory: answers carry access secrets. */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

struct mode_client {
	CURL *curl;
	char *base; /* {api}/batch/{workspace} */
	char *workspace;
	int plain_http; /* the API is plain http (loopback only) */
	int loopback;   /* the API is on loopback, never through a proxy */
	char *basic;    /* "Authorization: Basic ..." (secret memory), NULL without a credential */
	struct mode_opts opts;
	struct ratelimit own_rl;
	struct ratelimit *rl;   /* own_rl, or the credential's shared one */
	struct ratebook book;   /* rl, and the tokens' own budgets when they have them */
	int (*stop)(void *arg); /* mode_set_stop: NULL, never */
	void *stop_arg;
	long requests;
	long throttled;    /* of requests, those answered 429 */
	long refused_wait; /* the last call's: see mode_refused_wait */
	long connections;  /* connections libcurl opened (CURLINFO_NUM_CONNECTS summed) */
	/* The attempt being read, for the budget its answer is folded into. */
	const char *att_token; /* the token it authenticated as (Bearer), else NULL */
	int64_t att_sent_ms;   /* clock_mono_ms() when it was sent */
	long att_status;       /* its HTTP status, 0 before one is known */
	/* Per attempt, filled by the callbacks. */
	struct sbuf body;
	long hdr_limit;
	long hdr_remaining;
	long retry_after;            /* seconds, -1 when not given as a number */
	int64_t retry_at_ms;         /* Retry-After as an HTTP-date, -1 when not */
	struct mode_clock hdr_clock; /* the answer being read */
	int hdr_done;                /* its header block ended */
	int too_big;
	int abortable; /* the run's stop may give it up: not a create, which may have acted */
	int64_t stop_look_ms; /* clock_mono_ms() from which progress_cb asks the stop hook again */
	char errbuf[CURL_ERROR_SIZE];
	struct mode_clock clock; /* the latest complete answer's */
};

/* One call: what it is for messages, and what it sends. */
struct call {
	const char *method; /* "POST", "DELETE" or "GET" */
	const char *what;   /* "create token 'x' in workspace acme", for messages */
	char *url;
	const char *auth; /* an Authorization header line, or NULL to send none */
	const char *body; /* POST body or NULL */
	/* The token id auth is a Bearer of (it may have a budget of its own), or NULL. */
	const char *token;
	/* Sent and awaited even when the run is stopping: it undoes what the run did. */
	int undo;
};

/* What one call ended with. */
struct answer {
	long status;
	json_t *json;    /* the parsed body, or NULL */
	int maybe_acted; /* an earlier attempt may have reached the server */
};

/*
 * Runs call with the retry rules in mode.h.  Returns MODE_OK with *a filled
 * for any final HTTP answer below 500 but 429 (a->json parsed for 2xx, best
 * effort otherwise), or an error with *cause.  With a clock bound, every
 * attempt of a create or delete passes mode_clock_gate first.
 */
int mode_perform(struct mode_client *c, const struct call *call, struct answer *a, char **cause);

/*
 * libcurl's callbacks for c's answer being read: the body (into c->body, at
 * most 1 MiB, else c->too_big and 0 to stop the transfer) and each header
 * line, "\r\n" included (Retry-After, X-RateLimit-Limit and -Remaining, Date;
 * a status line starts a new answer, an empty line ends its headers).
 * Return the bytes taken.
 */
size_t mode_body_cb(char *data, size_t size, size_t n, void *arg);
size_t mode_header_cb(char *line, size_t size, size_t n, void *arg);

#define RETRY_AFTER_MAX 300   /* seconds; a longer Retry-After fails the call */
#define RETRY_AFTER_DAY 86400 /* seconds; an HTTP-date further ahead reads as this */

/*
 * The seconds a 429 asks to wait: its Retry-After as a number of seconds;
 * or as an HTTP-date, counted from the answer's Date (else the local clock),
 * rounded up, at least 1 and at most RETRY_AFTER_DAY; else 1.
 */
long mode_retry_after(const struct mode_client *c);

/* Readies c to read an attempt's answer: empties the body, forgets the last headers. */
void mode_answer_start(struct mode_client *c);
/*
 * After an attempt's answer was read: keeps its clock when its headers ended,
 * and when authed (the server counts no user for a request without a
 * credential) folds its status and X-RateLimit headers into c->book, for the
 * budget the attempt drew on (c->att_token, c->att_sent_ms, c->att_status).
 */
void mode_answer_done(struct mode_client *c, int authed);
/* Fills a with a final answer's status and its body parsed as JSON (NULL when not JSON). */
void mode_answer_final(struct mode_client *c, long status, struct answer *a);

/*
 * What a final answer a (as mode_perform returns it with MODE_OK) to call
 * means for a create, a delete and a verify: MODE_OK with *out (create;
 * delete when out is not NULL, and *out NULL when a 404 follows an attempt
 * that may have acted), or an error with *cause.
 */
int mode_create_answer(struct mode_client *c, const struct call *call, const struct answer *a,
		       struct mode_token **out, char **cause);
int mode_delete_answer(struct mode_client *c, const struct call *call, const struct answer *a,
		       struct mode_token **out, char **cause);
int mode_verify_answer(struct mode_client *c, const struct call *call, const struct answer *a,
		       char **cause);

/*
 * Notes the header line (len bytes) of the answer being read in c->hdr_clock
 * when it is a Date; a second Date in one answer makes it unusable.
 */
void mode_clock_header(struct mode_client *c, const char *line, size_t len);

/*
 * Decides whether a create or delete may be sent now (the bound is on): reads
 * the server's clock first if no answer has shown it.  Returns MODE_OK, or an
 * error with *cause; maybe_acted says an earlier attempt of call may have
 * reached the server.
 */
int mode_clock_gate(struct mode_client *c, const struct call *call, int maybe_acted, char **cause);

#endif
