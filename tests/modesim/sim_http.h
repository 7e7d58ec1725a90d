/*
 * The HTTP side: a libmicrohttpd daemon on 127.0.0.1 with a thread per
 * connection (so an injected latency holds up only its own connection),
 * collecting request bodies, sending /_sim/ to sim_ctl and the rest to
 * sim_api, turning replies into responses and logging one line per request.
 */
#ifndef MODESIM_SIM_HTTP_H
#define MODESIM_SIM_HTTP_H

#include <stdint.h>

#include "sim_reply.h"
#include "sim_state.h"

struct sim_http;

/*
 * Starts serving st on 127.0.0.1:port (0 picks a free port).  Returns the
 * server and sets *bound to the port in use, or returns NULL with an
 * allocated message in *cause.
 */
struct sim_http *sim_http_start(struct sim_state *st, uint16_t port, uint16_t *bound, char **cause);

/* Stops serving, waiting for connection threads to finish; NULL is allowed. */
void sim_http_stop(struct sim_http *h);

/* Returns a request header (case-insensitive name), or NULL. */
const char *sim_http_header(const struct sim_request *rq, const char *name);

/* Returns a query argument, "" when given without a value, or NULL when absent. */
const char *sim_http_arg(const struct sim_request *rq, const char *name);

#endif
