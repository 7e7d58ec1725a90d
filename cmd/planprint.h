/* Printing a plan's parts, shared by `plan` and `audit report`. */
#ifndef TW_PLANPRINT_H
#define TW_PLANPRINT_H

#include "core/plan.h"

#include <jansson.h>
#include <stdio.h>

/* A time as 2026-11-25T02:00Z, or null for 0 and INT64_MAX ("never"). */
json_t *planprint_time(int64_t ms);
json_t *planprint_capacity_json(const struct plan_capacity *c);

/*
 * A JSON object printed one field at a time, and the action and finding
 * lists one entry at a time, so memory stays flat however long the plan:
 * open, then fields (more: another field follows), then close.
 */
void planprint_open(void);
/* Prints "key": v and releases v. */
void planprint_field(const char *key, json_t *v, int more);
void planprint_actions_field(const struct plan *pl, int more);
void planprint_findings_field(const struct plan *pl, int more);
void planprint_close(void);

/* Prints the actions as a table on stdout. */
void planprint_actions(const struct plan *pl);
/* Prints the findings, one per line, under a heading, on stdout. */
void planprint_findings(const struct plan *pl);
/* Prints one finding's line to out, as planprint_findings does. */
void planprint_finding(FILE *out, const struct plan_finding *f);
/* Prints the capacity verdict line when capacity is fine (a miss is a finding). */
void planprint_capacity(const struct plan_capacity *c);
/* Each slot's slack (policy_slack), as a table. */
void planprint_slack(const struct policy *p);
/*
 * Prints "slots": each slot's workspace, name and slack, as a compact JSON
 * array written straight out, as the actions and findings are.
 */
void planprint_slots_field(const struct policy *p, int more);

#endif
