/*
 * The control API under /_sim/: tests read the tokens the server holds, move
 * the simulated clock, set faults and the rate limit, and read statistics.
 * No authentication, no rate limit, no faults; never shows a secret.
 */
#ifndef MODESIM_SIM_CTL_H
#define MODESIM_SIM_CTL_H

#include "sim_reply.h"
#include "sim_state.h"

/* Answers one /_sim/ request into rp. */
void sim_ctl_handle(struct sim_state *st, const struct sim_request *rq, struct sim_reply *rp);

#endif
