/*
 * A request as the simulator's handlers see it, and the answer they build.
 * sim_http turns a reply into an MHD response; sim_api and sim_ctl only fill
 * these structs, so they never touch MHD responses themselves.
 */
#ifndef MODESIM_SIM_REPLY_H
#define MODESIM_SIM_REPLY_H

#include <jansson.h>
#include <stddef.h>

/* Request bodies larger than this are answered 413. */
#define SIM_BODY_MAX (64 * 1024)
#define SIM_REPLY_HEADERS 8
#define SIM_HEADER_VALUE 64

struct MHD_Connection;

/* How the answer reaches the client: as built, or broken by an injected fault. */
enum sim_fault {
	SIM_FAULT_NONE,
	SIM_FAULT_DROP,      /* close the connection without any answer */
	SIM_FAULT_MALFORMED, /* status as built, body cut in half (Content-Length matches) */
	SIM_FAULT_TRUNCATED, /* full Content-Length advertised, connection closed halfway */
};

/* What the Date header of an answer says. */
enum sim_date {
	SIM_DATE_CLOCK,     /* the simulated time, as an IMF-fixdate (the default) */
	SIM_DATE_OMIT,      /* no Date header at all */
	SIM_DATE_MALFORMED, /* a Date header that is not an HTTP date */
};

struct sim_request {
	const char *method;
	const char *path; /* decoded, without the query string */
	const char *body; /* not NUL-terminated; NULL when empty */
	size_t body_len;
	int too_large; /* the body passed SIM_BODY_MAX and was discarded */
	struct MHD_Connection *conn;
};

struct sim_reply {
	unsigned int status;
	json_t *body; /* owned; NULL sends an empty body */
	enum sim_fault fault;
	enum sim_date date;
	const char *note; /* a word for the log line ("dropped", "lost", ...) or NULL */
	size_t nheaders;
	struct {
		const char *name; /* a string literal */
		char value[SIM_HEADER_VALUE];
	} headers[SIM_REPLY_HEADERS];
};

/* Sets the status and body; takes ownership of body (NULL allowed), replacing any earlier one. */
void sim_reply_json(struct sim_reply *rp, unsigned int status, json_t *body);

/* Sets an error answer shaped as Mode's: {"id": id, "message": formatted}. */
void sim_reply_error(struct sim_reply *rp, unsigned int status, const char *id, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));

/* Adds a header; name must outlive the reply (a literal).  Extra headers past the limit abort. */
void sim_reply_header(struct sim_reply *rp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Releases the body; the reply can be reused after sim_reply_json. */
void sim_reply_free(struct sim_reply *rp);

/* The error id Mode-style bodies carry for a status: bad_request, not_found, ... */
const char *sim_reply_error_id(unsigned int status);

#endif
