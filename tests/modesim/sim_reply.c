/* Building replies: JSON bodies, Mode-shaped errors and extra headers. */
#include "sim_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/xalloc.h"

void
sim_reply_json(struct sim_reply *rp, unsigned int status, json_t *body)
{
	json_decref(rp->body);
	rp->status = status;
	rp->body = body;
}

void
sim_reply_error(struct sim_reply *rp, unsigned int status, const char *id, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = xmalloc(n < 0 ? 1 : (size_t)n + 1);
	msg[0] = '\0';
	if (n >= 0) {
		va_start(ap, fmt);
		vsnprintf(msg, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	sim_reply_json(rp, status, json_pack("{s:s, s:s}", "id", id, "message", msg));
	free(msg);
}

void
sim_reply_header(struct sim_reply *rp, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (rp->nheaders == SIM_REPLY_HEADERS) {
		fprintf(stderr, "modesim: too many reply headers\n");
		abort();
	}
	va_start(ap, fmt);
	n = vsnprintf(rp->headers[rp->nheaders].value, SIM_HEADER_VALUE, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= SIM_HEADER_VALUE) {
		fprintf(stderr, "modesim: header %s too long\n", name);
		abort();
	}
	rp->headers[rp->nheaders].name = name;
	rp->nheaders++;
}

void
sim_reply_free(struct sim_reply *rp)
{
	json_decref(rp->body);
	rp->body = NULL;
}

const char *
sim_reply_error_id(unsigned int status)
{
	switch (status) {
	case 400:
		return "bad_request";
	case 401:
		return "unauthorized";
	case 404:
		return "not_found";
	case 405:
		return "method_not_allowed";
	case 413:
		return "payload_too_large";
	case 422:
		return "unprocessable_entity";
	case 429:
		return "too_many_requests";
	case 500:
		return "internal_server_error";
	case 502:
		return "bad_gateway";
	case 503:
		return "service_unavailable";
	default:
		return "error";
	}
}
