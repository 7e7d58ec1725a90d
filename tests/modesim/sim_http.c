/* libmicrohttpd glue: bodies in, replies out, one log line per request. */
#include "sim_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"
#include "sim_api.h"
#include "sim_ctl.h"

/* Idle keep-alive connections are closed after this many seconds. */
#define IDLE_TIMEOUT 30u
/* "Sun, 06 Nov 1994 08:49:37 GMT" and its NUL, with room to spare. */
#define HTTP_DATE_MAX 40
/* What SIM_DATE_MALFORMED sends: a legal header value that is no HTTP date. */
#define MALFORMED_DATE "not a date"

struct sim_http {
	struct MHD_Daemon *daemon;
	struct sim_state *st;
};

/* One request's state between the access handler's calls. */
struct conn_ctx {
	char *body;
	size_t len;
	int too_large;
};

/* A response body sent in part, for the truncated fault. */
struct partial {
	char *text;
	size_t cut; /* bytes sent before the connection is broken */
};

const char *
sim_http_header(const struct sim_request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *
sim_http_arg(const struct sim_request *rq, const char *name)
{
	const char *v;

	if (MHD_lookup_connection_value_n(rq->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
					  NULL) == MHD_NO)
		return NULL;
	return v == NULL ? "" : v;
}

/* Frees a serialized body; creation answers carry an access secret, so every body is wiped. */
static void
free_text(void *cls)
{
	char *text = cls;

	sodium_memzero(text, strlen(text));
	free(text);
}

static ssize_t
read_partial(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct partial *p = cls;
	size_t n;

	if (pos >= p->cut)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = p->cut - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, p->text + pos, n);
	return (ssize_t)n;
}

static void
free_partial(void *cls)
{
	struct partial *p = cls;

	free_text(p->text);
	free(p);
}

/*
 * Writes ms (the simulated time) as an RFC 7231 IMF-fixdate, "Sun, 06 Nov
 * 1994 08:49:37 GMT", without the locale that strftime would consult.
 */
static void
http_date(int64_t ms, char buf[HTTP_DATE_MAX])
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : 0);
	struct tm tm;
	int n;

	if (gmtime_r(&secs, &tm) == NULL) {
		fputs("modesim: cannot convert the simulated time\n", stderr);
		abort();
	}
	n = snprintf(buf, HTTP_DATE_MAX, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
		     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		     tm.tm_sec);
	if (n < 0 || n >= HTTP_DATE_MAX) {
		fputs("modesim: HTTP date too long\n", stderr);
		abort();
	}
}

/*
 * Returns the MHD response for rp (whose fault is not a drop), or NULL if MHD
 * cannot make one.  now is the simulated time its Date header shows.
 */
static struct MHD_Response *
make_response(const struct sim_reply *rp, int64_t now)
{
	char date[HTTP_DATE_MAX];

	struct MHD_Response *resp;
	char *text;
	size_t len;

	text = rp->body == NULL ? NULL : json_dumps(rp->body, JSON_COMPACT);
	if (text == NULL)
		text = xstrdup("");
	len = strlen(text);
	if (rp->fault == SIM_FAULT_TRUNCATED && len > 1) {
		struct partial *p = xmalloc(sizeof *p);

		p->text = text;
		p->cut = len / 2;
		resp = MHD_create_response_from_callback(len, 4096, read_partial, p, free_partial);
		if (resp == NULL)
			free_partial(p);
	} else {
		/* A proper prefix of a JSON object is never valid JSON. */
		size_t sent = rp->fault == SIM_FAULT_MALFORMED ? len / 2 : len;

		resp = MHD_create_response_from_buffer_with_free_callback(sent, text, free_text);
		if (resp == NULL)
			free_text(text);
	}
	if (resp == NULL)
		return NULL;
	/* The daemon adds no Date of its own (MHD_USE_SUPPRESS_DATE_NO_CLOCK): this is the only
	 * one. */
	if (rp->date == SIM_DATE_CLOCK) {
		http_date(now, date);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_DATE, date);
	} else if (rp->date == SIM_DATE_MALFORMED) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_DATE, MALFORMED_DATE);
	}
	if (rp->body != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	for (size_t i = 0; i < rp->nheaders; i++)
		MHD_add_response_header(resp, rp->headers[i].name, rp->headers[i].value);
	return resp;
}

