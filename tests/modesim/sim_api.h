/*
 * Mode's signature-token API as the reference documents it: create and
 * delete signature tokens with a workspace admin's Basic credentials, and
 * list reports with a signature token's Bearer credentials; with Mode's rate
 * limit and the injected faults around every request.
 */
#ifndef MODESIM_SIM_API_H
#define MODESIM_SIM_API_H

#include "sim_reply.h"
#include "sim_state.h"

/*
 * Answers one Mode API request into rp (status, body, headers, or a fault
 * such as SIM_FAULT_DROP), performing its action on st and counting it in
 * the statistics.  May sleep for an injected latency.
 */
void sim_api_handle(struct sim_state *st, const struct sim_request *rq, struct sim_reply *rp);

#endif