/* Logs the request: method, path and outcome; never headers or bodies. */
static void
log_request(const struct sim_request *rq, const struct sim_reply *rp)
{
	static const char *const date_notes[] = {"", " date:omit", " date:malformed"};
	const char *date =
	    rp->date < sizeof date_notes / sizeof date_notes[0] ? date_notes[rp->date] : "";

	if (rp->fault == SIM_FAULT_DROP)
		fprintf(stderr, "modesim: %s %s - %s\n", rq->method, rq->path,
			rp->note != NULL ? rp->note : "dropped");
	else if (rp->note != NULL)
		fprintf(stderr, "modesim: %s %s %u %s%s\n", rq->method, rq->path, rp->status,
			rp->note, date);
	else
		fprintf(stderr, "modesim: %s %s %u%s\n", rq->method, rq->path, rp->status, date);
}

static int
is_control(const char *path)
{
	return strcmp(path, "/_sim") == 0 || strncmp(path, "/_sim/", 6) == 0;
}

/* Collects up to SIM_BODY_MAX bytes of upload; later bytes are discarded and remembered. */
static void
collect(struct conn_ctx *c, const char *data, size_t n)
{
	if (c->too_large || n > SIM_BODY_MAX - c->len) {
		c->too_large = 1;
		return;
	}
	c->body = xrealloc(c->body, c->len + n);
	memcpy(c->body + c->len, data, n);
	c->len += n;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct sim_http *h = cls;
	struct conn_ctx *c = *con_cls;
	struct sim_request rq;
	struct sim_reply rp;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int64_t now;

	(void)version;
	if (c == NULL) {
		*con_cls = xcalloc(1, sizeof *c);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		collect(c, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	memset(&rq, 0, sizeof rq);
	memset(&rp, 0, sizeof rp);
	rq.method = method;
	rq.path = url;
	rq.body = c->body;
	rq.body_len = c->len;
	rq.too_large = c->too_large;
	rq.conn = conn;
	if (is_control(url))
		sim_ctl_handle(h->st, &rq, &rp);
	else
		sim_api_handle(h->st, &rq, &rp);
	log_request(&rq, &rp);
	if (rp.fault == SIM_FAULT_DROP) {
		sim_reply_free(&rp);
		return MHD_NO;
	}
	/* Read after the handler, and after any injected latency: the time the answer leaves. */
	sim_state_lock(h->st);
	now = sim_state_now(h->st);
	sim_state_unlock(h->st);
	resp = make_response(&rp, now);
	sim_reply_free(&rp);
	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, rp.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *c = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (c == NULL)
		return;
	free(c->body);
	free(c);
	*con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("modesim: libmicrohttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

struct sim_http *
sim_http_start(struct sim_state *st, uint16_t port, uint16_t *bound, char **cause)
{
	struct sim_http *h = xcalloc(1, sizeof *h);
	struct sockaddr_in addr;
	const union MHD_DaemonInfo *info;
	unsigned int flags;

	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->st = st;
	/* A thread per connection: an injected latency holds up only its own connection. */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	/*
	 * Every answer's Date comes from the simulated clock (make_response).
	 * A Date added to a response would already replace MHD's own, but the
	 * date fault must be able to send none at all, so MHD never adds one.
	 */
	flags |= MHD_USE_SUPPRESS_DATE_NO_CLOCK;
	/* The logger goes first so that MHD's own start-up messages use it too. */
	h->daemon = MHD_start_daemon(
	    flags, port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT, MHD_OPTION_END);
	if (h->daemon == NULL) {
		*cause = xasprintf("cannot listen on 127.0.0.1:%u", (unsigned int)port);
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0) {
		*cause = xstrdup("cannot find the port listened on");
		sim_http_stop(h);
		return NULL;
	}
	*bound = info->port;
	return h;
}

void
sim_http_stop(struct sim_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}
